"""Small Pulumi programs the component tests share."""

from __future__ import annotations

from components import settings as stack_settings
from components.function import PythonFunction, PythonFunctionArgs
from components.secure_api import Route, SecureApi
from components.settings import StackArgs
from components.user_pool import UserPool


def foundation_api(stack: StackArgs) -> tuple[SecureApi, PythonFunction]:
    """The program's UserPool + SecureApi with its two own routes (GET /health public, GET /hello protected);
    returns the api and the hello function, for tests that add routes before `deploy()`."""
    users = UserPool("api", stack.user_pool)
    health = PythonFunction("health", PythonFunctionArgs(handler="health", defaults=stack.functions))
    hello = PythonFunction("hello", PythonFunctionArgs(handler="hello", defaults=stack.functions))
    api = SecureApi("api", stack.api.with_user_pools(users.arn))
    api.add_routes([Route("GET", "/health", health, public=True), Route("GET", "/hello", hello)])
    api.users = users  # for tests that need the pool's links
    return api, hello


def load_stack() -> StackArgs:
    """The current stack's Args, as the program loads them (inside a mocked Pulumi program)."""
    return stack_settings.load()

"""Small Pulumi programs the component tests share."""

from __future__ import annotations

from components.function import PythonFunction, PythonFunctionArgs
from components.secure_api import Route, SecureApi, SecureApiArgs
from components.settings import Settings


def foundation_api(settings: Settings) -> tuple[SecureApi, PythonFunction]:
    """The program's SecureApi with its two own routes (GET /health public, GET /hello protected); returns the
    api and the hello function, for tests that add routes before `deploy()`."""
    health = PythonFunction("health", PythonFunctionArgs(handler="health", settings=settings))
    hello = PythonFunction("hello", PythonFunctionArgs(handler="hello", settings=settings))
    api = SecureApi("api", SecureApiArgs(settings=settings, routes=[
        Route("GET", "/health", health, public=True), Route("GET", "/hello", hello)]))
    return api, hello

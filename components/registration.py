"""UserRegistration: the public sign-up route, POST /register -> handlers/register_user.py.

Public on purpose (a visitor has no token yet); what keeps it safe is elsewhere: the body is validated by
API Gateway against `schemas/register.json` before Lambda runs (and again in the handler), the stage is
throttled, and the function's role can do exactly three things to the user pool (`UserPool.admin_link()`)
and one to the email outbox (`EmailSender.producer_link()`).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from .function import FunctionDefaults, PythonFunction, PythonFunctionArgs
from .link import Link
from .secure_api import Route
from .tokens import component_type, with_legacy_alias

REGISTER_PATH = "/register"
REGISTER_SCHEMA = "register"


@dataclass(frozen=True)
class UserRegistrationArgs:
    functions: FunctionDefaults
    # `UserPool.admin_link()`: USER_POOL_ID + create/set-password/delete on that pool.
    user_pool: Link
    # `EmailSender.producer_link()`: EMAIL_QUEUE_URL + sqs:SendMessage on the outbox.
    email: Link

    def __post_init__(self) -> None:
        if "USER_POOL_ID" not in self.user_pool.env:
            raise ValueError("user_pool must be the pool's admin_link() (it sets USER_POOL_ID)")
        if "EMAIL_QUEUE_URL" not in self.email.env:
            raise ValueError("email must be the outbox's producer_link() (it sets EMAIL_QUEUE_URL)")


class UserRegistration(pulumi.ComponentResource):
    function: PythonFunction

    def __init__(self, name: str, args: UserRegistrationArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(component_type("UserRegistration"), name, None, with_legacy_alias("UserRegistration", opts))
        self.function = PythonFunction(
            f"{name}-register",
            PythonFunctionArgs(
                handler="register_user",
                defaults=args.functions,
                links=[args.user_pool, args.email],
                schemas=(REGISTER_SCHEMA,),
                description=args.functions.describe(f"POST {REGISTER_PATH}: sign-up"),
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        # Data for the program to add to its API.
        self.routes = (Route("POST", REGISTER_PATH, self.function, public=True, request_schema=REGISTER_SCHEMA),)
        self.function_name = self.function.function_name
        self.register_outputs({"function_name": self.function_name, "path": REGISTER_PATH})

"""UserRegistration: the public sign-up route, POST /register -> handlers/register_user.py.

Public on purpose (a visitor has no token yet); what keeps it safe is elsewhere: the body is validated by
API Gateway against `schemas/register.json` before Lambda runs (and again in the handler), the stage is
throttled, and the function's role can do exactly three things to the user pool and one to the email outbox.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.email_sender import EmailSender
from components.function import PythonFunction, PythonFunctionArgs, Statement
from components.secure_api import Route, SecureApi
from components.settings import Settings

COGNITO_ACTIONS = ("cognito-idp:AdminCreateUser", "cognito-idp:AdminSetUserPassword", "cognito-idp:AdminDeleteUser")
REGISTER_PATH = "/register"
REGISTER_SCHEMA = "register"


def registration_statements(user_pool_arn: pulumi.Input[str], enqueue: Statement) -> list[Statement]:
    """Create the user, set the password, undo a half-done registration; queue the welcome email."""
    return [Statement(actions=list(COGNITO_ACTIONS), resources=[user_pool_arn], sid="RegisterUsers"), enqueue]


@dataclass(frozen=True)
class UserRegistrationArgs:
    settings: Settings
    api: SecureApi
    email: EmailSender


class UserRegistration(pulumi.ComponentResource):
    function: PythonFunction

    def __init__(self, name: str, args: UserRegistrationArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("app:components:UserRegistration", name, None, opts)
        api, email = args.api, args.email
        self.function = PythonFunction(
            f"{name}-register",
            PythonFunctionArgs(
                handler="register_user",
                settings=args.settings,
                environment={"USER_POOL_ID": api.user_pool_id, "EMAIL_QUEUE_URL": email.queue_url},
                statements=registration_statements(api.user_pool_arn, email.enqueue_statement()),
                schemas=(REGISTER_SCHEMA,),
                description=f"POST {REGISTER_PATH}: sign-up ({args.settings.stack})",
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        api.add_routes([Route("POST", REGISTER_PATH, self.function, public=True, request_schema=REGISTER_SCHEMA)])
        self.function_name = self.function.function_name
        self.register_outputs({"function_name": self.function_name, "path": REGISTER_PATH})

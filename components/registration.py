"""UserRegistration: two-step sign-up, both routes public (a visitor has no token yet).

    POST /register {email} ──> register ──> code (hash) in the sign-up table ──> VerifyEmail / AccountExists
    POST /register/confirm {email, code, name, password} ──> confirm ──> Cognito user ──> WelcomeEmail
                                               (with `profiles`: ──> profile row; its stream sends the welcome)

What keeps them safe: API Gateway validates each body against its model before Lambda runs (and the handlers
again), per-address and per-IP limits live in the sign-up table (hashes only, all expiring), the answer to
`/register` is the same for every address, and an account is only created from a code mailed to its address.
Each function's role has only its own grants: register may look an account up (AdminGetUser); only confirm
may create, set the password of and delete users.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from .function import FunctionDefaults, PythonFunction, PythonFunctionArgs
from .link import Link
from .secure_api import Route
from .table import KeyTable, KeyTableArgs
from .tokens import component_type, with_legacy_alias
from .user_pool import UserPool

REGISTER_PATH = "/register"
REGISTER_SCHEMA = "register"
CONFIRM_PATH = "/register/confirm"
CONFIRM_SCHEMA = "register_confirm"
SIGNUP_ENV = "SIGNUP_TABLE"
PROFILES_ENV = "PROFILES_TABLE"
# TransactWriteItems has no IAM action of its own: each item it writes needs UpdateItem.
REGISTER_TABLE_ACTIONS = ("dynamodb:UpdateItem", "dynamodb:PutItem")
CONFIRM_TABLE_ACTIONS = ("dynamodb:UpdateItem", "dynamodb:DeleteItem")
# Key prefixes each function writes (handlers/common/limits.py `rl#<route>-<scope>#...`, signup.py `code#...`).
REGISTER_LEADING_KEYS = ("rl#register-*", "code#*")
CONFIRM_LEADING_KEYS = ("rl#confirm-*", "code#*")
LOOKUP_ACTIONS = ("cognito-idp:AdminGetUser",)


@dataclass(frozen=True)
class UserRegistrationArgs:
    functions: FunctionDefaults
    # The pool itself: register gets a lookup-only admin_link, confirm the create/set-password/delete one.
    user_pool: UserPool
    # `EmailSender.producer_link()`: EMAIL_QUEUE_URL + sqs:SendMessage on the outbox.
    email: Link
    # `Profiles.creator_link()`: confirm then creates the user's profile row (PutItem, PROFILES_TABLE) instead of
    # queueing the welcome itself, and the profiles stream sends the one welcome. None: confirm queues it.
    profiles: Link | None = None
    # protect + DynamoDB deletion protection on the sign-up table (it holds only expiring hashes).
    protect: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.user_pool, UserPool):
            raise ValueError("user_pool must be the UserPool component (each function gets its own admin_link)")
        if "EMAIL_QUEUE_URL" not in self.email.env:
            raise ValueError("email must be the outbox's producer_link() (it sets EMAIL_QUEUE_URL)")
        if self.profiles is not None and set(self.profiles.env) != {PROFILES_ENV}:
            raise ValueError(f"profiles must be Profiles.creator_link() (exactly {PROFILES_ENV})")


class UserRegistration(pulumi.ComponentResource):
    function: PythonFunction
    confirm: PythonFunction
    table: KeyTable

    def __init__(self, name: str, args: UserRegistrationArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(component_type("UserRegistration"), name, None, with_legacy_alias("UserRegistration", opts))
        child = pulumi.ResourceOptions(parent=self)
        self.table = KeyTable(f"{name}-signup", KeyTableArgs(protect=args.protect, tags=args.functions.tags),
                              opts=child)
        # Logical name kept from the one-step sign-up: the function is updated in place, never replaced.
        self.function = PythonFunction(
            f"{name}-register",
            PythonFunctionArgs(
                handler="register_user",
                defaults=args.functions,
                links=[
                    args.user_pool.admin_link(sid="FindAccount", actions=LOOKUP_ACTIONS),
                    self.table.link(SIGNUP_ENV, REGISTER_TABLE_ACTIONS, sid="SignUpState",
                                    leading_keys=REGISTER_LEADING_KEYS),
                    args.email,
                ],
                schemas=(REGISTER_SCHEMA,),
                description=args.functions.describe(f"POST {REGISTER_PATH}: mails a sign-up code"),
            ),
            opts=child,
        )
        self.confirm = PythonFunction(
            f"{name}-confirm",
            PythonFunctionArgs(
                handler="register_confirm",
                defaults=args.functions,
                links=[
                    args.user_pool.admin_link(sid="CreateAccount"),
                    self.table.link(SIGNUP_ENV, CONFIRM_TABLE_ACTIONS, sid="SignUpState",
                                    leading_keys=CONFIRM_LEADING_KEYS),
                    # Either the profile row (the stream sends the welcome) or the welcome itself, never both.
                    args.profiles if args.profiles is not None else args.email,
                ],
                schemas=(CONFIRM_SCHEMA,),
                description=args.functions.describe(f"POST {CONFIRM_PATH}: creates the account from the code"),
            ),
            opts=child,
        )
        # Data for the program to add to its API.
        self.routes = (
            Route("POST", REGISTER_PATH, self.function, public=True, request_schema=REGISTER_SCHEMA),
            Route("POST", CONFIRM_PATH, self.confirm, public=True, request_schema=CONFIRM_SCHEMA),
        )
        self.function_name = self.function.function_name
        self.confirm_function_name = self.confirm.function_name
        self.signup_table = self.table.table_name
        self.register_outputs({"function_name": self.function_name, "confirm_function_name": self.confirm_function_name,
                               "signup_table": self.signup_table, "path": REGISTER_PATH})

"""POST /register/confirm: finish a sign-up with the emailed code; creates the account, then the welcome.

Body `{"email", "code", "name", "password"}`. The code proves the mailbox, so the account is created here, at
once CONFIRMED with `email_verified=true`, with the password and display name the mailbox owner chose (both
come only now: a pending sign-up holds no credential an attacker could have set). Steps: limits (per address,
per IP), spend one attempt on the code, create the user, set the permanent password, then either create the
user's profile row (PROFILES_TABLE set: the profiles stream's INSERT sends the one WelcomeEmail, and the answer
says `"welcomeEmail": "pending"`) or queue the WelcomeEmail directly (`"queued"`), then forget the code. A
failure after the user exists deletes it again (the code stays valid for a retry); if even that fails the
response says the account is incomplete. A wrong, unknown, expired or exhausted code is one and
the same 400.

The profile row is a conditional put (`attribute_not_exists(userId)`): a replay finds the row and writes
nothing, so there is never a second INSERT and never a second welcome.

Environment: USER_POOL_ID, SIGNUP_TABLE, and PROFILES_TABLE or EMAIL_QUEUE_URL.
"""

from __future__ import annotations

import os
import secrets
import time
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from handlers.common import log
from handlers.common.addresses import is_address, normalize
from handlers.common.http import HttpError, api_handler, json_body, json_response
from handlers.common.limits import consume
from handlers.common.signup import code_matches, enqueue, forget_code, limits_for, source_ip
from handlers.common.text import name_problem
from handlers.common.validation import require_valid

USER_POOL_ID = os.environ["USER_POOL_ID"]
SIGNUP_TABLE = os.environ["SIGNUP_TABLE"]
# Exactly one of the two is set (UserRegistration links either the profiles table or the email outbox).
PROFILES_TABLE = os.environ.get("PROFILES_TABLE")
EMAIL_QUEUE_URL = os.environ.get("EMAIL_QUEUE_URL")

WELCOME_TEMPLATE = "WelcomeEmail"
RETRY_AFTER_SECONDS = "5"
THROTTLING_CODES = frozenset({"TooManyRequestsException", "ThrottlingException", "RequestLimitExceeded"})
EXISTS_CODES = frozenset({"UsernameExistsException", "AliasExistsException"})

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=2, read_timeout=5)
cognito = boto3.client("cognito-idp", config=_CONFIG)
dynamodb = boto3.client("dynamodb", config=_CONFIG)
sqs = boto3.client("sqs", config=_CONFIG)


def _code(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "")


def _unavailable(what: str) -> HttpError:
    return HttpError(503, "service_unavailable", f"{what}; retry later", {"Retry-After": RETRY_AFTER_SECONDS})


def create_user(email: str, name: str) -> tuple[str, str]:
    """The confirmed user (no Cognito invitation: we send our own email); returns (username, sub)."""
    try:
        user = cognito.admin_create_user(
            UserPoolId=USER_POOL_ID,
            Username=email,
            UserAttributes=[
                {"Name": "email", "Value": email},
                # True because the caller has just typed the code we mailed to this address.
                {"Name": "email_verified", "Value": "true"},
                {"Name": "name", "Value": name},
            ],
            # Never used: replaced by the caller's password in the next step (or the user is deleted).
            TemporaryPassword=secrets.token_urlsafe(24) + "aA1!",
            MessageAction="SUPPRESS",
        )["User"]
    except ClientError as exc:
        code = _code(exc)
        if code in EXISTS_CODES:
            # Only the mailbox owner gets here (the code was right): no existence oracle.
            raise HttpError(409, "account_exists", "this address already has an account; sign in") from exc
        if code in THROTTLING_CODES:
            raise _unavailable("too many sign-ups right now, no account was created") from exc
        raise
    attributes = {a["Name"]: a["Value"] for a in user.get("Attributes", [])}
    return user["Username"], attributes.get("sub", user["Username"])


def set_password(username: str, password: str) -> None:
    try:
        cognito.admin_set_user_password(UserPoolId=USER_POOL_ID, Username=username, Password=password, Permanent=True)
    except ClientError as exc:
        code = _code(exc)
        if code == "InvalidPasswordException":
            raise HttpError(400, "invalid_password", exc.response.get("Error", {}).get("Message") or code) from exc
        if code == "InvalidParameterException":
            # Its message may quote the password: the client is told what to fix instead.
            raise HttpError(400, "invalid_password", "password contains characters that are not allowed") from exc
        if code in THROTTLING_CODES:
            raise _unavailable("too many sign-ups right now") from exc
        raise


def welcome_job(email: str, name: str, sub: str) -> dict[str, Any]:
    return {"template": WELCOME_TEMPLATE, "to": [email], "data": {"name": name, "accountId": sub}}


def request_time_ms(event: dict[str, Any]) -> int:
    stamped = (event.get("requestContext") or {}).get("requestTimeEpoch")
    return int(stamped) if stamped else int(time.time() * 1000)


def create_profile(sub: str, email: str, name: str, now_ms: int) -> bool:
    """The user's profile row, only if none exists; False when it already did (a replay: nothing written)."""
    try:
        dynamodb.put_item(
            TableName=PROFILES_TABLE,
            Item={"userId": {"S": sub}, "email": {"S": email}, "name": {"S": name},
                  "createdAt": {"N": str(now_ms)}, "updatedAt": {"N": str(now_ms)}},
            ConditionExpression="attribute_not_exists(userId)",
        )
    except ClientError as exc:
        if _code(exc) == "ConditionalCheckFailedException":
            return False
        raise
    return True


def welcome(email: str, name: str, sub: str, event: dict[str, Any]) -> tuple[str, str]:
    """(the answer's `welcomeEmail`, what to log): the profile row whose stream INSERT sends it, or the job."""
    if PROFILES_TABLE:
        created = create_profile(sub, email, name, request_time_ms(event))
        return "pending", "profile created" if created else "profile existed"
    return "queued", enqueue(sqs, EMAIL_QUEUE_URL, welcome_job(email, name, sub))


def roll_back(username: str, sub: str, failure: HttpError) -> HttpError:
    """Delete the just-created user; the returned error tells the caller which of the two outcomes happened."""
    try:
        cognito.admin_delete_user(UserPoolId=USER_POOL_ID, Username=username)
    except (ClientError, BotoCoreError) as exc:
        log.error("sign-up left incomplete: user could not be deleted", userSub=sub, error=_code(exc)
                  if isinstance(exc, ClientError) else type(exc).__name__)
        return HttpError(500, "registration_incomplete",
                         f"{failure.message}; the account was created but could not be completed or removed, "
                         "contact support")
    log.warning("sign-up rolled back", userSub=sub, reason=failure.message)
    return HttpError(failure.status, failure.code, f"{failure.message}; no account was created", failure.headers)


@api_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    body = require_valid(json_body(event), "register_confirm")
    if not is_address(body["email"]):
        raise HttpError(400, "validation_error", "email must be an email address")
    problem = name_problem(body["name"])
    if problem:
        raise HttpError(400, "validation_error", problem)
    email, name = normalize(body["email"]), body["name"]
    consume(dynamodb, SIGNUP_TABLE, limits_for("confirm", email, source_ip(event)))
    if not code_matches(dynamodb, SIGNUP_TABLE, email, body["code"]):
        raise HttpError(400, "invalid_code", "the code is wrong or has expired; request a new one")
    username, sub = create_user(email, name)
    try:
        set_password(username, body["password"])
        welcome_email, detail = welcome(email, name, sub, event)
    except HttpError as failure:
        raise roll_back(username, sub, failure) from failure
    except Exception as exc:
        detail = _code(exc) if isinstance(exc, ClientError) else type(exc).__name__
        log.error("sign-up step failed", userSub=sub, error=detail)
        raise roll_back(username, sub, HttpError(500, "registration_failed", "registration failed")) from exc
    try:
        forget_code(dynamodb, SIGNUP_TABLE, email)
    except (ClientError, BotoCoreError) as exc:
        # Harmless: a second use of the code reaches create_user, which refuses an existing account.
        log.warning("used code not deleted", error=type(exc).__name__)
    log.info("user registered", userSub=sub, welcome=detail)
    return json_response(201, {"userId": sub, "email": email, "welcomeEmail": welcome_email}, event)

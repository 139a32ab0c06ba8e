"""POST /register: create a confirmed Cognito user and queue the welcome email.

The route is public on purpose (it is the sign-up endpoint); API Gateway validates the body with
`schemas/register.json` and this handler validates it again. The three steps (create user, set the permanent
password, enqueue the WelcomeEmail job on the email outbox) succeed together or not at all: when a step after
the user's creation fails, the user is deleted and the response says so; if even that fails, the response says
the account exists but is incomplete. Nothing is left half-done silently.

Environment: USER_POOL_ID, EMAIL_QUEUE_URL.
"""

from __future__ import annotations

import json
import os
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from handlers.common import log
from handlers.common.http import HttpError, api_handler, json_body, json_response
from handlers.common.validation import require_valid

USER_POOL_ID = os.environ["USER_POOL_ID"]
EMAIL_QUEUE_URL = os.environ["EMAIL_QUEUE_URL"]

WELCOME_TEMPLATE = "WelcomeEmail"
RETRY_AFTER_SECONDS = "5"
THROTTLING_CODES = frozenset({"TooManyRequestsException", "ThrottlingException", "RequestLimitExceeded"})
EXISTS_CODES = frozenset({"UsernameExistsException", "AliasExistsException"})

# Few, short retries: API Gateway gives up after 29 s and the caller can retry on 503.
_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=2, read_timeout=5)
cognito = boto3.client("cognito-idp", config=_CONFIG)
sqs = boto3.client("sqs", config=_CONFIG)


def _code(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "")


def _message(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Message", "") or _code(exc)


def _unavailable(what: str) -> HttpError:
    return HttpError(503, "service_unavailable", f"{what}; retry later", {"Retry-After": RETRY_AFTER_SECONDS})


def create_user(email: str, name: str) -> tuple[str, str]:
    """Create the user (no invitation email: we send our own); returns (username, sub)."""
    try:
        user = cognito.admin_create_user(
            UserPoolId=USER_POOL_ID,
            Username=email,
            UserAttributes=[
                {"Name": "email", "Value": email},
                {"Name": "email_verified", "Value": "true"},
                {"Name": "name", "Value": name},
            ],
            MessageAction="SUPPRESS",
        )["User"]
    except ClientError as exc:
        code = _code(exc)
        if code in EXISTS_CODES:
            raise HttpError(409, "user_exists", "an account with this email already exists") from exc
        if code in THROTTLING_CODES:
            raise _unavailable("too many sign-ups right now, no account was created") from exc
        if code == "InvalidParameterException":
            raise HttpError(400, "invalid_parameter", _message(exc)) from exc
        raise
    attributes = {a["Name"]: a["Value"] for a in user.get("Attributes", [])}
    # With email as a username attribute Cognito's Username is the sub already; otherwise the sub is an attribute.
    return user["Username"], attributes.get("sub", user["Username"])


def set_password(username: str, password: str) -> None:
    try:
        cognito.admin_set_user_password(UserPoolId=USER_POOL_ID, Username=username, Password=password, Permanent=True)
    except ClientError as exc:
        code = _code(exc)
        if code == "InvalidPasswordException":
            raise HttpError(400, "invalid_password", _message(exc)) from exc
        if code == "InvalidParameterException":
            # e.g. a character Cognito's own password pattern refuses; its message is not echoed (it is about
            # the password), the client is told what to fix.
            raise HttpError(400, "invalid_password", "password contains characters that are not allowed") from exc
        if code in THROTTLING_CODES:
            raise _unavailable("too many sign-ups right now") from exc
        raise


def welcome_job(email: str, name: str, sub: str) -> dict[str, Any]:
    """The outbox job the email sender turns into a WelcomeEmail (accountId is the user's sub)."""
    return {"template": WELCOME_TEMPLATE, "to": [email], "data": {"name": name, "accountId": sub}}


def enqueue(job: dict[str, Any]) -> str:
    try:
        return sqs.send_message(QueueUrl=EMAIL_QUEUE_URL, MessageBody=json.dumps(job, separators=(",", ":")))[
            "MessageId"
        ]
    except (ClientError, BotoCoreError) as exc:
        log.error("could not queue the welcome email", errorType=type(exc).__name__, error=str(exc))
        raise _unavailable("the welcome email could not be queued") from exc


def roll_back(username: str, sub: str, failure: HttpError) -> HttpError:
    """Delete the just-created user; the returned error tells the caller which of the two outcomes happened."""
    try:
        cognito.admin_delete_user(UserPoolId=USER_POOL_ID, Username=username)
    except (ClientError, BotoCoreError) as exc:
        log.error("registration left incomplete: user could not be deleted", userSub=sub, error=str(exc))
        return HttpError(
            500,
            "registration_incomplete",
            f"{failure.message}; the account was created but could not be completed or removed, contact support",
        )
    log.warning("registration rolled back", userSub=sub, reason=failure.message)
    return HttpError(failure.status, failure.code, f"{failure.message}; no account was created", failure.headers)


@api_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    body = require_valid(json_body(event), "register")
    # Addresses are compared case-insensitively in practice: one account per mailbox.
    email, name = body["email"].lower(), body["name"]
    username, sub = create_user(email, name)
    try:
        set_password(username, body["password"])
        job_id = enqueue(welcome_job(email, name, sub))
    except HttpError as failure:
        raise roll_back(username, sub, failure) from failure
    except Exception as exc:
        # Only the error code of an AWS refusal: its message may quote the password the step was given.
        detail = _code(exc) if isinstance(exc, ClientError) else str(exc)
        log.error("registration step failed", userSub=sub, errorType=type(exc).__name__, error=detail)
        raise roll_back(username, sub, HttpError(500, "registration_failed", "registration failed")) from exc
    log.info("user registered", userSub=sub, emailJobId=job_id)
    return json_response(201, {"userId": sub, "email": email, "welcomeEmail": "queued"}, event)

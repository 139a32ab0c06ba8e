"""POST /register: start a sign-up by proving the mailbox. Always 202 "check your email"; no account yet.

Body `{"email"}`. For an address with no account, a one-time code is stored (hashed) and a VerifyEmail job with
that code goes to the email outbox; for an address that already has an account, an AccountExists email goes
there instead. The response, its status and the sequence of AWS calls are the same in both cases (a code is
stored either way, only the email differs), so neither the answer nor its timing tells a caller who has an
account. The account itself is created by POST /register/confirm, from the code, so nothing an anonymous
caller types here reaches a mailbox except the code email (no name is taken here: an attacker-chosen text
must not be mailed to a victim).

Per-address and per-IP limits (DynamoDB conditional counters, see `common/limits.py`) are taken before any
work: over a limit the answer is 429 and nothing is written, stored or sent; so is every invalid request.

Environment: USER_POOL_ID, EMAIL_QUEUE_URL, SIGNUP_TABLE.
"""

from __future__ import annotations

import os
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from handlers.common import log
from handlers.common.addresses import is_address, normalize
from handlers.common.http import HttpError, api_handler, json_body, json_response
from handlers.common.limits import consume
from handlers.common.signup import enqueue, limits_for, new_code, source_ip, store_code
from handlers.common.validation import require_valid

USER_POOL_ID = os.environ["USER_POOL_ID"]
EMAIL_QUEUE_URL = os.environ["EMAIL_QUEUE_URL"]
SIGNUP_TABLE = os.environ["SIGNUP_TABLE"]

VERIFY_TEMPLATE = "VerifyEmail"
EXISTS_TEMPLATE = "AccountExists"
ACCEPTED = {"status": "CHECK_EMAIL", "message": "if this address can be used, a message is on its way to it"}

# Few, short retries: API Gateway gives up after 29 s and the caller can retry on 503.
_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=2, read_timeout=5)
cognito = boto3.client("cognito-idp", config=_CONFIG)
dynamodb = boto3.client("dynamodb", config=_CONFIG)
sqs = boto3.client("sqs", config=_CONFIG)


def has_account(email: str) -> bool:
    try:
        cognito.admin_get_user(UserPoolId=USER_POOL_ID, Username=email)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "UserNotFoundException":
            return False
        raise
    return True


def email_job(email: str, exists: bool, code: str) -> dict[str, Any]:
    if exists:
        return {"template": EXISTS_TEMPLATE, "to": [email], "data": {}}
    return {"template": VERIFY_TEMPLATE, "to": [email], "data": {"code": code}}


@api_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    body = require_valid(json_body(event), "register")
    if not is_address(body["email"]):
        raise HttpError(400, "validation_error", "email must be an email address")
    email = normalize(body["email"])
    consume(dynamodb, SIGNUP_TABLE, limits_for("register", email, source_ip(event)))
    exists = has_account(email)
    # Stored for an existing account too (it is never mailed, so it can never be used): the same calls either way.
    code = new_code()
    store_code(dynamodb, SIGNUP_TABLE, email, code)
    job_id = enqueue(sqs, EMAIL_QUEUE_URL, email_job(email, exists, code))
    log.info("sign-up started", emailJobId=job_id)
    return json_response(202, ACCEPTED, event)

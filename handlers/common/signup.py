"""Sign-up pieces shared by POST /register and POST /register/confirm: one-time codes, limits, the outbox.

A code is 6 digits from `secrets`, stored only as a hash next to its attempt counter under a key derived from
the (normalised) address, in the sign-up table with a TTL. A new code replaces the previous one. Checking a
code spends one attempt first (a conditional update, so parallel guesses cannot share an attempt); after
MAX_ATTEMPTS or CODE_TTL_SECONDS the code is dead whatever is typed. Unknown address, wrong code, expired or
exhausted code: all look the same to the caller.

Used by register_user and register_confirm, which read SIGNUP_TABLE, EMAIL_QUEUE_URL and USER_POOL_ID.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from handlers.common import log
from handlers.common.http import HttpError
from handlers.common.limits import KEY_ATTRIBUTE, TTL_ATTRIBUTE, Limit, hashed

CODE_DIGITS = 6
CODE_TTL_SECONDS = 15 * 60
MAX_ATTEMPTS = 5
RETRY_AFTER_SECONDS = "5"

# (limit, window) per route and per key. An address gets few codes (each is an email to a mailbox that may not
# be the caller's); an IP a few more (shared NATs); confirmation allows retyping a code, not enumerating it.
REGISTER_PER_ADDRESS = (3, 3600)
REGISTER_PER_IP = (20, 3600)
CONFIRM_PER_ADDRESS = (10, 3600)
CONFIRM_PER_IP = (30, 3600)


def source_ip(event: dict[str, Any]) -> str:
    """The client address API Gateway saw (never X-Forwarded-For, which the client writes)."""
    return str((((event or {}).get("requestContext") or {}).get("identity") or {}).get("sourceIp") or "unknown")


def limits_for(route: str, email: str, ip: str) -> list[Limit]:
    per_address, per_ip = (REGISTER_PER_ADDRESS, REGISTER_PER_IP) if route == "register" else (
        CONFIRM_PER_ADDRESS, CONFIRM_PER_IP)
    return [Limit(f"{route}-address", email, *per_address), Limit(f"{route}-ip", ip, *per_ip)]


def _code_key(email: str) -> str:
    return f"code#{hashed(email)}"


def _digest(email: str, code: str) -> str:
    return hashlib.sha256(f"{_code_key(email)}\n{code}".encode()).hexdigest()


def new_code() -> str:
    return f"{secrets.randbelow(10 ** CODE_DIGITS):0{CODE_DIGITS}d}"


def store_code(client: Any, table: str, email: str, code: str, clock: Callable[[], float] | None = None) -> None:
    client.put_item(
        TableName=table,
        Item={
            KEY_ATTRIBUTE: {"S": _code_key(email)},
            "codeHash": {"S": _digest(email, code)},
            "attempts": {"N": "0"},
            TTL_ATTRIBUTE: {"N": str(int((clock or time.time)()) + CODE_TTL_SECONDS)},
        },
    )


def code_matches(client: Any, table: str, email: str, code: str, clock: Callable[[], float] | None = None) -> bool:
    """Spend one attempt on the stored code and compare; False for any reason the code cannot be used."""
    try:
        item = client.update_item(
            TableName=table,
            Key={KEY_ATTRIBUTE: {"S": _code_key(email)}},
            UpdateExpression="ADD attempts :one",
            ConditionExpression="attribute_exists(codeHash) AND attempts < :max AND #ttl > :now",
            ExpressionAttributeNames={"#ttl": TTL_ATTRIBUTE},
            ExpressionAttributeValues={":one": {"N": "1"}, ":max": {"N": str(MAX_ATTEMPTS)},
                                       ":now": {"N": str(int((clock or time.time)()))}},
            ReturnValues="ALL_NEW",
        )["Attributes"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return False
        raise
    return hmac.compare_digest(item["codeHash"]["S"], _digest(email, code))


def forget_code(client: Any, table: str, email: str) -> None:
    client.delete_item(TableName=table, Key={KEY_ATTRIBUTE: {"S": _code_key(email)}})


def enqueue(sqs: Any, queue_url: str, job: dict[str, Any]) -> str:
    """Put one email job on the outbox; 503 (and a log line without the job's data) when it cannot."""
    try:
        return sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(job, separators=(",", ":")))["MessageId"]
    except (ClientError, BotoCoreError) as exc:
        log.error("could not queue an email", template=job.get("template"), errorType=type(exc).__name__)
        raise HttpError(503, "service_unavailable", "the email could not be queued; retry later",
                        {"Retry-After": RETRY_AFTER_SECONDS}) from exc


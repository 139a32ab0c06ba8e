"""DynamoDB stream consumer of `profiles`: one WelcomeEmail job on the email outbox per new profile.

The event source mapping filters to INSERT records, bisects a failing batch, retries a finite number of times
and sends what still fails to an on-failure queue; this function reports partial batch failures
(`batchItemFailures` with each failed record's sequence number) through the one batch loop of every consumer
(`handlers.common.batch`). Records are independent (one new user each) and idempotent, so one bad record does
not hold the others back: they are welcomed in this invocation, and when Lambda retries from the lowest failed
sequence number the ones already welcomed are acknowledged as duplicates.

Exactly once per profile, across stream redeliveries: the profile is first claimed (`welcomeQueued =
"pending"`, a conditional update), then the job is enqueued, then the marker becomes the job's message id. A
record whose profile is already marked is acknowledged without a second job. Claiming *before* sending means a
profile that cannot be marked (a row at DynamoDB's item size limit written outside the API, a missing grant)
fails before any email, and its record ends on the on-failure queue: retries never repeat its email. Only a
crash between the enqueue and the final mark repeats the email (at least once, never lost) — the same trade the
orders processor makes. A profile without an email address gets no job (and no marker: there is nothing to
send); a profile deleted before its record is read gets none either.

Environment: PROFILES_TABLE, EMAIL_QUEUE_URL.
"""

from __future__ import annotations

import json
import os
from typing import Any

import boto3
from botocore.exceptions import ClientError

from handlers.common import log
from handlers.common.batch import dynamodb_sequence, process_batch

PROFILES_TABLE = os.environ["PROFILES_TABLE"]
EMAIL_QUEUE_URL = os.environ["EMAIL_QUEUE_URL"]
TEMPLATE = "WelcomeEmail"
PENDING = "pending"
TIME_GUARD_MS = 3_000

dynamodb = boto3.client("dynamodb")
sqs = boto3.client("sqs")


def _text(image: dict[str, Any], name: str) -> str | None:
    value = (image.get(name) or {}).get("S")
    return value if isinstance(value, str) and value else None


def claim(user_id: str) -> str:
    """"claimed" when this record may send the welcome (never sent, or claimed by a delivery that did not finish),
    "duplicate" when it was sent already, "gone" when the profile no longer exists."""
    try:
        dynamodb.update_item(
            TableName=PROFILES_TABLE,
            Key={"userId": {"S": user_id}},
            UpdateExpression="SET welcomeQueued = :pending",
            ConditionExpression="attribute_exists(userId) AND "
                                "(attribute_not_exists(welcomeQueued) OR welcomeQueued = :pending)",
            ExpressionAttributeValues={":pending": {"S": PENDING}},
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return "duplicate" if exc.response.get("Item") else "gone"
        raise
    return "claimed"


def mark_sent(user_id: str, message_id: str) -> None:
    try:
        dynamodb.update_item(
            TableName=PROFILES_TABLE,
            Key={"userId": {"S": user_id}},
            UpdateExpression="SET welcomeQueued = :m",
            ConditionExpression="welcomeQueued = :pending",
            ExpressionAttributeValues={":m": {"S": message_id}, ":pending": {"S": PENDING}},
        )
    except ClientError as exc:
        # Deleted meanwhile: the job is queued, nothing is left to mark.
        if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
            raise


def welcome(record: dict[str, Any]) -> str:
    if record.get("eventName") != "INSERT":
        return "ignored"
    image = (record.get("dynamodb") or {}).get("NewImage") or {}
    user_id, email = _text(image, "userId"), _text(image, "email")
    if user_id is None:
        raise ValueError("INSERT record without userId")
    if email is None:
        return "no_address"
    claimed = claim(user_id)
    if claimed != "claimed":
        return claimed
    job = {"template": TEMPLATE, "to": [email], "data": {"name": _text(image, "name") or "there", "accountId": user_id}}
    message_id = sqs.send_message(QueueUrl=EMAIL_QUEUE_URL, MessageBody=json.dumps(job, separators=(",", ":")))[
        "MessageId"]
    mark_sent(user_id, message_id)
    return "queued"


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    def handle(record: dict[str, Any]) -> bool:
        log.info("profile record", outcome=welcome(record))
        return True

    return process_batch(event.get("Records") or [], handle, context=context, guard_ms=TIME_GUARD_MS,
                         item_id=dynamodb_sequence, log_fields=lambda r: {"eventId": r.get("eventID")})

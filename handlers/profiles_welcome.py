"""DynamoDB stream consumer of `profiles`: one WelcomeEmail job on the email outbox per new profile.

The event source mapping filters to INSERT records, bisects a failing batch, retries a finite number of times
and sends what still fails to an on-failure queue; this function reports partial batch failures
(`batchItemFailures` with each failed record's sequence number) through the one batch loop of every consumer
(`handlers.common.batch`). Records are independent (one new user each) and idempotent, so one bad record does
not hold the others back: they are welcomed in this invocation, and when Lambda retries from the lowest failed
sequence number the ones already welcomed are acknowledged as duplicates.

Exactly once per profile, across stream redeliveries: the job is enqueued, then the profile is marked
(`welcomeQueued`, a conditional update that only succeeds once); a record whose profile already carries the
marker is acknowledged without a second job. Only a crash between the enqueue and the mark repeats the email
(at least once, never lost) — the same trade the orders processor makes. A profile without an email address
gets no job (and no marker: there is nothing to send).

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
TIME_GUARD_MS = 3_000

dynamodb = boto3.client("dynamodb")
sqs = boto3.client("sqs")


def _text(image: dict[str, Any], name: str) -> str | None:
    value = (image.get(name) or {}).get("S")
    return value if isinstance(value, str) and value else None


def already_welcomed(user_id: str) -> bool:
    item = dynamodb.get_item(TableName=PROFILES_TABLE, Key={"userId": {"S": user_id}}, ConsistentRead=True,
                             ProjectionExpression="welcomeQueued").get("Item") or {}
    return "welcomeQueued" in item


def mark_welcomed(user_id: str, message_id: str) -> bool:
    try:
        dynamodb.update_item(
            TableName=PROFILES_TABLE,
            Key={"userId": {"S": user_id}},
            UpdateExpression="SET welcomeQueued = :m",
            ConditionExpression="attribute_exists(userId) AND attribute_not_exists(welcomeQueued)",
            ExpressionAttributeValues={":m": {"S": message_id}},
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return False
        raise
    return True


def welcome(record: dict[str, Any]) -> str:
    if record.get("eventName") != "INSERT":
        return "ignored"
    image = (record.get("dynamodb") or {}).get("NewImage") or {}
    user_id, email = _text(image, "userId"), _text(image, "email")
    if user_id is None:
        raise ValueError("INSERT record without userId")
    if email is None:
        return "no_address"
    if already_welcomed(user_id):
        return "duplicate"
    job = {"template": TEMPLATE, "to": [email], "data": {"name": _text(image, "name") or "there", "accountId": user_id}}
    message_id = sqs.send_message(QueueUrl=EMAIL_QUEUE_URL, MessageBody=json.dumps(job, separators=(",", ":")))[
        "MessageId"]
    return "queued" if mark_welcomed(user_id, message_id) else "queued_race"


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    def handle(record: dict[str, Any]) -> bool:
        log.info("profile record", outcome=welcome(record))
        return True

    return process_batch(event.get("Records") or [], handle, context=context, guard_ms=TIME_GUARD_MS,
                         item_id=dynamodb_sequence, log_fields=lambda r: {"eventId": r.get("eventID")})

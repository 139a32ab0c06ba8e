"""Hourly cleanup (EventBridge schedule): PENDING orders past their `expiresAt` become EXPIRED.

It *queries* the `status-expiresAt` index (partition PENDING, sort key below now), which holds pending orders
only (leaving PENDING removes `expiresAt`), a page at a time, instead of scanning the table. Each order is
expired with a conditional update (still PENDING, still past expiry), so an order Validate picked up meanwhile
is left alone and a second run changes nothing. It stops starting work when less than TIME_GUARD_MS of the
invocation is left and reports `complete: false`; the next run continues where the index says.

Environment: ORDERS_TABLE, PAGE_SIZE.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from typing import Any

import boto3
from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from handlers.common import log
from handlers.common.order_state import EXPIRED, PENDING, STATUS_INDEX, iso

ORDERS_TABLE = os.environ["ORDERS_TABLE"]
PAGE_SIZE = int(os.environ.get("PAGE_SIZE", "100"))
TIME_GUARD_MS = 5_000

table = boto3.resource("dynamodb").Table(ORDERS_TABLE)


def expire(order_id: str, now: int) -> bool:
    at = iso(datetime.fromtimestamp(now, UTC))
    try:
        table.update_item(
            Key={"orderId": order_id},
            UpdateExpression="SET #status = :expired, history = list_append(history, :h), updatedAt = :at "
                             "REMOVE expiresAt",
            ConditionExpression="#status = :pending AND expiresAt < :now",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={":expired": EXPIRED, ":pending": PENDING, ":now": now, ":at": at,
                                       ":h": [{"status": EXPIRED, "at": at}]},
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return False
        raise
    return True


def _time_left(context: Any) -> bool:
    return context is None or context.get_remaining_time_in_millis() >= TIME_GUARD_MS


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    now = int(time.time())
    expired = skipped = pages = 0
    start_key: dict[str, Any] | None = None
    complete = False
    while _time_left(context):
        params: dict[str, Any] = {
            "IndexName": STATUS_INDEX,
            "KeyConditionExpression": Key("status").eq(PENDING) & Key("expiresAt").lt(now),
            "Limit": PAGE_SIZE,
        }
        if start_key:
            params["ExclusiveStartKey"] = start_key
        page = table.query(**params)
        pages += 1
        for item in page.get("Items", []):
            if not _time_left(context):
                break
            if expire(item["orderId"], now):
                expired += 1
            else:
                skipped += 1
        else:
            start_key = page.get("LastEvaluatedKey")
            if not start_key:
                complete = True
                break
            continue
        break
    log.info("cleanup run", expired=expired, skipped=skipped, pages=pages, complete=complete)
    return {"expired": expired, "skipped": skipped, "pages": pages, "complete": complete}

"""GET /orders/{orderId}: the caller's own order from the `orders` table — status, history and, once
CONFIRMED, the receipt.

An order recorded for another customer and an unknown id answer the same 404: nothing tells them apart. The
order is visible from the moment the orders queue consumer records it (PENDING); between the 202 of POST /orders
and that (normally well under a second) it is still a 404 that says so.

The role may GetItem on the table and GetObject under `receipts/`. Internal bookkeeping (reservation and charge
records, expiry/TTL attributes) is not returned.

Environment: ORDERS_TABLE, RECEIPTS_BUCKET.
"""

from __future__ import annotations

import json
import os
from decimal import Decimal
from typing import Any

import boto3
from botocore.exceptions import ClientError

from handlers.common import log
from handlers.common.http import HttpError, api_handler, json_response
from handlers.common.order_state import CONFIRMED, requested_order

ORDERS_TABLE = os.environ["ORDERS_TABLE"]
RECEIPTS_BUCKET = os.environ["RECEIPTS_BUCKET"]
NOT_FOUND = "order not found (a just-submitted order appears within seconds)"
PUBLIC = ("orderId", "status", "history", "currency", "items", "total", "submittedAt", "updatedAt", "failureReason")

table = boto3.resource("dynamodb").Table(ORDERS_TABLE)
s3 = boto3.client("s3")


def _plain(value: Any) -> Any:
    """DynamoDB numbers come back as Decimal: integers stay integers in the JSON."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else str(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


@api_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    caller, order_id = requested_order(event, NOT_FOUND)
    item = table.get_item(Key={"orderId": order_id}).get("Item")
    if item is None or item.get("customerId") != caller.sub:
        raise HttpError(404, "not_found", NOT_FOUND)
    body = {k: _plain(item[k]) for k in PUBLIC if k in item}
    if item.get("status") == CONFIRMED and item.get("receiptKey"):
        try:
            stored = s3.get_object(Bucket=RECEIPTS_BUCKET, Key=str(item["receiptKey"]))
            body["receipt"] = json.loads(stored["Body"].read())
        except ClientError as exc:
            # The order is confirmed either way; the receipt shows up on the next poll.
            log.warning("receipt unavailable", orderId=order_id, code=exc.response.get("Error", {}).get("Code"))
    log.info("order read", orderId=order_id, status=item.get("status"))
    return json_response(200, body, event)

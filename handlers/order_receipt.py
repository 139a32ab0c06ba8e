"""Order workflow, step Receipt: the charged order's receipt in S3 (`receipts/<sub>/<orderId>.json` and `.txt`).

Runs between Charge and Confirm; Confirm (a direct DynamoDB update in the state machine) then moves
CHARGED -> CONFIRMED and stores the receipt key. Objects are created only if absent (S3 `If-None-Match: *`), so a
retried step writes nothing twice. The role may only put objects under `receipts/` and read the order.

Environment: ORDERS_TABLE, RECEIPTS_BUCKET.
"""

from __future__ import annotations

import json
import os
from typing import Any

import boto3
from botocore.exceptions import ClientError

from handlers.common import log
from handlers.common.http import is_transient
from handlers.common.order_state import CHARGED, OrderStateConflict, TransientError, get_order, step_input

ORDERS_TABLE = os.environ["ORDERS_TABLE"]
RECEIPTS_BUCKET = os.environ["RECEIPTS_BUCKET"]

table = boto3.resource("dynamodb").Table(ORDERS_TABLE)
s3 = boto3.client("s3")


def receipt_key(sub: str, order_id: str, extension: str = "json") -> str:
    return f"receipts/{sub}/{order_id}.{extension}"


def _printable(text: Any) -> str:
    """Customer-typed text on one line: a name with a newline cannot forge a line of the receipt."""
    return "".join(ch if ch.isprintable() else " " for ch in str(text))


def build_receipt(order: dict[str, Any]) -> dict[str, Any]:
    return {
        "orderId": order["orderId"],
        "customerId": order["customerId"],
        "currency": order["currency"],
        "items": order["items"],
        "total": str(order["total"]),
        "submittedAt": order.get("submittedAt"),
        "chargeId": (order.get("charge") or {}).get("id"),
    }


def text_receipt(receipt: dict[str, Any]) -> str:
    lines = [f"Order ID: {receipt['orderId']}", f"Date: {receipt['submittedAt']}", "Items:"]
    for item in receipt["items"]:
        lines.append(f"  {item['qty']} x {_printable(item['name'])} ({_printable(item['sku'])}) @ {item['unitPrice']}")
    lines.append(f"Total: {receipt['total']} {receipt['currency']}")
    return "\n".join(lines) + "\n"


def _create(key: str, body: str, content_type: str) -> None:
    try:
        s3.put_object(Bucket=RECEIPTS_BUCKET, Key=key, Body=body.encode(), ContentType=content_type, IfNoneMatch="*")
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "PreconditionFailed":
            return  # written by an earlier attempt of this step
        if is_transient(exc):
            raise TransientError(str(exc)) from exc
        raise


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    order_id = step_input(event)
    order = get_order(table, order_id)
    if order.get("status") != CHARGED:
        raise OrderStateConflict(f"order {order_id} is {order.get('status')}, not {CHARGED}")
    receipt = build_receipt(order)
    key = receipt_key(order["customerId"], order_id)
    _create(key, json.dumps(receipt, separators=(",", ":"), default=str), "application/json")
    _create(receipt_key(order["customerId"], order_id, "txt"), text_receipt(receipt), "text/plain; charset=utf-8")
    log.info("receipt written", orderId=order_id, key=key)
    return {"receiptKey": key}

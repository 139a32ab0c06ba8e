"""Order workflow, compensation (the Catch path): make sure a failed order is FAILED and undo what it did.

The state machine's MarkFailed state (a direct DynamoDB update) records FAILED with the error first; this step
then, idempotently:
1. records FAILED itself if the order is still in progress (MarkFailed could not write);
2. releases the reservation and refunds the charge of a FAILED order, each exactly once (a conditional update
   on `reservation.released = false` / `charge.refunded = false`), appending RELEASED / REFUNDED to the history.
A CONFIRMED or EXPIRED order is never touched: nothing of it needs undoing.

Environment: ORDERS_TABLE.
"""

from __future__ import annotations

import os
from typing import Any

import boto3
from botocore.exceptions import ClientError

from handlers.common import log
from handlers.common.http import is_transient
from handlers.common.order_state import (
    FAILED,
    IN_PROGRESS,
    OrderStateConflict,
    TransientError,
    advance,
    get_order,
    now_iso,
    step_input,
)

ORDERS_TABLE = os.environ["ORDERS_TABLE"]

table = boto3.resource("dynamodb").Table(ORDERS_TABLE)
UNDO = (("reservation", "released", "RELEASED"), ("charge", "refunded", "REFUNDED"))


def _reason(event: dict[str, Any]) -> str:
    error = event.get("error") if isinstance(event.get("error"), dict) else {}
    return str(error.get("Error") or "Unknown")[:256]


def _undo(order_id: str, record: str, flag: str, label: str) -> bool:
    """Flip `record.flag` false -> true once; False when there is nothing (left) to undo."""
    at = now_iso()
    try:
        table.update_item(
            Key={"orderId": order_id},
            UpdateExpression="SET #r.#f = :true, history = list_append(history, :h), updatedAt = :at",
            ConditionExpression="#status = :failed AND #r.#f = :false",
            ExpressionAttributeNames={"#r": record, "#f": flag, "#status": "status"},
            ExpressionAttributeValues={":true": True, ":false": False, ":failed": FAILED, ":at": at,
                                       ":h": [{"status": label, "at": at}]},
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return False
        if is_transient(exc):
            raise TransientError(str(exc)) from exc
        raise
    return True


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    order_id = step_input(event)
    order = get_order(table, order_id)
    status = order.get("status")
    if status in IN_PROGRESS:
        try:
            advance(table, order_id, status, FAILED, set_fields={"failureReason": _reason(event)})
        except OrderStateConflict:
            pass  # moved meanwhile; re-read below
        order = get_order(table, order_id)
        status = order.get("status")
    undone = [label for record, flag, label in UNDO if status == FAILED and order.get(record) and
              _undo(order_id, record, flag, label)]
    log.info("order compensated", orderId=order_id, status=status, undone=undone)
    return {"status": status, "undone": undone}

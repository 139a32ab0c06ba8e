"""Orders queue consumer: record the order as PENDING and start its workflow execution, named by the order id.

Per record (the event source mapping reports batch item failures):
1. put the order in the `orders` table as PENDING, only if absent (a redelivery finds it and goes on);
2. StartExecution of the order state machine with `name = orderId`. Step Functions keeps a Standard execution's
   name for 90 days, so a redelivered message (or a second message for the same order id) cannot start a
   second workflow: `ExecutionAlreadyExists` means it was started, and the record is acknowledged.
The execution input is derived from the message alone (no clock), so a redelivery sends the identical input.
`expiresAt` (submittedAt + PENDING_TIMEOUT_SECONDS) is when the hourly cleanup may expire a PENDING order whose
workflow never got going; `ttlEpoch` is when DynamoDB deletes the record (ORDER_RETENTION_DAYS later).

A record that fails (malformed body, AWS error) is returned in `batchItemFailures`: SQS redelivers it, then
moves it to the DLQ. On a FIFO queue the first failure stops the batch so later orders keep their order.

Environment: ORDERS_TABLE, STATE_MACHINE_ARN, PENDING_TIMEOUT_SECONDS, ORDER_RETENTION_DAYS.
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from typing import Any

import boto3
from botocore.exceptions import ClientError

from handlers.common import log
from handlers.common.batch import out_of_time
from handlers.common.order_message import parse_order
from handlers.common.order_state import PENDING, iso

ORDERS_TABLE = os.environ["ORDERS_TABLE"]
STATE_MACHINE_ARN = os.environ["STATE_MACHINE_ARN"]
PENDING_TIMEOUT_SECONDS = int(os.environ["PENDING_TIMEOUT_SECONDS"])
ORDER_RETENTION_DAYS = int(os.environ["ORDER_RETENTION_DAYS"])
TIME_GUARD_MS = 5_000

table = boto3.resource("dynamodb").Table(ORDERS_TABLE)
sfn = boto3.client("stepfunctions")


def order_item(order: dict[str, Any]) -> dict[str, Any]:
    """The PENDING record; every time in it comes from the message, so a redelivery builds the same item."""
    moment = datetime.fromisoformat(order["submittedAt"])
    submitted = int(moment.timestamp())
    return {
        "orderId": order["orderId"],
        "customerId": order["customer"]["sub"],
        "status": PENDING,
        "history": [{"status": PENDING, "at": iso(moment)}],
        "currency": order["currency"],
        "items": [{k: item[k] for k in ("sku", "name", "qty", "unitPrice")} for item in order["items"]],
        "total": order["total"],
        "submittedAt": order["submittedAt"],
        "updatedAt": order["submittedAt"],
        "expiresAt": submitted + PENDING_TIMEOUT_SECONDS,
        "ttlEpoch": submitted + ORDER_RETENTION_DAYS * 86_400,
    }


def execution_input(order: dict[str, Any]) -> dict[str, Any]:
    """What the state machine needs besides the table: who to tell, and what to tell them."""
    customer = order["customer"]
    return {"orderId": order["orderId"], "email": customer.get("email"), "name": customer.get("name") or "customer",
            "total": order["total"], "currency": order["currency"]}


def record(order: dict[str, Any]) -> bool:
    """True when the PENDING record was created now, False when it already existed."""
    try:
        table.put_item(Item=order_item(order), ConditionExpression="attribute_not_exists(orderId)")
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return False
        raise
    return True


def start(order: dict[str, Any]) -> bool:
    """True when this call started the execution, False when one with this name already exists."""
    try:
        sfn.start_execution(stateMachineArn=STATE_MACHINE_ARN, name=order["orderId"],
                            input=json.dumps(execution_input(order), separators=(",", ":"), sort_keys=True))
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ExecutionAlreadyExists":
            return False
        raise
    return True


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    failures: list[dict[str, str]] = []
    stop = False
    for index, rec in enumerate(event.get("Records") or []):
        message_id = rec.get("messageId", "")
        if not stop and out_of_time(context, index, TIME_GUARD_MS):
            log.warning("not enough time left, the rest of the batch is left for a retry", messageId=message_id)
            stop = True
        if stop:
            failures.append({"itemIdentifier": message_id})
            continue
        token = log.bind(messageId=message_id, awsRequestId=getattr(context, "aws_request_id", None))
        try:
            order = parse_order(rec.get("body"))
            created = record(order)
            started = start(order)
            log.info("order workflow", orderId=order["orderId"], recorded=created, started=started)
        except Exception as exc:  # noqa: BLE001 - one bad record must not fail (or lose) the others
            log.error("order not started", errorType=type(exc).__name__, error=str(exc),
                      receiveCount=(rec.get("attributes") or {}).get("ApproximateReceiveCount"))
            failures.append({"itemIdentifier": message_id})
            stop = str(rec.get("eventSourceARN", "")).endswith(".fifo")
        finally:
            log.reset(token)
    return {"batchItemFailures": failures}

"""Orders queue consumer: one receipt per order in S3 and one OrderConfirmation job on the email outbox.

Per record (the event source mapping reports batch item failures):
1. create `receipts/<sub>/<orderId>.json` only if absent (S3 `If-None-Match: *`), with `"confirmation": "PENDING"`;
   if it exists (a redelivery, a retried submit, a concurrent duplicate) read the stored one instead;
2. create the text receipt `receipts/<sub>/<orderId>.txt` only if absent;
3. unless the stored receipt says `QUEUED`, put the OrderConfirmation job on the outbox;
4. rewrite the JSON receipt with `"confirmation": "QUEUED"`.
Only conditional creates, a read of an object known to exist and plain puts are used, so the role needs
nothing but s3:PutObject/s3:GetObject on `receipts/*` (without s3:ListBucket a read of a missing key is a 403,
which could not be told from a real denial). A crash between 3 and 4 repeats the email on redelivery: at least
once, never lost. Every other redelivery is acknowledged with no second receipt and no second email.

A record that fails (malformed body, AWS error) is returned in `batchItemFailures`; SQS redelivers it and after
the queue's maxReceiveCount moves it to the DLQ. Successful records are never retried. On a FIFO queue the
first failure stops the batch: the rest is reported as failed so a customer's orders keep their order. When the
invocation is about to run out of time, the records not started yet are reported as failed too (retried).

Environment: RECEIPTS_BUCKET, EMAIL_QUEUE_URL.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.exceptions import ClientError

from handlers.common import log, metrics
from handlers.common.addresses import is_address
from handlers.common.batch import process_batch, sqs_message_id
from handlers.common.order_message import parse_order

RECEIPTS_BUCKET = os.environ["RECEIPTS_BUCKET"]
EMAIL_QUEUE_URL = os.environ["EMAIL_QUEUE_URL"]
RECEIPTS_PREFIX = "receipts/"
TEMPLATE = "OrderConfirmation"
# Stop starting orders when less than this is left: a timeout would return the whole batch to the queue (every
# message's receive count spent, the done ones included), while records reported here are simply retried.
TIME_GUARD_MS = 5_000

s3 = boto3.client("s3")
sqs = boto3.client("sqs")


def receipt_key(sub: str, order_id: str, extension: str = "json") -> str:
    return f"{RECEIPTS_PREFIX}{sub}/{order_id}.{extension}"


def build_receipt(order: dict[str, Any]) -> dict[str, Any]:
    return {
        "orderId": order["orderId"],
        "status": "PROCESSED",
        "customerId": order["customer"]["sub"],
        "currency": order["currency"],
        "items": order["items"],
        "total": order["total"],
        "priority": order.get("priority", "standard"),
        "submittedAt": order.get("submittedAt"),
        "processedAt": datetime.now(UTC).isoformat(timespec="milliseconds"),
        # The shared grammar: a job the sender would refuse forever is never queued (no false "QUEUED").
        "confirmation": "PENDING" if is_address(order["customer"].get("email")) else "NO_ADDRESS",
        "fingerprint": order.get("fingerprint"),
    }


def _printable(text: str) -> str:
    """Customer-typed text on one line: a name with a newline cannot forge a line of the receipt."""
    return "".join(ch if ch.isprintable() else " " for ch in text)


def text_receipt(receipt: dict[str, Any]) -> str:
    lines = [f"Order ID: {receipt['orderId']}", f"Date: {receipt['submittedAt']}", "Items:"]
    for item in receipt["items"]:
        lines.append(f"  {item['qty']} x {_printable(item['name'])} ({_printable(item['sku'])})"
                     f" @ {item['unitPrice']} = {item['lineTotal']}")
    lines.append(f"Total: {receipt['total']} {receipt['currency']}")
    return "\n".join(lines) + "\n"


def _put(key: str, body: str, content_type: str, *, only_if_absent: bool) -> bool:
    """True when written; False when `only_if_absent` and the key already exists."""
    extra = {"IfNoneMatch": "*"} if only_if_absent else {}
    try:
        s3.put_object(Bucket=RECEIPTS_BUCKET, Key=key, Body=body.encode(), ContentType=content_type, **extra)
    except ClientError as exc:
        if only_if_absent and exc.response.get("Error", {}).get("Code") == "PreconditionFailed":
            return False
        raise
    return True


def _put_receipt(receipt: dict[str, Any], *, only_if_absent: bool) -> bool:
    key = receipt_key(receipt["customerId"], receipt["orderId"])
    return _put(key, json.dumps(receipt, separators=(",", ":")), "application/json", only_if_absent=only_if_absent)


def _stored_receipt(order: dict[str, Any]) -> dict[str, Any]:
    body = s3.get_object(Bucket=RECEIPTS_BUCKET, Key=receipt_key(order["customer"]["sub"], order["orderId"]))["Body"]
    return json.loads(body.read())


def enqueue_confirmation(receipt: dict[str, Any], customer: dict[str, Any]) -> str:
    """The OrderConfirmation job for the stored receipt (the first order under its id), to the customer."""
    job = {
        "template": TEMPLATE,
        "to": [customer["email"]],
        "data": {
            "orderId": receipt["orderId"],
            "total": receipt["total"],
            "currency": receipt["currency"],
            "name": customer.get("name") or "customer",
        },
    }
    params: dict[str, Any] = {"QueueUrl": EMAIL_QUEUE_URL, "MessageBody": json.dumps(job, separators=(",", ":"))}
    if EMAIL_QUEUE_URL.endswith(".fifo"):
        params |= {"MessageGroupId": receipt["orderId"], "MessageDeduplicationId": f"{TEMPLATE}-{receipt['orderId']}"}
    return sqs.send_message(**params)["MessageId"]


def process_order(order: dict[str, Any]) -> str:
    """Make the receipts and the confirmation exist exactly once for this order; returns what was done."""
    receipt = build_receipt(order)
    created = _put_receipt(receipt, only_if_absent=True)
    if not created:
        receipt = _stored_receipt(order)
        if receipt.get("fingerprint") != order.get("fingerprint"):
            log.warning("order id seen with different items (reused Idempotency-Key); first order kept",
                        orderId=order["orderId"])
        if receipt["confirmation"] == "QUEUED":
            return "duplicate"
    _put(receipt_key(receipt["customerId"], receipt["orderId"], "txt"), text_receipt(receipt),
         "text/plain; charset=utf-8", only_if_absent=True)
    if receipt["confirmation"] == "PENDING":
        enqueue_confirmation(receipt, order["customer"])
        _put_receipt({**receipt, "confirmation": "QUEUED"}, only_if_absent=False)
    return "created" if created else "completed"


def handle(record: dict[str, Any]) -> bool:
    try:
        order = parse_order(record.get("body"))
        outcome = process_order(order)
    except Exception as exc:  # noqa: BLE001 - reported for a retry, with what the DLQ investigation needs
        log.error("order failed", errorType=type(exc).__name__, error=str(exc),
                  receiveCount=(record.get("attributes") or {}).get("ApproximateReceiveCount"))
        metrics.emit("OrdersFailed", messageId=record.get("messageId", ""))  # per attempt: the DLQ alarm tells the final ones
        return False
    log.info("order processed", orderId=order["orderId"], outcome=outcome)
    if outcome != "duplicate":  # a redelivered order was counted the first time
        metrics.emit("OrdersConfirmed", orderId=order["orderId"])
    return True


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return process_batch(
        event.get("Records") or [], handle, context=context, guard_ms=TIME_GUARD_MS, item_id=sqs_message_id,
        log_fields=lambda r: {"messageId": r.get("messageId")},
        # FIFO: later records of the batch may belong to the same customer; they must not overtake it.
        stop_after_failure=lambda r: str(r.get("eventSourceARN", "")).endswith(".fifo"),
    )

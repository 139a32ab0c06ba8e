"""POST /orders: validate an order, price it on the server, put it on the orders queue; 202 with its id.

Money: prices are decimal strings (schema `order`: at most 2 decimals, every accepted currency has 2 minor
units) and are summed as `Decimal`s quantized to the currency's minor units. A client `total` is only compared
with the computed one: a disagreement is a 400, never trusted. The customer (`sub`, email, name) comes from the
authorizer's claims, never from the body; the email only when Cognito has verified it.

Idempotency without a database: with an `Idempotency-Key` header the order id is
`uuid5(IDEMPOTENCY_NAMESPACE, sub + "\\n" + key)`, so the same user retrying with the same key gets the same order
id on any instance, and another user's identical key names another order. A retry may still put a second message
on the queue (e.g. the first response was lost after the send), but it never makes a second order:
- on a FIFO queue the deduplication id is the order id, so SQS drops a resend within its 5-minute window;
- on any queue the processor creates `receipts/<sub>/<orderId>.json` only if absent (S3 `If-None-Match: *`) and
  queues the confirmation only while that receipt says it has not been queued: a second message for the same
  order id is acknowledged with no second receipt and no second email.
The first order processed under a key wins; reusing a key with different items is not detected here (there is
no store to compare with), the processor keeps the first order and logs the mismatch (`fingerprint`).
Without the header each request is a new order (uuid4; the seed's timestamp ids collide).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import uuid
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import boto3

from handlers.common import log, metrics
from handlers.common.claims import Caller, claims_of, require_caller
from handlers.common.http import HttpError, api_handler, header, json_body, json_response
from handlers.common.validation import require_valid

ORDERS_QUEUE_URL = os.environ["ORDERS_QUEUE_URL"]
FIFO = ORDERS_QUEUE_URL.endswith(".fifo")

# Fixed forever: changing it would give retried requests new order ids.
IDEMPOTENCY_NAMESPACE = uuid.UUID("6f0c5d3e-2b1a-5c47-9e08-4d2f7a9b1c35")
IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,255}")
# The sub becomes an S3 key segment and the FIFO message group id: Cognito subs are UUIDs.
SUB = re.compile(r"[A-Za-z0-9_-]{1,128}")
# ISO 4217 minor units of the currencies in the schema's enum (a test keeps the two in step).
MINOR_UNITS = {c: 2 for c in ("AUD", "CAD", "CHF", "DKK", "EUR", "GBP", "NOK", "NZD", "SEK", "USD")}
MESSAGE_VERSION = 1

sqs = boto3.client("sqs")


def order_id_for(sub: str, idempotency_key: str | None) -> str:
    """Deterministic for (sub, key); random without a key."""
    if idempotency_key is None:
        return str(uuid.uuid4())
    return str(uuid.uuid5(IDEMPOTENCY_NAMESPACE, f"{sub}\n{idempotency_key}"))


def money(text: str, currency: str, field: str) -> Decimal:
    """A non-negative amount with no more decimals than the currency has minor units; 400 otherwise."""
    exponent = Decimal(1).scaleb(-MINOR_UNITS[currency])
    try:
        value = Decimal(text)
        exact = value.is_finite() and value >= 0 and value == value.quantize(exponent)
    except InvalidOperation:
        exact = False
    if not exact:
        raise HttpError(400, "validation_error", f"{field} must be an amount with at most "
                                                 f"{MINOR_UNITS[currency]} decimals in {currency}")
    return value.quantize(exponent)


def price(order: dict[str, Any]) -> tuple[list[dict[str, Any]], Decimal]:
    """Priced lines and the total, all exact decimals."""
    currency = order["currency"]
    lines, total = [], Decimal(0)
    for index, item in enumerate(order["items"]):
        unit = money(item["unitPrice"], currency, f"items[{index}].unitPrice")
        line_total = unit * item["qty"]
        total += line_total
        lines.append({"sku": item["sku"], "name": item["name"], "qty": item["qty"],
                      "unitPrice": str(unit), "lineTotal": str(line_total)})
    return lines, total


def _verified_email(event: dict[str, Any], caller: Caller) -> str | None:
    """Confirmations go only to an address Cognito verified: never to one a user merely typed in."""
    return caller.email if str(claims_of(event).get("email_verified", "")).lower() == "true" else None


def _display_name(event: dict[str, Any], caller: Caller) -> str:
    claims = claims_of(event)
    for candidate in (claims.get("name"), claims.get("given_name"), caller.username):
        if isinstance(candidate, str) and candidate and candidate != caller.sub:
            return candidate[:128]
    return "customer"


def _idempotency_key(event: dict[str, Any]) -> str | None:
    key = header(event, "Idempotency-Key")
    if key is not None and not IDEMPOTENCY_KEY.fullmatch(key):
        raise HttpError(400, "invalid_idempotency_key", "Idempotency-Key must be 1-255 printable ASCII characters")
    return key


def build_message(order: dict[str, Any], customer: dict[str, Any], order_id: str) -> dict[str, Any]:
    lines, total = price(order)
    if "total" in order and money(order["total"], order["currency"], "total") != total:
        raise HttpError(400, "total_mismatch", f"total does not match the items (computed {total})")
    fingerprint = hashlib.sha256(
        json.dumps({"currency": order["currency"], "items": lines}, sort_keys=True).encode()
    ).hexdigest()
    return {
        "version": MESSAGE_VERSION,
        "orderId": order_id,
        "customer": customer,
        "currency": order["currency"],
        "items": lines,
        "total": str(total),
        "priority": order.get("priority", "standard"),
        "submittedAt": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "fingerprint": fingerprint,
    }


def enqueue(message: dict[str, Any]) -> str:
    params: dict[str, Any] = {
        "QueueUrl": ORDERS_QUEUE_URL,
        # ensure_ascii: the body holds only characters SQS accepts, whatever the item names contain.
        "MessageBody": json.dumps(message, separators=(",", ":"), ensure_ascii=True),
        "MessageAttributes": {
            "priority": {"DataType": "String", "StringValue": message["priority"]},
            "currency": {"DataType": "String", "StringValue": message["currency"]},
            "itemCount": {"DataType": "Number", "StringValue": str(len(message["items"]))},
        },
    }
    if FIFO:
        params["MessageGroupId"] = message["customer"]["sub"]
        params["MessageDeduplicationId"] = message["orderId"]
    return sqs.send_message(**params)["MessageId"]


@api_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    caller = require_caller(event)
    if not SUB.fullmatch(caller.sub):
        raise HttpError(401, "unauthorized", "missing or invalid identity claims")
    key = _idempotency_key(event)
    order = require_valid(json_body(event), "order")
    order_id = order_id_for(caller.sub, key)
    customer = {"sub": caller.sub, "email": _verified_email(event, caller), "name": _display_name(event, caller)}
    message = build_message(order, customer, order_id)
    message_id = enqueue(message)
    log.info("order queued", orderId=order_id, messageId=message_id, items=len(message["items"]),
             idempotent=key is not None)
    metrics.emit("OrdersAccepted", orderId=order_id)
    return json_response(202, {"orderId": order_id, "status": "QUEUED"}, event)

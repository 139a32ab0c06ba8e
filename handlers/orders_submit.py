"""POST /orders: validate an order, price it on the server, put it on the orders queue; 202 with its id.

Money: prices are decimal strings (schema `order`: at most 2 decimals, every accepted currency has 2 minor
units) and are summed as `Decimal`s quantized to the currency's minor units. A client `total` is only compared
with the computed one: a disagreement is a 400, never trusted. The customer (`sub`, email, name) comes from the
authorizer's claims, never from the body; the email only when Cognito has verified it.

Idempotency (IETF draft "The Idempotency-Key HTTP Header Field"): with an `Idempotency-Key` header the order id
is `uuid5(IDEMPOTENCY_NAMESPACE, sub + "\\n" + key + "\\n" + fingerprint)`, so the same user retrying the same
request with the same key gets the same order id on any instance, and another user's identical key names
another order. The first request under a key
records the request's fingerprint (SHA-256 of its canonical JSON) in the idempotency table, conditionally and
with a 24-hour TTL; a later request under that key:
- with the same body gets the same order id and is queued again (safe: see below), so a retry after a lost
  response or a failed send never drops the order;
- with a different body is refused with 422 `idempotency_key_reused`, and nothing is queued.
The queue side stays idempotent per order id: on a FIFO queue the deduplication id is the order id, and the
processor creates `receipts/<sub>/<orderId>.json` only if absent and queues one confirmation per order.
Without the header each request is a new order (uuid4; the seed's timestamp ids collide).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import boto3
from botocore.exceptions import ClientError

from handlers.common import log, metrics
from handlers.common.addresses import is_address
from handlers.common.claims import Caller, claims_of, require_caller
from handlers.common.http import HttpError, api_handler, header, json_body, json_response
from handlers.common.text import name_problem
from handlers.common.validation import require_valid

ORDERS_QUEUE_URL = os.environ["ORDERS_QUEUE_URL"]
IDEMPOTENCY_TABLE = os.environ["IDEMPOTENCY_TABLE"]
IDEMPOTENCY_TTL_SECONDS = 24 * 3600
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
dynamodb = boto3.client("dynamodb")


def order_id_for(sub: str, idempotency_key: str | None, fingerprint: str = "") -> str:
    """Deterministic for (sub, key, request fingerprint); random without a key. The fingerprint is part of it so
    that once the key's record has expired, a different body under the old key is a new order, not one the
    processor would drop as a duplicate of the first."""
    if idempotency_key is None:
        return str(uuid.uuid4())
    return str(uuid.uuid5(IDEMPOTENCY_NAMESPACE, f"{sub}\n{idempotency_key}\n{fingerprint}"))


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
    verified = str(claims_of(event).get("email_verified", "")).lower() == "true"
    # The one address grammar: an address the sender would refuse is never queued (it would only reach the DLQ).
    return caller.email if verified and is_address(caller.email) else None


def _display_name(event: dict[str, Any], caller: Caller) -> str:
    claims = claims_of(event)
    for candidate in (claims.get("name"), claims.get("given_name"), caller.username):
        # Users can change their `name` attribute through Cognito directly: the sign-up rules apply here too.
        if isinstance(candidate, str) and candidate != caller.sub and name_problem(candidate) is None:
            return candidate
    return "customer"


def _idempotency_key(event: dict[str, Any]) -> str | None:
    key = header(event, "Idempotency-Key")
    if key is not None and not IDEMPOTENCY_KEY.fullmatch(key):
        raise HttpError(400, "invalid_idempotency_key", "Idempotency-Key must be 1-255 printable ASCII characters")
    return key


def request_fingerprint(order: dict[str, Any]) -> str:
    """The request as the IETF draft compares it: same JSON document, whatever its formatting or key order."""
    canonical = json.dumps(order, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def claim_key(sub: str, key: str, fingerprint: str, order_id: str, now: float | None = None) -> None:
    """Record the first request under (sub, key); 422 if the key was already used for another request."""
    now = time.time() if now is None else now
    pk = f"{sub}#{hashlib.sha256(key.encode()).hexdigest()}"
    try:
        dynamodb.put_item(
            TableName=IDEMPOTENCY_TABLE,
            Item={"pk": {"S": pk}, "fingerprint": {"S": fingerprint}, "orderId": {"S": order_id},
                  "expiresAt": {"N": str(int(now) + IDEMPOTENCY_TTL_SECONDS)}},
            # TTL deletion is lazy: an expired record counts as absent.
            ConditionExpression="attribute_not_exists(pk) OR expiresAt < :now",
            ExpressionAttributeValues={":now": {"N": str(int(now))}},
        )
        return
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
            raise
    stored = dynamodb.get_item(TableName=IDEMPOTENCY_TABLE, Key={"pk": {"S": pk}}, ConsistentRead=True).get("Item")
    if stored is None or stored["fingerprint"]["S"] != fingerprint:
        raise HttpError(422, "idempotency_key_reused",
                        "this Idempotency-Key was already used with a different request body; use a new key")


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
    fingerprint = request_fingerprint(order)
    order_id = order_id_for(caller.sub, key, fingerprint)
    customer = {"sub": caller.sub, "email": _verified_email(event, caller), "name": _display_name(event, caller)}
    message = build_message(order, customer, order_id)
    if key is not None:
        claim_key(caller.sub, key, fingerprint, order_id)
    message_id = enqueue(message)
    log.info("order queued", orderId=order_id, messageId=message_id, items=len(message["items"]),
             idempotent=key is not None)
    metrics.emit("OrdersAccepted", orderId=order_id)
    return json_response(202, {"orderId": order_id, "status": "QUEUED"}, event)

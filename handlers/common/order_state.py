"""The order's status in the `orders` table: the one place that knows the statuses and how they may move.

    PENDING ─> VALIDATED ─> RESERVED ─> CHARGED ─> CONFIRMED
       │           │            │          │
       └───────────┴────────────┴──────────┴──> FAILED        PENDING ─(cleanup, past expiresAt)─> EXPIRED

Every move is one conditional UpdateItem (`#status = :from`), so no status ever goes backwards and two writers
(a step retried by Step Functions, the hourly cleanup racing Validate) cannot both win. Each move appends
`{"status", "at"}` to `history`. `expiresAt` exists only while the order is PENDING: leaving PENDING removes
it, so the `status-expiresAt` index (which holds only items with both attributes) holds only pending orders and
the cleanup query reads nothing else.

The state machine's direct DynamoDB integrations (Confirm, MarkFailed) write the same shape; the component's
planner and the tests keep the two in step.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from handlers.common.claims import Caller, require_caller
from handlers.common.http import HttpError, is_transient

PENDING, VALIDATED, RESERVED, CHARGED, CONFIRMED = "PENDING", "VALIDATED", "RESERVED", "CHARGED", "CONFIRMED"
FAILED, EXPIRED = "FAILED", "EXPIRED"
FORWARD = (PENDING, VALIDATED, RESERVED, CHARGED, CONFIRMED)
TERMINAL = frozenset({CONFIRMED, FAILED, EXPIRED})
IN_PROGRESS = frozenset(FORWARD) - TERMINAL
STATUS_INDEX = "status-expiresAt"
ORDER_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
SUB = re.compile(r"[A-Za-z0-9_-]{1,128}")


def requested_order(event: dict[str, Any], not_found: str) -> tuple[Caller, str]:
    """The caller and the order id of GET /orders/{orderId}. A malformed id is the same 404 as an unknown one, so
    both GET handlers (table and receipt) answer alike and nothing tells ids apart."""
    caller = require_caller(event)
    if not SUB.fullmatch(caller.sub):
        raise HttpError(401, "unauthorized", "missing or invalid identity claims")
    order_id = str((event.get("pathParameters") or {}).get("orderId") or "").lower()
    if not ORDER_ID.fullmatch(order_id):
        raise HttpError(404, "not_found", not_found)
    return caller, order_id


class TransientError(Exception):
    """Worth retrying: the state machine's Retry matches this name (errorType) with backoff."""


class OrderStateConflict(Exception):
    """The order is not in the status this step moves it from (expired, failed, or never recorded)."""


def allowed(current: str, new: str) -> bool:
    """Whether `current -> new` is a move of the diagram above (never backwards, never out of a terminal status)."""
    if current in TERMINAL:
        return False
    if new == FAILED:
        return True
    if new == EXPIRED:
        return current == PENDING
    return new in FORWARD and FORWARD.index(new) == FORWARD.index(current) + 1


def iso(moment: datetime) -> str:
    """UTC with milliseconds and a `Z`, the format Step Functions writes (`$$.State.EnteredTime`) into the same
    history list."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def now_iso() -> str:
    return iso(datetime.now(UTC))


def advance(table: Any, order_id: str, current: str, new: str, *, set_fields: dict[str, Any] | None = None,
            remove: tuple[str, ...] = ()) -> str:
    """Move the order `current -> new` with a conditional update; "moved" or "already" (a retried step whose
    first attempt succeeded). OrderStateConflict when the order is anywhere else; TransientError when AWS
    throttles or is unavailable."""
    if not allowed(current, new):
        raise ValueError(f"{current} -> {new} is not an order transition")
    at = now_iso()
    names = {"#status": "status"}
    values: dict[str, Any] = {":from": current, ":to": new, ":history": [{"status": new, "at": at}], ":at": at}
    assignments = ["#status = :to", "history = list_append(history, :history)", "updatedAt = :at"]
    for index, (field, value) in enumerate(sorted((set_fields or {}).items())):
        names[f"#f{index}"] = field
        values[f":f{index}"] = value
        assignments.append(f"#f{index} = :f{index}")
    expression = "SET " + ", ".join(assignments)
    if remove:
        expression += " REMOVE " + ", ".join(remove)
    try:
        table.update_item(
            Key={"orderId": order_id},
            UpdateExpression=expression,
            ConditionExpression="#status = :from",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            found = (exc.response.get("Item") or {}).get("status", {}).get("S")
            if found == new:
                return "already"
            raise OrderStateConflict(f"order {order_id} is {found or 'missing'}, not {current}") from exc
        if is_transient(exc):
            raise TransientError(str(exc)) from exc
        raise
    return "moved"


def step_input(event: Any) -> str:
    """The order id a step was started with (the execution input), refusing anything else."""
    order_id = event.get("orderId") if isinstance(event, dict) else None
    if not isinstance(order_id, str) or not ORDER_ID.fullmatch(order_id):
        raise OrderStateConflict("step input has no valid orderId")
    return order_id


def get_order(table: Any, order_id: str) -> dict[str, Any]:
    """The stored order (strongly consistent: a step must see the previous step's write); conflict if absent."""
    try:
        item = table.get_item(Key={"orderId": order_id}, ConsistentRead=True).get("Item")
    except ClientError as exc:
        if is_transient(exc):
            raise TransientError(str(exc)) from exc
        raise
    if item is None:
        raise OrderStateConflict(f"order {order_id} is not recorded")
    return item

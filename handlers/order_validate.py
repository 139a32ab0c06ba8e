"""Order workflow, step Validate: the stored order is well formed and its total is the sum of its lines;
PENDING -> VALIDATED (and out of the cleanup index).

Raises OrderInvalid (not retried: the Catch records FAILED) or TransientError (retried with backoff).

Environment: ORDERS_TABLE.
"""

from __future__ import annotations

import os
from decimal import Decimal, InvalidOperation
from typing import Any

import boto3

from handlers.common import log
from handlers.common.order_state import PENDING, VALIDATED, advance, get_order, step_input

ORDERS_TABLE = os.environ["ORDERS_TABLE"]
CENT = Decimal("0.01")

table = boto3.resource("dynamodb").Table(ORDERS_TABLE)


class OrderInvalid(Exception):
    """The order can never be fulfilled as stored."""


def _amount(text: Any) -> Decimal:
    try:
        value = Decimal(str(text))
    except InvalidOperation as exc:
        raise OrderInvalid(f"not an amount: {text!r}") from exc
    if not value.is_finite() or value < 0 or value != value.quantize(CENT):
        raise OrderInvalid(f"not an amount: {text!r}")
    return value


def check(order: dict[str, Any]) -> Decimal:
    """The order's total, after checking every line; OrderInvalid names the first problem."""
    items = order.get("items")
    if not isinstance(items, list) or not items:
        raise OrderInvalid("order has no items")
    computed = Decimal(0)
    for item in items:
        qty = item.get("qty") if isinstance(item, dict) else None
        if not isinstance(qty, (int, Decimal)) or qty != int(qty) or not 1 <= qty <= 1000:
            raise OrderInvalid("every line needs a quantity of 1..1000")
        computed += _amount(item.get("unitPrice")) * int(qty)
    total = _amount(order.get("total"))
    if total != computed:
        raise OrderInvalid(f"total {total} is not the sum of the lines ({computed})")
    if total <= 0:
        raise OrderInvalid("total must be positive")
    return total


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    order_id = step_input(event)
    order = get_order(table, order_id)
    if order.get("status") == PENDING:
        check(order)
    outcome = advance(table, order_id, PENDING, VALIDATED, remove=("expiresAt",))
    log.info("order validated", orderId=order_id, outcome=outcome)
    return {"status": VALIDATED}

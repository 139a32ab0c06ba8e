"""The order message orders_submit puts on the orders queue: one contract, checked whole by every consumer
(orders_start with the workflow on, orders_process without it) before anything is written for it.

A message that fails here can never become an order: the consumer reports it failed, SQS retries it and then
moves it to the DLQ for inspection.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import datetime
from typing import Any

SUB = re.compile(r"[A-Za-z0-9_-]{1,128}")
AMOUNT = re.compile(r"(0|[1-9][0-9]{0,12})\.[0-9]{2}")
CURRENCY = re.compile(r"[A-Z]{3}")


class InvalidOrder(ValueError):
    """The message is not an order message orders_submit could have written."""


def _item_ok(item: Any) -> bool:
    return (
        isinstance(item, dict)
        and isinstance(item.get("sku"), str)
        and isinstance(item.get("name"), str)
        and isinstance(item.get("qty"), int)
        and all(isinstance(item.get(k), str) and AMOUNT.fullmatch(item[k]) for k in ("unitPrice", "lineTotal"))
    )


def parse_order(body: Any) -> dict[str, Any]:
    """The order in `body`, or InvalidOrder naming what kind of problem it has (never its content)."""
    try:
        order = json.loads(body)
        order_id = order["orderId"]
        customer = order["customer"]
        checks = (
            str(uuid.UUID(order_id)) == order_id,
            SUB.fullmatch(customer["sub"]) is not None,
            customer.get("email") is None or isinstance(customer["email"], str),
            CURRENCY.fullmatch(order["currency"]) is not None,
            AMOUNT.fullmatch(order["total"]) is not None,
            isinstance(order["items"], list) and len(order["items"]) > 0 and all(map(_item_ok, order["items"])),
            datetime.fromisoformat(order["submittedAt"]).tzinfo is not None,
        )
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        raise InvalidOrder(f"not an order message: {type(exc).__name__}") from exc
    if not all(checks):
        raise InvalidOrder("order message has an invalid field")
    return order

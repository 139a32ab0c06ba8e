"""Order workflow, step Charge: RESERVED -> CHARGED, recording the charge on the order.

There is no payment provider in this app: the charge is the record `charge` (id derived from the order id, the
idempotency key a real provider would get, so a retried step never charges twice). Orders above
MAX_CHARGE_AMOUNT are declined (PaymentDeclined, not retried): the Catch records FAILED and Compensate releases
the reservation. This is the function with provisioned concurrency (through its `live` alias).

Environment: ORDERS_TABLE, MAX_CHARGE_AMOUNT (decimal string).
"""

from __future__ import annotations

import os
from decimal import Decimal
from typing import Any

import boto3

from handlers.common import log
from handlers.common.order_state import CHARGED, RESERVED, advance, get_order, now_iso, step_input

ORDERS_TABLE = os.environ["ORDERS_TABLE"]
MAX_CHARGE_AMOUNT = Decimal(os.environ["MAX_CHARGE_AMOUNT"])

table = boto3.resource("dynamodb").Table(ORDERS_TABLE)


class PaymentDeclined(Exception):
    """The payment was refused; retrying would not change that."""


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    order_id = step_input(event)
    order = get_order(table, order_id)
    if order.get("status") == RESERVED:
        total = Decimal(str(order["total"]))
        if total > MAX_CHARGE_AMOUNT:
            raise PaymentDeclined(f"amount {total} {order.get('currency')} is above the limit {MAX_CHARGE_AMOUNT}")
    charge = {"id": f"ch-{order_id}", "amount": str(order["total"]), "currency": order.get("currency"),
              "at": now_iso(), "refunded": False}
    outcome = advance(table, order_id, RESERVED, CHARGED, set_fields={"charge": charge})
    log.info("order charged", orderId=order_id, outcome=outcome)
    return {"status": CHARGED, "chargeId": charge["id"]}

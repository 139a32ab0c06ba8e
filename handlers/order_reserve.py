"""Order workflow, step Reserve: VALIDATED -> RESERVED, recording the reservation on the order.

There is no inventory service in this app: the reservation is the record `reservation` (id derived from the
order id, so a retried step reserves nothing twice) that Compensate releases when a later step fails.

Environment: ORDERS_TABLE.
"""

from __future__ import annotations

import os
from typing import Any

import boto3

from handlers.common import log
from handlers.common.order_state import RESERVED, VALIDATED, advance, now_iso, step_input

ORDERS_TABLE = os.environ["ORDERS_TABLE"]

table = boto3.resource("dynamodb").Table(ORDERS_TABLE)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    order_id = step_input(event)
    reservation = {"id": f"res-{order_id}", "at": now_iso(), "released": False}
    outcome = advance(table, order_id, VALIDATED, RESERVED, set_fields={"reservation": reservation})
    log.info("order reserved", orderId=order_id, outcome=outcome)
    return {"status": RESERVED, "reservationId": reservation["id"]}

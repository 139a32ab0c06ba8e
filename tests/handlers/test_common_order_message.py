"""handlers/common/order_message.py: every message orders_submit builds is an order to both of its consumers, and
a message missing or spoiling any one field is refused before anything is written."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest
from hypothesis import given

from handlers.common.order_message import InvalidOrder, parse_order
from tests.handlers.test_orders_submit import FIXTURE_SETTINGS, VALID_ORDERS, create_idempotency_table, create_queue


@pytest.fixture
def submit(aws, load_handler: Callable[..., ModuleType]) -> ModuleType:
    return load_handler("orders_submit", env={"ORDERS_QUEUE_URL": create_queue(),
                                              "IDEMPOTENCY_TABLE": create_idempotency_table()})


@FIXTURE_SETTINGS
@given(order=VALID_ORDERS)
def test_every_message_orders_submit_builds_parses_unchanged(submit, order) -> None:
    customer = {"sub": "sub-1", "email": "ann@example.com", "name": "Ann"}
    message = submit.build_message(order, customer, str(uuid.uuid4()))
    body = json.dumps(message, separators=(",", ":"), ensure_ascii=True)  # as enqueue() sends it
    assert parse_order(body) == message


def _message() -> dict[str, Any]:
    return {"version": 1, "orderId": str(uuid.uuid4()), "customer": {"sub": "sub-1", "email": "a@example.com"},
            "currency": "USD", "total": "2.00", "priority": "standard", "submittedAt": "2026-11-30T10:00:00.000+00:00",
            "items": [{"sku": "A-1", "name": "Mug", "qty": 2, "unitPrice": "1.00", "lineTotal": "2.00"}]}


SPOILED: dict[str, Callable[[dict[str, Any]], None]] = {
    "orderId not a uuid": lambda m: m.update(orderId="order-1"),
    "orderId not canonical": lambda m: m.update(orderId=m["orderId"].upper()),
    "sub with a slash": lambda m: m["customer"].update(sub="a/b"),
    "email not a string": lambda m: m["customer"].update(email=1),
    "currency lower case": lambda m: m.update(currency="usd"),
    "total without cents": lambda m: m.update(total="2"),
    "no items": lambda m: m.update(items=[]),
    "qty not an integer": lambda m: m["items"][0].update(qty="2"),
    "unitPrice not money": lambda m: m["items"][0].update(unitPrice="1,00"),
    "lineTotal missing": lambda m: m["items"][0].pop("lineTotal"),
    "submittedAt without a zone": lambda m: m.update(submittedAt="2026-11-30T10:00:00"),
    "submittedAt missing": lambda m: m.pop("submittedAt"),
    "customer missing": lambda m: m.pop("customer"),
}


def test_the_unspoiled_message_is_an_order() -> None:
    assert parse_order(json.dumps(_message()))["total"] == "2.00"


@pytest.mark.parametrize("spoil", SPOILED.values(), ids=SPOILED.keys())
def test_a_message_with_one_spoiled_field_is_refused(spoil) -> None:
    message = _message()
    spoil(message)
    with pytest.raises(InvalidOrder):
        parse_order(json.dumps(message))


@pytest.mark.parametrize("body", [None, "", "not json", "[]", '"order"', "{}"])
def test_what_is_no_message_at_all_is_refused(body) -> None:
    with pytest.raises(InvalidOrder, match="not an order message"):
        parse_order(body)

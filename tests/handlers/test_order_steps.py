"""The order step handlers and the queue consumer on their own (moto): conditional moves, idempotent retries,
business errors the state machine does not retry, compensation exactly once."""

from __future__ import annotations

import json
import uuid
from typing import Any

import boto3
import pytest

from handlers.common.order_state import OrderStateConflict
from tests.events import REGION, LambdaContext
from tests.handlers.test_order_workflow import BUCKET, TABLE, create_table

ENV = {"ORDERS_TABLE": TABLE, "RECEIPTS_BUCKET": BUCKET, "MAX_CHARGE_AMOUNT": "100.00"}


def table():
    return boto3.resource("dynamodb", region_name=REGION).Table(TABLE)


def put(status: str = "PENDING", total: str = "10.00", **extra: Any) -> str:
    order_id = str(uuid.uuid4())
    table().put_item(Item={"orderId": order_id, "customerId": "sub-1", "status": status, "currency": "USD",
                           "total": total, "submittedAt": "2026-11-30T09:00:00.000+00:00",
                           "items": [{"sku": "A-1", "name": "Mug", "qty": 2, "unitPrice": "5.00"}],
                           "history": [{"status": status, "at": "t0"}], "expiresAt": 1, **extra})
    return order_id


def order(order_id: str) -> dict[str, Any]:
    return table().get_item(Key={"orderId": order_id})["Item"]


@pytest.fixture
def steps(aws, load_handler):
    create_table()
    boto3.client("s3", region_name=REGION).create_bucket(Bucket=BUCKET)
    return {name: load_handler(f"order_{name}", ENV)
            for name in ("validate", "reserve", "charge", "receipt", "compensate")}


def run(steps, name: str, payload: dict[str, Any]) -> dict[str, Any]:
    return steps[name].handler(payload, LambdaContext())


def test_each_step_moves_once_and_a_retry_is_harmless(steps) -> None:
    order_id = put()
    for name in ("validate", "reserve", "charge"):
        run(steps, name, {"orderId": order_id})
        run(steps, name, {"orderId": order_id})  # Step Functions retried after a lost response
    item = order(order_id)
    assert [h["status"] for h in item["history"]] == ["PENDING", "VALIDATED", "RESERVED", "CHARGED"]
    assert "expiresAt" not in item and item["charge"]["id"] == f"ch-{order_id}"
    assert run(steps, "receipt", {"orderId": order_id}) == {"receiptKey": f"receipts/sub-1/{order_id}.json"}
    assert run(steps, "receipt", {"orderId": order_id})["receiptKey"].endswith(".json")


def test_steps_never_move_a_status_backwards_or_out_of_order(steps) -> None:
    order_id = put("EXPIRED")
    with pytest.raises(OrderStateConflict):
        run(steps, "validate", {"orderId": order_id})
    order_id = put("PENDING")
    with pytest.raises(OrderStateConflict):
        run(steps, "charge", {"orderId": order_id})  # skipping Validate/Reserve
    assert order(order_id)["status"] == "PENDING"


def test_business_errors_carry_their_names(steps) -> None:
    wrong_total = put(total="11.00")
    with pytest.raises(Exception) as invalid:
        run(steps, "validate", {"orderId": wrong_total})
    assert type(invalid.value).__name__ == "OrderInvalid"
    big = put("RESERVED", total="150.00")
    with pytest.raises(Exception) as declined:
        run(steps, "charge", {"orderId": big})
    assert type(declined.value).__name__ == "PaymentDeclined"
    assert order(big)["status"] == "RESERVED"


def test_compensation_undoes_each_thing_exactly_once_and_never_touches_a_confirmed_order(steps) -> None:
    order_id = put("CHARGED", reservation={"id": "r", "released": False}, charge={"id": "c", "refunded": False})
    payload = {"orderId": order_id, "error": {"Error": "Boom", "Cause": "..."}}
    first = run(steps, "compensate", payload)
    second = run(steps, "compensate", payload)
    item = order(order_id)
    assert first == {"status": "FAILED", "undone": ["RELEASED", "REFUNDED"]}
    assert second == {"status": "FAILED", "undone": []}
    assert item["failureReason"] == "Boom"
    assert [h["status"] for h in item["history"]] == ["CHARGED", "FAILED", "RELEASED", "REFUNDED"]

    confirmed = put("CONFIRMED", reservation={"id": "r", "released": False}, charge={"id": "c", "refunded": False})
    assert run(steps, "compensate", {"orderId": confirmed})["undone"] == []
    assert order(confirmed)["charge"]["refunded"] is False


def test_steps_refuse_input_without_an_order_id(steps) -> None:
    with pytest.raises(OrderStateConflict):
        run(steps, "reserve", {"orderId": "../x"})


# ------------------------------------------------------------------------------- the queue consumer


@pytest.fixture
def start(aws, load_handler):
    create_table()
    return load_handler("orders_start", {"ORDERS_TABLE": TABLE, "PENDING_TIMEOUT_SECONDS": "3600",
                                         "ORDER_RETENTION_DAYS": "30",
                                         "STATE_MACHINE_ARN": "arn:aws:states:us-east-1:123456789012:stateMachine:x"})


def message(**overrides: Any) -> dict[str, Any]:
    body = {"version": 1, "orderId": str(uuid.uuid4()), "customer": {"sub": "sub-1", "email": None, "name": "A"},
            "currency": "USD", "total": "10.00", "submittedAt": "2026-11-30T09:00:00.000+00:00",
            "items": [{"sku": "A-1", "name": "Mug", "qty": 2, "unitPrice": "5.00", "lineTotal": "10.00"}]}
    return body | overrides


def record(body: Any, message_id: str = "m-1") -> dict[str, Any]:
    return {"messageId": message_id, "body": json.dumps(body), "attributes": {"ApproximateReceiveCount": "1"},
            "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:orders"}


def test_pending_record_is_derived_from_the_message_alone(start) -> None:
    body = message()
    item = start.order_item(body)
    assert item == start.order_item(json.loads(json.dumps(body)))  # a redelivery builds the same item
    assert item["expiresAt"] == 1_796_029_200 + 3600 and item["ttlEpoch"] == 1_796_029_200 + 30 * 86_400
    assert item["status"] == "PENDING" and "lineTotal" not in item["items"][0]


def test_a_bad_message_is_reported_and_nothing_is_recorded(start) -> None:
    bad = [record({"orderId": "x"}, "m-1"), record(message(total="10"), "m-2"), record("not json", "m-3")]
    assert start.handler({"Records": bad}, LambdaContext()) == {
        "batchItemFailures": [{"itemIdentifier": "m-1"}, {"itemIdentifier": "m-2"}, {"itemIdentifier": "m-3"}]}
    assert table().scan()["Items"] == []


def test_a_failed_start_is_retried_and_the_record_is_not_duplicated(start, monkeypatch) -> None:
    body = message()
    calls = []

    def failing_start(**kwargs):
        calls.append(kwargs)
        raise RuntimeError("StartExecution failed")

    monkeypatch.setattr(start.sfn, "start_execution", failing_start)
    assert start.handler({"Records": [record(body)]}, LambdaContext())["batchItemFailures"] == [
        {"itemIdentifier": "m-1"}]
    assert start.handler({"Records": [record(body)]}, LambdaContext())["batchItemFailures"] == [
        {"itemIdentifier": "m-1"}]
    assert len(table().scan()["Items"]) == 1 and len(calls) == 2
    assert calls[0]["name"] == body["orderId"] and calls[0]["input"] == calls[1]["input"]

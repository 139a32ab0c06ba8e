"""GET /orders/{orderId} from the table: the caller's own order with its history and, once confirmed, the
receipt; anyone else's order and unknown ids are the same 404."""

from __future__ import annotations

import json
import uuid
from typing import Any

import boto3
import pytest

from tests.events import REGION, LambdaContext, api_event, cognito_claims
from tests.handlers.test_order_workflow import BUCKET, TABLE, create_table


def put(order_id: str, owner: str, status: str, **extra: Any) -> None:
    item = {"orderId": order_id, "customerId": owner, "status": status, "currency": "USD", "total": "5.00",
            "items": [{"sku": "A-1", "name": "Mug", "qty": 1, "unitPrice": "5.00"}],
            "history": [{"status": "PENDING", "at": "t0"}, {"status": status, "at": "t1"}],
            "reservation": {"id": "res-x", "released": False}, "ttlEpoch": 2_000_000_000, **extra}
    boto3.resource("dynamodb", region_name=REGION).Table(TABLE).put_item(Item=item)


@pytest.fixture
def status(aws, load_handler):
    create_table()
    boto3.client("s3", region_name=REGION).create_bucket(Bucket=BUCKET)
    return load_handler("orders_status", {"ORDERS_TABLE": TABLE, "RECEIPTS_BUCKET": BUCKET})


def get(handler, order_id: str, sub: str) -> tuple[int, dict[str, Any]]:
    event = api_event("GET", "/orders/{orderId}", path=f"/orders/{order_id}", path_parameters={"orderId": order_id},
                      claims=cognito_claims(sub=sub))
    response = handler.handler(event, LambdaContext())
    return response["statusCode"], json.loads(response["body"])


def test_own_order_shows_status_and_history_without_internals(status) -> None:
    order_id = str(uuid.uuid4())
    put(order_id, "sub-1", "RESERVED")
    code, body = get(status, order_id, "sub-1")
    assert code == 200
    assert body["status"] == "RESERVED" and [h["status"] for h in body["history"]] == ["PENDING", "RESERVED"]
    assert body["items"][0]["qty"] == 1  # a number, not "1" or Decimal
    assert not {"reservation", "ttlEpoch", "customerId", "receipt"} & set(body)


def test_confirmed_order_carries_its_receipt(status) -> None:
    order_id = str(uuid.uuid4())
    key = f"receipts/sub-1/{order_id}.json"
    boto3.client("s3", region_name=REGION).put_object(Bucket=BUCKET, Key=key, Body=b'{"total":"5.00"}')
    put(order_id, "sub-1", "CONFIRMED", receiptKey=key)
    code, body = get(status, order_id, "sub-1")
    assert code == 200 and body["receipt"] == {"total": "5.00"}


def test_someone_elses_order_is_the_same_404_as_an_unknown_one(status) -> None:
    order_id = str(uuid.uuid4())
    put(order_id, "sub-1", "CONFIRMED")
    other = get(status, order_id, "sub-2")
    unknown = get(status, str(uuid.uuid4()), "sub-2")
    assert other == unknown and other[0] == 404
    assert get(status, "not-an-id", "sub-1")[0] == 404

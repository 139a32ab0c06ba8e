"""The hourly cleanup against moto DynamoDB (the planned table and index): it expires exactly the PENDING
orders past their expiry, page by page, idempotently, and stops when the invocation runs out of time."""

from __future__ import annotations

import time
from typing import Any

import boto3
import pytest

from tests.events import REGION, LambdaContext
from tests.handlers.test_order_workflow import TABLE, create_table


def put(order_id: str, status: str, expires_in: int | None) -> None:
    item: dict[str, Any] = {"orderId": order_id, "status": status, "customerId": "sub-1",
                            "history": [{"status": status, "at": "2026-11-30T00:00:00.000+00:00"}],
                            "ttlEpoch": int(time.time()) + 86_400}
    if expires_in is not None:
        item["expiresAt"] = int(time.time()) + expires_in
    boto3.resource("dynamodb", region_name=REGION).Table(TABLE).put_item(Item=item)


def statuses() -> dict[str, str]:
    items = boto3.resource("dynamodb", region_name=REGION).Table(TABLE).scan()["Items"]
    return {i["orderId"]: i["status"] for i in items}


@pytest.fixture
def cleanup(aws, load_handler):
    create_table()
    return load_handler("orders_cleanup", {"ORDERS_TABLE": TABLE, "PAGE_SIZE": "2"})


def test_expires_exactly_the_stale_pending_orders(cleanup) -> None:
    for n in range(5):
        put(f"stale-{n}", "PENDING", expires_in=-60 - n)
    put("fresh", "PENDING", expires_in=3600)
    put("validated", "VALIDATED", expires_in=None)       # left PENDING: out of the index
    put("confirmed", "CONFIRMED", expires_in=None)
    put("odd", "CONFIRMED", expires_in=-60)              # a status other than PENDING is never touched
    before = statuses()

    result = cleanup.handler({"source": "aws.events"}, LambdaContext())

    after = statuses()
    assert {k for k in after if after[k] != before[k]} == {f"stale-{n}" for n in range(5)}
    assert all(after[f"stale-{n}"] == "EXPIRED" for n in range(5))
    assert result["expired"] == 5 and result["complete"] is True and result["pages"] >= 3  # pages of 2
    item = boto3.resource("dynamodb", region_name=REGION).Table(TABLE).get_item(Key={"orderId": "stale-0"})["Item"]
    assert [h["status"] for h in item["history"]] == ["PENDING", "EXPIRED"] and "expiresAt" not in item

    assert cleanup.handler({}, LambdaContext())["expired"] == 0  # idempotent: nothing left in the index
    assert statuses() == after


def test_an_order_validate_moved_meanwhile_is_left_alone(cleanup) -> None:
    put("raced", "PENDING", expires_in=-60)
    original = cleanup.table.query

    def query_then_validate(**kwargs):
        page = original(**kwargs)
        # Validate wins the race between the query and the conditional update.
        boto3.resource("dynamodb", region_name=REGION).Table(TABLE).update_item(
            Key={"orderId": "raced"}, UpdateExpression="SET #s = :v REMOVE expiresAt",
            ExpressionAttributeNames={"#s": "status"}, ExpressionAttributeValues={":v": "VALIDATED"})
        return page

    cleanup.table.query = query_then_validate
    result = cleanup.handler({}, LambdaContext())
    assert result["expired"] == 0 and result["skipped"] == 1
    assert statuses() == {"raced": "VALIDATED"}


def test_stops_when_the_invocation_runs_out_of_time(cleanup) -> None:
    for n in range(3):
        put(f"stale-{n}", "PENDING", expires_in=-60)
    result = cleanup.handler({}, LambdaContext(remaining_ms=1_000))
    assert result == {"expired": 0, "skipped": 0, "pages": 0, "complete": False}
    assert set(statuses().values()) == {"PENDING"}


class DwindlingContext(LambdaContext):
    """Plenty of time for the first `calls` checks, then less than the guard."""

    def __init__(self, calls: int) -> None:
        super().__init__()
        self.calls = calls

    def get_remaining_time_in_millis(self) -> int:
        self.calls -= 1
        return 60_000 if self.calls >= 0 else 1_000


def test_a_run_cut_short_is_finished_by_the_next(cleanup) -> None:
    for n in range(6):
        put(f"stale-{n}", "PENDING", expires_in=-60)

    first = cleanup.handler({}, DwindlingContext(calls=4))
    assert first["complete"] is False and 0 < first["expired"] < 6

    second = cleanup.handler({}, LambdaContext())
    assert second["complete"] is True and first["expired"] + second["expired"] == 6
    assert set(statuses().values()) == {"EXPIRED"}

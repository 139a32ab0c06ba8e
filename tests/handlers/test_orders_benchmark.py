"""Cost of `orders_process` per record against raw boto3 doing the same S3 put + SQS send, on in-process moto.

Measured with `make bench` (pytest-benchmark; a normal test run executes each variant once, unmeasured).
The three variants share a group, so pytest-benchmark prints each statistic with its ratio to the fastest:
- `raw put+send`: per record one `put_object` of the JSON receipt and one `send_message` of the email job — the
  seed processor's work, the floor;
- `raw same calls`: the calls the handler makes on a first delivery (conditional JSON put, conditional text put,
  email send, JSON put marking the confirmation queued), without the handler around them;
- `handler`: `orders_process.handler` on a real-shaped SQS event.
handler / raw-same-calls is the handler's own overhead (parsing, checks, logging); raw-same-calls /
raw-put+send is the price of redelivery-safe idempotency.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from types import ModuleType
from typing import Any

import boto3
import pytest

from tests.events import REGION, LambdaContext, sqs_event_from_messages
from tests.handlers.test_orders_process import BUCKET, Pipeline, claims_for, pipeline, queued  # noqa: F401
from tests.handlers.test_orders_submit import order_body

pytestmark = pytest.mark.benchmark_run
RECORDS = 10


def fresh_event(template: dict[str, Any], arn: str) -> dict[str, Any]:
    """A batch of RECORDS never-seen orders (new order and message ids), so every round is a first delivery."""
    messages = []
    for _ in range(RECORDS):
        order = {**template, "orderId": str(uuid.uuid4())}
        messages.append({"MessageId": str(uuid.uuid4()), "ReceiptHandle": "rh", "Body": json.dumps(order)})
    return sqs_event_from_messages(messages, arn)


def raw_variant(pipeline: Pipeline, *, same_calls: bool) -> Callable[[dict[str, Any]], None]:  # noqa: F811
    s3, sqs = boto3.client("s3", region_name=REGION), boto3.client("sqs", region_name=REGION)

    def run(event: dict[str, Any]) -> None:
        for record in event["Records"]:
            order = json.loads(record["body"])
            key = f"receipts/{order['customer']['sub']}/{order['orderId']}"
            receipt = json.dumps(order)
            conditional = {"IfNoneMatch": "*"} if same_calls else {}
            s3.put_object(Bucket=BUCKET, Key=key + ".json", Body=receipt.encode(), **conditional)
            if same_calls:
                s3.put_object(Bucket=BUCKET, Key=key + ".txt", Body=b"Order ID: ...", IfNoneMatch="*")
            job = {"template": "OrderConfirmation", "to": [order["customer"]["email"]],
                   "data": {"orderId": order["orderId"], "total": order["total"]}}
            sqs.send_message(QueueUrl=pipeline.outbox_url, MessageBody=json.dumps(job))
            if same_calls:
                s3.put_object(Bucket=BUCKET, Key=key + ".json", Body=receipt.encode())

    return run


def handler_variant(process: ModuleType) -> Callable[[dict[str, Any]], None]:
    def run(event: dict[str, Any]) -> None:
        assert process.handler(event, LambdaContext()) == {"batchItemFailures": []}

    return run


@pytest.mark.parametrize("variant", ["raw put+send", "raw same calls", "handler"])
def test_orders_process_per_batch_of_ten(benchmark: Any, pipeline: Pipeline, variant: str,  # noqa: F811
                                         capsys: pytest.CaptureFixture[str]) -> None:
    [message] = pipeline.order_messages(order_body(("A-1", 2, "9.99"), ("B-2", 1, "0.50")), claims=claims_for("ann"))
    template = json.loads(message["Body"])
    target = {
        "raw put+send": raw_variant(pipeline, same_calls=False),
        "raw same calls": raw_variant(pipeline, same_calls=True),
        "handler": handler_variant(pipeline.process),
    }[variant]
    benchmark.group = f"orders_process: one batch of {RECORDS} records (divide by {RECORDS} per record)"
    benchmark.extra_info["records_per_round"] = RECORDS

    batches: list[dict[str, Any]] = []
    jobs: list[str] = []

    def collect_jobs() -> None:
        """Take the jobs off the outbox (unmeasured): moto's send_message slows down as a queue fills."""
        sqs = boto3.client("sqs", region_name=REGION)
        for m in queued(pipeline.outbox_url):
            jobs.append(json.loads(m["Body"])["data"]["orderId"])
            sqs.delete_message(QueueUrl=pipeline.outbox_url, ReceiptHandle=m["ReceiptHandle"])

    def setup() -> tuple[tuple[dict[str, Any]], dict[str, Any]]:
        collect_jobs()
        batches.append(fresh_event(template, pipeline.orders_arn))
        return (batches[-1],), {}

    benchmark.pedantic(target, setup=setup, rounds=40, warmup_rounds=3, iterations=1)
    collect_jobs()
    capsys.readouterr()  # the handler's JSON log lines

    # Whatever the variant, every order of every batch became a receipt and an email job.
    order_ids = {json.loads(r["body"])["orderId"] for batch in batches for r in batch["Records"]}
    assert sorted(jobs) == sorted(order_ids) and len(order_ids) == RECORDS * len(batches)
    stored = boto3.client("s3", region_name=REGION).list_objects_v2(Bucket=BUCKET, MaxKeys=1000)["KeyCount"]
    assert stored == len(order_ids) * (2 if variant != "raw put+send" else 1)

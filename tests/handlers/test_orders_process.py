"""The orders queue consumer on real SQS events (messages written by the submit handler) against moto S3/SQS."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import boto3
import pytest

from handlers.common.validation import load_schema, validate
from tests.events import REGION, LambdaContext, cognito_claims, sqs_event_from_messages
from tests.handlers.test_orders_submit import create_idempotency_table, create_queue, order_body, post_order, queue_depth, queued

BUCKET = "receipts-test"


@dataclass(frozen=True)
class Pipeline:
    orders_url: str
    orders_arn: str
    outbox_url: str
    submit: ModuleType
    process: ModuleType

    def order_messages(self, *bodies: dict[str, Any], claims: dict[str, str] | None = None,
                       headers: dict[str, str] | None = None) -> list[dict[str, Any]]:
        """Submit each body through the real handler, then receive the queued messages."""
        for body in bodies:
            assert post_order(self.submit, body, claims=claims, headers=headers)[0] == 202
        return queued(self.orders_url)

    def run(self, messages: list[dict[str, Any]], arn: str | None = None) -> list[str]:
        """Invoke the processor on an SQS event of `messages`; the failed message ids."""
        event = sqs_event_from_messages(messages, arn or self.orders_arn)
        return [f["itemIdentifier"] for f in self.process.handler(event, LambdaContext())["batchItemFailures"]]

    def jobs(self) -> list[dict[str, Any]]:
        return [json.loads(m["Body"]) for m in queued(self.outbox_url)]


def queue_arn(url: str) -> str:
    sqs = boto3.client("sqs", region_name=REGION)
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def receipts() -> dict[str, bytes]:
    s3 = boto3.client("s3", region_name=REGION)
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])]
    return {key: s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() for key in keys}


def receipt(sub: str, order_id: str) -> dict[str, Any]:
    return json.loads(receipts()[f"receipts/{sub}/{order_id}.json"])


@pytest.fixture
def pipeline(aws: None, load_handler: Callable[..., ModuleType]) -> Pipeline:
    boto3.client("s3", region_name=REGION).create_bucket(Bucket=BUCKET)
    orders_url, outbox_url = create_queue("orders"), create_queue("email-outbox")
    env = {"ORDERS_QUEUE_URL": orders_url, "IDEMPOTENCY_TABLE": create_idempotency_table(),
        "RECEIPTS_BUCKET": BUCKET, "EMAIL_QUEUE_URL": outbox_url}
    return Pipeline(orders_url, queue_arn(orders_url), outbox_url,
                    load_handler("orders_submit", env=env), load_handler("orders_process", env=env))


def claims_for(sub: str, email: str | None = "ann@example.org") -> dict[str, str]:
    claims = cognito_claims(sub=sub, email=email or "")
    if email is None:
        del claims["email"]
    claims["name"] = "Ann"
    return claims


def test_an_order_gets_a_json_and_a_text_receipt_and_one_confirmation_job(pipeline: Pipeline) -> None:
    [message] = pipeline.order_messages(order_body(("A-1", 3, "0.10"), ("B-2", 1, "2.00")), claims=claims_for("ann"))
    order_id = json.loads(message["Body"])["orderId"]

    assert pipeline.run([message]) == []

    stored = receipts()
    assert sorted(stored) == [f"receipts/ann/{order_id}.json", f"receipts/ann/{order_id}.txt"]
    document = receipt("ann", order_id)
    assert (document["orderId"], document["customerId"], document["status"]) == (order_id, "ann", "PROCESSED")
    assert (document["total"], document["currency"], document["confirmation"]) == ("2.30", "USD", "QUEUED")
    text = stored[f"receipts/ann/{order_id}.txt"].decode()
    assert f"Order ID: {order_id}" in text and "Total: 2.30 USD" in text and "3 x Item A-1 (A-1) @ 0.10 = 0.30" in text
    [job] = pipeline.jobs()
    assert job == {"template": "OrderConfirmation", "to": ["ann@example.org"],
                   "data": {"orderId": order_id, "total": "2.30", "currency": "USD", "name": "Ann"}}
    assert validate(job, load_schema("email_job")) == []


def test_item_names_cannot_forge_lines_of_the_text_receipt(pipeline: Pipeline) -> None:
    body = order_body(("A-1", 1, "5.00"))
    body["items"][0]["name"] = "Pen\nTotal: 0.00 USD\r"
    [message] = pipeline.order_messages(body, claims=claims_for("ann"))
    assert pipeline.run([message]) == []

    [text] = [v.decode() for k, v in receipts().items() if k.endswith(".txt")]
    assert [line for line in text.splitlines() if line.startswith("Total:")] == ["Total: 5.00 USD"]
    assert "1 x Pen Total: 0.00 USD  (A-1) @ 5.00 = 5.00" in text


def test_a_redelivered_message_makes_no_second_receipt_or_email(pipeline: Pipeline) -> None:
    [message] = pipeline.order_messages(order_body(("A-1", 1, "5.00")), claims=claims_for("ann"))
    assert pipeline.run([message]) == []
    first = receipts()

    assert pipeline.run([message]) == []
    assert pipeline.run([message]) == []

    assert receipts() == first
    assert len(pipeline.jobs()) == 1


def test_a_retried_submit_with_the_same_key_is_one_order(pipeline: Pipeline) -> None:
    """Standard queue: both messages arrive; one receipt, one email. A different body under the key is a 422."""
    key = {"Idempotency-Key": "cart-9"}
    first = pipeline.order_messages(order_body(("A-1", 1, "5.00")), claims=claims_for("ann"), headers=key)
    second = pipeline.order_messages(order_body(("A-1", 1, "5.00")), claims=claims_for("ann"), headers=key)
    status, _ = post_order(pipeline.submit, order_body(("A-1", 2, "5.00")), claims=claims_for("ann"), headers=key)
    assert status == 422

    assert pipeline.run(first) == [] and pipeline.run(second) == []

    order_id = json.loads(first[0]["Body"])["orderId"]
    assert json.loads(second[0]["Body"])["orderId"] == order_id
    assert len(receipts()) == 2
    assert receipt("ann", order_id)["total"] == "5.00"
    assert [j["data"]["total"] for j in pipeline.jobs()] == ["5.00"]


def test_an_outbox_failure_leaves_the_order_to_be_completed_by_the_retry(
    pipeline: Pipeline, load_handler: Callable[..., ModuleType]
) -> None:
    [message] = pipeline.order_messages(order_body(("A-1", 1, "5.00")), claims=claims_for("ann"))
    order_id = json.loads(message["Body"])["orderId"]
    broken = load_handler("orders_process", env={"EMAIL_QUEUE_URL": pipeline.outbox_url + "-missing"})
    event = sqs_event_from_messages([message], pipeline.orders_arn)

    assert broken.handler(event, LambdaContext())["batchItemFailures"] == [{"itemIdentifier": message["MessageId"]}]
    assert receipt("ann", order_id)["confirmation"] == "PENDING"

    healthy = load_handler("orders_process", env={"EMAIL_QUEUE_URL": pipeline.outbox_url})
    assert healthy.handler(event, LambdaContext())["batchItemFailures"] == []
    assert receipt("ann", order_id)["confirmation"] == "QUEUED"
    assert [j["data"]["orderId"] for j in pipeline.jobs()] == [order_id]


def test_a_crash_after_queueing_the_email_repeats_it_rather_than_losing_it(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    [message] = pipeline.order_messages(order_body(("A-1", 1, "5.00")), claims=claims_for("ann"))
    real_put = pipeline.process._put_receipt

    def crash_on_marking(document: dict[str, Any], *, only_if_absent: bool) -> bool:
        if document["confirmation"] == "QUEUED":
            raise RuntimeError("crashed before marking the receipt")
        return real_put(document, only_if_absent=only_if_absent)

    monkeypatch.setattr(pipeline.process, "_put_receipt", crash_on_marking)
    assert pipeline.run([message]) == [message["MessageId"]]
    monkeypatch.setattr(pipeline.process, "_put_receipt", real_put)
    assert pipeline.run([message]) == []
    assert pipeline.run([message]) == []

    assert len(pipeline.jobs()) == 2  # at least once: the documented window repeats the email
    assert len(receipts()) == 2


def test_poison_records_fail_alone_and_the_rest_is_processed(pipeline: Pipeline) -> None:
    good = pipeline.order_messages(order_body(("A-1", 1, "1.00")), order_body(("B-1", 1, "2.00")),
                                   claims=claims_for("ann"))
    template = good[0]
    poison = [
        {**template, "MessageId": "not-json", "Body": "{oops"},
        {**template, "MessageId": "path-escape", "Body": template["Body"].replace('"sub":"ann"', '"sub":"../bob"')},
        {**template, "MessageId": "float-total", "Body": template["Body"].replace('"total":"1.00"', '"total":1.0')},
        {**template, "MessageId": "not-an-order", "Body": "[]"},
        {**template, "MessageId": "bad-item", "Body": template["Body"].replace('"qty":1', '"qty":"1"')},
    ]

    assert sorted(pipeline.run([poison[0], good[0], *poison[1:], good[1]])) == sorted(m["MessageId"] for m in poison)
    assert len(receipts()) == 4 and all(k.startswith("receipts/ann/") for k in receipts())
    assert len(pipeline.jobs()) == 2


def test_on_a_fifo_queue_the_first_failure_stops_the_batch(pipeline: Pipeline) -> None:
    first, second = pipeline.order_messages(order_body(("A-1", 1, "1.00")), order_body(("B-1", 1, "2.00")),
                                            claims=claims_for("ann"))
    poison = {**first, "MessageId": "poison", "Body": "{oops"}
    fifo_arn = pipeline.orders_arn + ".fifo"

    assert pipeline.run([first, poison, second], arn=fifo_arn) == ["poison", second["MessageId"]]
    assert [json.loads(v)["orderId"] for k, v in receipts().items() if k.endswith(".json")] == [
        json.loads(first["Body"])["orderId"]
    ]


def test_a_customer_without_an_email_claim_gets_a_receipt_and_no_job(pipeline: Pipeline) -> None:
    [message] = pipeline.order_messages(order_body(("A-1", 1, "1.00")), claims=claims_for("ann", email=None))
    order_id = json.loads(message["Body"])["orderId"]

    assert pipeline.run([message]) == [] and pipeline.run([message]) == []
    assert receipt("ann", order_id)["confirmation"] == "NO_ADDRESS"
    assert len(receipts()) == 2 and pipeline.jobs() == []


def test_an_s3_failure_is_a_batch_item_failure_not_an_exception(pipeline: Pipeline) -> None:
    messages = pipeline.order_messages(order_body(("A-1", 1, "1.00")), order_body(("A-1", 1, "1.00")),
                                       claims=claims_for("ann"))
    boto3.client("s3", region_name=REGION).delete_bucket(Bucket=BUCKET)

    assert sorted(pipeline.run(messages)) == sorted(m["MessageId"] for m in messages)
    assert pipeline.jobs() == []


def test_orders_not_started_for_lack_of_time_are_reported_and_done_by_the_retry(pipeline: Pipeline) -> None:
    """A timeout would hand the whole batch back (the finished orders included) and spend every message's receive
    count; below the time guard the processor stops starting orders and reports the rest instead."""
    messages = pipeline.order_messages(*(order_body((f"A-{i}", 1, "1.00")) for i in range(3)), claims=claims_for("ann"))
    short = LambdaContext(remaining_ms=pipeline.process.TIME_GUARD_MS - 1)

    result = pipeline.process.handler(sqs_event_from_messages(messages, pipeline.orders_arn), short)

    # The first order is always tried, so a function whose timeout is below the guard still makes progress.
    assert [f["itemIdentifier"] for f in result["batchItemFailures"]] == [m["MessageId"] for m in messages[1:]]
    assert len(receipts()) == 2 and queue_depth(pipeline.outbox_url) == 1
    assert pipeline.run(messages[1:]) == []
    assert len(receipts()) == 6 and queue_depth(pipeline.outbox_url) == 3

"""The whole order flow in-process on moto, wired as the components plan it, with every message counted.

submit (API event with claims) → orders queue → processor (real SQS events, partial batch) → S3 receipts
+ outbox job → send_email → SES. The event source mapping is played by `EventSourceMapping.poll`: receive a
batch, invoke, delete what the function did not report; a reported message becomes visible again, as it would
once its visibility timeout expires. Queues and SES are created from `plan_queues` / `plan_email`, so the redrive
and retry numbers are the deployed ones.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from types import ModuleType
from typing import Any

import boto3
import pytest

from components.email_sender import plan_email
from components.email_templates import load_templates, ses_template_input
from components.order_pipeline import QueuePlan, plan_queues
from components.settings import Settings, stack_args
from tests.components.test_order_pipeline import settings_for_stack
from tests.events import ACCOUNT_ID, REGION, LambdaContext, api_event, sqs_event_from_messages
from tests.handlers.test_orders_process import claims_for
from tests.handlers.test_orders_submit import order_body, post_order, queue_depth

BUCKET = "orders-receipts"
SETTINGS = settings_for_stack("dev")


@dataclass
class EventSourceMapping:
    """Lambda's SQS poller for one queue: batches of `batch_size`, ReportBatchItemFailures."""

    queue_url: str
    handler: Callable[[dict, Any], dict]
    batch_size: int = 10

    def __post_init__(self) -> None:
        self.deliveries: Counter[str] = Counter()  # message id -> invocations that carried it
        self.sqs = boto3.client("sqs", region_name=REGION)
        self.arn = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]

    def poll(self) -> tuple[list[str], list[str]]:
        """One batch: (received message ids, failed message ids)."""
        messages = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=self.batch_size,
                                            AttributeNames=["All"], MessageAttributeNames=["All"]).get("Messages", [])
        if not messages:
            return [], []
        self.deliveries.update(m["MessageId"] for m in messages)
        result = self.handler(sqs_event_from_messages(messages, self.arn), LambdaContext())
        failed = [f["itemIdentifier"] for f in result["batchItemFailures"]]
        for m in messages:
            if m["MessageId"] in failed:  # the visibility timeout expires
                self.sqs.change_message_visibility(QueueUrl=self.queue_url, ReceiptHandle=m["ReceiptHandle"],
                                                   VisibilityTimeout=0)
            else:
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=m["ReceiptHandle"])
        return [m["MessageId"] for m in messages], failed

    def drain(self, max_polls: int = 50) -> int:
        """Poll until the queue is empty (failing messages end in the DLQ); the number of polls."""
        for polls in range(1, max_polls + 1):
            self.poll()
            if queue_depth(self.queue_url) == 0:
                return polls
        raise AssertionError(f"{self.queue_url} still holds messages after {max_polls} polls")


@dataclass
class Flow:
    plan: QueuePlan
    orders_url: str
    dlq_url: str
    outbox_url: str
    submit: ModuleType
    process: ModuleType
    get: ModuleType
    orders: EventSourceMapping
    outbox: EventSourceMapping
    templates: dict[str, str]

    def place(self, body: dict[str, Any], sub: str = "ann", headers: dict[str, str] | None = None) -> str:
        status, response = post_order(self.submit, body, claims=claims_for(sub), headers=headers)
        assert status == 202, response
        return response["orderId"]

    def send_raw(self, body: str, group: str = "ann") -> str:
        extra = {"MessageGroupId": group, "MessageDeduplicationId": str(hash(body))} if self.plan.fifo else {}
        sqs = boto3.client("sqs", region_name=REGION)
        return sqs.send_message(QueueUrl=self.orders_url, MessageBody=body, **extra)["MessageId"]

    def read(self, order_id: str, sub: str = "ann") -> tuple[int, dict[str, Any]]:
        event = api_event("GET", "/orders/{orderId}", path=f"/orders/{order_id}", claims=claims_for(sub),
                          path_parameters={"orderId": order_id})
        response = self.get.handler(event, LambdaContext())
        return response["statusCode"], json.loads(response["body"])


def receipt_keys() -> list[str]:
    s3 = boto3.client("s3", region_name=REGION)
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", []))


def sent_emails() -> list[Any]:
    from moto.ses.models import ses_backends

    return list(ses_backends[ACCOUNT_ID][REGION].sent_messages)


def dlq_messages(url: str) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs", region_name=REGION)
    return sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"]).get("Messages", [])


def build_flow(settings: Settings, load_handler: Callable[..., ModuleType]) -> Flow:
    sqs, s3, ses = (boto3.client(s, region_name=REGION) for s in ("sqs", "s3", "ses"))
    args = stack_args(settings)
    plan = plan_queues(args.orders, "orders")
    dlq_url = sqs.create_queue(QueueName=plan.dlq_name, Attributes=plan.sqs_attributes())["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    orders_url = sqs.create_queue(QueueName=plan.queue_name, Attributes=plan.sqs_attributes(dlq_arn))["QueueUrl"]

    templates = load_templates()
    email = plan_email(args.email, templates)
    outbox_dlq = sqs.create_queue(QueueName=email.dlq_name)["QueueUrl"]
    outbox_dlq_arn = sqs.get_queue_attributes(QueueUrl=outbox_dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    outbox_url = sqs.create_queue(QueueName=email.outbox_name, Attributes={
        "VisibilityTimeout": str(email.visibility_timeout_seconds),
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": outbox_dlq_arn, "maxReceiveCount": email.max_receive_count}),
    })["QueueUrl"]
    ses.verify_email_identity(EmailAddress=email.sender)
    ses.create_configuration_set(ConfigurationSet={"Name": email.configuration_set_name})
    for template in templates:
        ses.create_template(Template=ses_template_input(template, email.template_names[template.name]))
    s3.create_bucket(Bucket=BUCKET)

    env = {
        "ORDERS_QUEUE_URL": orders_url, "RECEIPTS_BUCKET": BUCKET, "EMAIL_QUEUE_URL": outbox_url,
        "SENDER_ADDRESS": email.sender, "CONFIGURATION_SET": email.configuration_set_name,
        "EMAIL_TEMPLATES": json.dumps(email.manifest),
    }
    process = load_handler("orders_process", env=env)
    send_email = load_handler("send_email", env=env)
    return Flow(plan=plan, orders_url=orders_url, dlq_url=dlq_url, outbox_url=outbox_url,
                submit=load_handler("orders_submit", env=env), process=process,
                get=load_handler("orders_get", env=env),
                orders=EventSourceMapping(orders_url, process.handler, plan.batch_size),
                outbox=EventSourceMapping(outbox_url, send_email.handler),
                templates=email.template_names)


@pytest.fixture(params=[False, True], ids=["standard", "fifo"])
def flow(request: pytest.FixtureRequest, aws: None, load_handler: Callable[..., ModuleType]) -> Flow:
    settings = replace(SETTINGS, orders=replace(SETTINGS.orders, fifo=request.param))
    return build_flow(settings, load_handler)


def test_an_order_goes_from_submit_to_a_sent_confirmation(flow: Flow) -> None:
    order_id = flow.place(order_body(("A-1", 2, "19.99"), ("B-7", 1, "0.02"), priority="express"))
    assert queue_depth(flow.orders_url) == 1
    assert flow.read(order_id)[0] == 404  # queued, not yet processed: the documented answer

    received, failed = flow.orders.poll()
    assert len(received) == 1 and failed == []
    assert receipt_keys() == [f"receipts/ann/{order_id}.json", f"receipts/ann/{order_id}.txt"]
    assert queue_depth(flow.outbox_url) == 1

    assert flow.outbox.poll()[1] == []
    [email] = sent_emails()
    assert email.destinations == {"ToAddresses": ["ann@example.org"]}
    assert email.template == flow.templates["OrderConfirmation"]
    assert json.loads(email.template_data) == {"orderId": order_id, "total": "40.00", "currency": "USD", "name": "Ann"}

    status, document = flow.read(order_id)
    assert (status, document["total"], document["confirmation"]) == (200, "40.00", "QUEUED")
    assert flow.read(order_id, sub="bob")[0] == 404
    assert [queue_depth(u) for u in (flow.orders_url, flow.dlq_url, flow.outbox_url)] == [0, 0, 0]


def test_a_redelivered_message_still_gives_one_receipt_and_one_email(flow: Flow) -> None:
    flow.place(order_body(("A-1", 1, "5.00")))
    sqs = boto3.client("sqs", region_name=REGION)
    [message] = sqs.receive_message(QueueUrl=flow.orders_url, AttributeNames=["All"])["Messages"]
    # Processed, but the delete never happened (e.g. the poller lost the batch): SQS delivers it again.
    assert flow.process.handler(sqs_event_from_messages([message], flow.orders.arn), LambdaContext()) == {
        "batchItemFailures": []
    }
    sqs.change_message_visibility(QueueUrl=flow.orders_url, ReceiptHandle=message["ReceiptHandle"],
                                  VisibilityTimeout=0)

    received, failed = flow.orders.poll()
    assert received == [message["MessageId"]] and failed == []
    flow.outbox.drain()

    assert len(receipt_keys()) == 2
    assert len(sent_emails()) == 1
    assert queue_depth(flow.orders_url) == queue_depth(flow.dlq_url) == 0


def test_a_retried_submit_with_its_idempotency_key_is_one_order_one_email(flow: Flow) -> None:
    ids = {flow.place(order_body(("A-1", 1, "5.00")), headers={"Idempotency-Key": "k-1"}) for _ in range(3)}
    flow.orders.drain()
    flow.outbox.drain()

    [order_id] = ids
    assert receipt_keys() == [f"receipts/ann/{order_id}.json", f"receipts/ann/{order_id}.txt"]
    assert [json.loads(e.template_data)["orderId"] for e in sent_emails()] == [order_id]


def test_poison_records_end_in_the_dlq_and_no_order_is_lost(aws: None,
                                                           load_handler: Callable[..., ModuleType]) -> None:
    """10 messages, 2 poison: 8 receipts and 2 batchItemFailures; after maxReceiveCount receives the poison
    messages are in the DLQ (moto redrives them); every message is accounted for."""
    flow = build_flow(SETTINGS, load_handler)
    order_ids = [flow.place(order_body((f"SKU-{i}", i + 1, "1.50")), sub=f"user-{i % 3}") for i in range(4)]
    poison = [flow.send_raw("{not json"), flow.send_raw(json.dumps({"orderId": "../../etc"}))]
    order_ids += [flow.place(order_body((f"SKU-{i}", 1, "2.00")), sub=f"user-{i % 3}") for i in range(4, 8)]

    received, failed = flow.orders.poll()
    assert len(received) == 10
    assert sorted(failed) == sorted(poison)
    assert len(receipt_keys()) == 2 * 8

    flow.orders.drain()
    dead = dlq_messages(flow.dlq_url)
    assert sorted(m["MessageId"] for m in dead) == sorted(poison)
    # Each poison message was processed exactly maxReceiveCount times; every good one exactly once.
    assert {flow.orders.deliveries[m] for m in poison} == {flow.plan.max_receive_count} == {3}
    assert len(flow.orders.deliveries) == 10 and sum(flow.orders.deliveries.values()) == 8 + 2 * 3

    flow.outbox.drain()
    receipts = {k.rsplit("/", 1)[1].removesuffix(".json") for k in receipt_keys() if k.endswith(".json")}
    emailed = [json.loads(e.template_data)["orderId"] for e in sent_emails()]
    assert receipts == set(order_ids) and sorted(emailed) == sorted(order_ids)
    assert len(receipts) + len(dead) == 10  # 0 lost
    assert [queue_depth(u) for u in (flow.orders_url, flow.outbox_url)] == [0, 0]

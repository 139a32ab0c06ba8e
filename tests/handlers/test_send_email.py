"""The email outbox consumer against moto: templated sends, poison jobs, retries into the DLQ."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema

from components.email_templates import load_templates, sender_manifest, ses_template_input
from handlers.common.addresses import is_address
from handlers.common.text import email_safe
from handlers.common.validation import load_schema
from tests.events import ACCOUNT_ID, REGION, LambdaContext, sqs_event_from_messages
from tests.hypothesis_budget import examples

SENDER = "no-reply@example.com"
CONFIGURATION_SET = "secure-serverless-test-email"
MAX_RECEIVE_COUNT = 2
TEMPLATES = load_templates()


def physical_names() -> dict[str, str]:
    """SES names as a stack would give them (prefixed), so the handler must map logical -> physical."""
    return {t.name: f"secure-serverless-test-{t.name}" for t in TEMPLATES}


def sender_env(sender: str = SENDER) -> dict[str, str]:
    return {
        "SENDER_ADDRESS": sender,
        "CONFIGURATION_SET": CONFIGURATION_SET,
        "EMAIL_TEMPLATES": json.dumps(sender_manifest(TEMPLATES, physical_names())),
    }


@dataclass(frozen=True)
class Outbox:
    url: str
    arn: str
    dlq_url: str


@pytest.fixture
def outbox(aws: None) -> Outbox:
    """The outbox as the EmailSender builds it: a queue redriving into a DLQ after MAX_RECEIVE_COUNT receives."""
    sqs = boto3.client("sqs", region_name=REGION)
    dlq_url = sqs.create_queue(QueueName="email-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    url = sqs.create_queue(
        QueueName="email-outbox",
        Attributes={
            "VisibilityTimeout": "0",  # redeliver at once, so a test can walk a job through its retries
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": MAX_RECEIVE_COUNT}),
        },
    )["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return Outbox(url=url, arn=arn, dlq_url=dlq_url)


@pytest.fixture
def ses(aws: None) -> Any:
    """Verified sender, configuration set and the repository's templates, created from the same files."""
    client = boto3.client("ses", region_name=REGION)
    client.verify_email_identity(EmailAddress=SENDER)
    client.create_configuration_set(ConfigurationSet={"Name": CONFIGURATION_SET})
    for template in TEMPLATES:
        client.create_template(Template=ses_template_input(template, physical_names()[template.name]))
    return client


def sent_messages() -> list[Any]:
    from moto.ses.models import ses_backends

    return list(ses_backends[ACCOUNT_ID][REGION].sent_messages)


def deliver(outbox: Outbox, handler: Callable[..., dict], context: Any | None = None) -> tuple[list[str], dict]:
    """One poll of the event source mapping: receive a batch, invoke, delete what the function did not fail."""
    sqs = boto3.client("sqs", region_name=REGION)
    messages = sqs.receive_message(
        QueueUrl=outbox.url, MaxNumberOfMessages=10, AttributeNames=["All"], MessageAttributeNames=["All"]
    ).get("Messages", [])
    result = handler(sqs_event_from_messages(messages, outbox.arn), context or LambdaContext())
    failed = {f["itemIdentifier"] for f in result["batchItemFailures"]}
    for m in messages:
        if m["MessageId"] not in failed:
            sqs.delete_message(QueueUrl=outbox.url, ReceiptHandle=m["ReceiptHandle"])
    return [m["MessageId"] for m in messages], result


def enqueue(outbox: Outbox, *bodies: Any) -> list[str]:
    sqs = boto3.client("sqs", region_name=REGION)
    return [
        sqs.send_message(QueueUrl=outbox.url, MessageBody=b if isinstance(b, str) else json.dumps(b))["MessageId"]
        for b in bodies
    ]


def queue_bodies(url: str) -> list[Any]:
    sqs = boto3.client("sqs", region_name=REGION)
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    return [m["Body"] for m in messages]


def log_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


WELCOME = {"template": "WelcomeEmail", "to": ["ann@example.org"], "data": {"name": "Ann", "accountId": "sub-1"}}
ORDER = {
    "template": "OrderConfirmation",
    "to": ["bob@example.org"],
    "data": {"orderId": "o-42", "total": 19.9, "currency": "EUR", "name": "Bob"},
}


@pytest.fixture
def sender(ses: Any, load_handler: Callable[..., ModuleType]) -> ModuleType:
    return load_handler("send_email", env=sender_env())


def test_jobs_become_templated_emails_with_their_data(sender: ModuleType, outbox: Outbox) -> None:
    enqueue(outbox, WELCOME, ORDER)

    received, result = deliver(outbox, sender.handler)

    assert len(received) == 2 and result == {"batchItemFailures": []}
    by_recipient = {m.destinations["ToAddresses"][0]: m for m in sent_messages()}
    assert set(by_recipient) == {"ann@example.org", "bob@example.org"}
    for job in (WELCOME, ORDER):
        message = by_recipient[job["to"][0]]
        assert message.source == SENDER
        assert message.template == physical_names()[job["template"]]
        assert json.loads(message.template_data) == job["data"]
    assert queue_bodies(outbox.url) == []


POISON = {
    "unknown template": {**WELCOME, "template": "PasswordReset"},
    "no recipients": {**WELCOME, "to": []},
    "51 recipients": {**WELCOME, "to": [f"user{i}@example.org" for i in range(51)]},
    "malformed address": {**WELCOME, "to": ["ann@example.org", "not-an-address"]},
    "header injection": {**WELCOME, "to": ["ann@example.org\r\nBcc: eve@example.org"]},
    "missing template data": {**WELCOME, "data": {"name": "Ann"}},
    "null template data": {**WELCOME, "data": {"name": "Ann", "accountId": None}},
    "unexpected field": {**WELCOME, "cc": ["eve@example.org"]},
    "not an object": ["WelcomeEmail"],
    "not json": "{template: WelcomeEmail",
}


@pytest.mark.parametrize("poison", POISON.values(), ids=POISON.keys())
def test_poison_job_is_reported_with_a_reason_and_the_rest_of_the_batch_is_sent(
    sender: ModuleType, outbox: Outbox, poison: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    _, poison_id, _ = enqueue(outbox, WELCOME, poison, ORDER)

    received, result = deliver(outbox, sender.handler)

    assert len(received) == 3
    assert result == {"batchItemFailures": [{"itemIdentifier": poison_id}]}
    assert sorted(m.template for m in sent_messages()) == sorted(
        physical_names()[t] for t in ("WelcomeEmail", "OrderConfirmation")
    )
    rejections = [line for line in log_lines(capsys.readouterr().out) if line["message"] == "email job rejected"]
    assert [line["messageId"] for line in rejections] == [poison_id]
    assert rejections[0]["reason"]


def test_poison_job_lands_in_the_dlq_after_its_retries_and_the_good_job_is_sent_once(
    sender: ModuleType, outbox: Outbox
) -> None:
    poison = POISON["missing template data"]
    enqueue(outbox, poison, WELCOME)

    for _ in range(MAX_RECEIVE_COUNT + 1):
        deliver(outbox, sender.handler)

    assert [m.destinations["ToAddresses"] for m in sent_messages()] == [WELCOME["to"]]
    assert queue_bodies(outbox.url) == []
    assert [json.loads(b) for b in queue_bodies(outbox.dlq_url)] == [poison]


def test_ses_refusal_is_retried_not_dropped(
    ses: Any, outbox: Outbox, load_handler: Callable[..., ModuleType]
) -> None:
    unverified = load_handler("send_email", env=sender_env(sender="someone-else@example.net"))
    ids = enqueue(outbox, WELCOME, ORDER)

    _, result = deliver(outbox, unverified.handler)

    assert sorted(f["itemIdentifier"] for f in result["batchItemFailures"]) == sorted(ids)
    assert sent_messages() == []
    assert sorted(json.loads(b)["template"] for b in queue_bodies(outbox.url)) == ["OrderConfirmation", "WelcomeEmail"]


def test_no_further_send_is_started_without_enough_time_left(sender: ModuleType, outbox: Outbox) -> None:
    enqueue(outbox, WELCOME, ORDER, WELCOME)

    received, result = deliver(outbox, sender.handler, LambdaContext(remaining_ms=sender.TIME_GUARD_MS - 1))

    # The first job is always tried (a function whose timeout is below the guard must still send); the rest waits.
    assert [f["itemIdentifier"] for f in result["batchItemFailures"]] == received[1:]
    assert len(sent_messages()) == 1


def test_the_manifest_is_the_template_files(sender: ModuleType, ses: Any) -> None:
    """What the handler checks jobs against is exactly what the files (and so SES) contain."""
    assert set(sender.TEMPLATES) == {t.name for t in TEMPLATES}
    for template in TEMPLATES:
        stored = ses.get_template(TemplateName=physical_names()[template.name])["Template"]
        assert stored["HtmlPart"] == template.html and stored["SubjectPart"] == template.subject
        assert set(sender.TEMPLATES[template.name]["variables"]) == template.variables


@pytest.fixture
def offline_sender(load_handler: Callable[..., ModuleType]) -> ModuleType:
    """The module for its pure parts (parse_job): no AWS call is made."""
    return load_handler("send_email", env=sender_env())


_JOB = load_schema("email_job")
# The schema's pattern is the shared grammar; the 64-character local-part bound is checked in code only.
_RECIPIENTS = from_schema(_JOB["properties"]["to"]).filter(lambda to: all(map(is_address, to)))


_SCALARS = st.one_of(st.text(min_size=1, max_size=20), st.integers(), st.floats(allow_nan=False))
_JOBS = st.sampled_from(TEMPLATES).flatmap(
    lambda t: st.tuples(st.just(t.name), _RECIPIENTS, st.fixed_dictionaries({v: _SCALARS for v in t.variables}))
)


@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(job=_JOBS)
def test_any_schema_valid_job_for_a_known_template_is_accepted(offline_sender: ModuleType, job: tuple) -> None:
    template, to, data = job

    parsed = offline_sender.parse_job(json.dumps({"template": template, "to": to, "data": data}))

    assert parsed.to == tuple(to)
    assert parsed.data == {k: email_safe(v) if isinstance(v, str) else v for k, v in data.items()}


@settings(max_examples=examples(80), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.one_of(st.text(max_size=200), st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["template", "to", "data", "x"]), inner, max_size=4),
    max_leaves=12,
).map(json.dumps)))
def test_arbitrary_bodies_are_rejected_as_jobs_never_crash(offline_sender: ModuleType, body: str) -> None:
    try:
        offline_sender.parse_job(body)
    except offline_sender.InvalidJob as exc:
        assert str(exc)


def test_the_order_pipelines_confirmation_job_is_sent(
    sender: ModuleType, outbox: Outbox, load_handler: Callable[..., ModuleType]
) -> None:
    """Contract with the producer in handlers/orders_process.py: its job renders our OrderConfirmation."""
    orders = load_handler("orders_process", env={"RECEIPTS_BUCKET": "receipts", "EMAIL_QUEUE_URL": outbox.url})
    orders.enqueue_confirmation(
        {"orderId": "o-7", "total": "42.50", "currency": "EUR"}, {"email": "cy@example.org", "name": "Cy"}
    )

    _, result = deliver(outbox, sender.handler)

    assert result == {"batchItemFailures": []}
    [message] = sent_messages()
    assert message.template == physical_names()["OrderConfirmation"]
    assert json.loads(message.template_data) == {"orderId": "o-7", "total": "42.50", "currency": "EUR", "name": "Cy"}

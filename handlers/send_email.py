"""Email outbox consumer: one SQS record = one job `{"template", "to", "data"}` sent as an SES templated email.

String values of `data` are made HTML-neutral (`common/text.email_safe`) before they reach SES: whether or not
SES escapes `{{x}}`, no value can add markup to the HTML part. Addresses follow the one shared grammar
(`common/addresses.py`), so a job the producers queue is never refused here for its address.

Producers never call SES: they enqueue jobs, and this function is the only one allowed to send. A job that is
invalid (unknown template, no or more than 50 recipients, a malformed address, missing template data) or whose
send fails is reported in `batchItemFailures` with a logged reason: SQS redelivers it and, after the queue's
maxReceiveCount, moves it to the DLQ. One bad job never fails the rest of the batch, and no job is dropped.

Delivery is at least once: a job is deleted only after SES accepted it, so a crash between the two can repeat
an email, never lose one.

Templated mail goes through the SES v1 API (`SendTemplatedEmail`); the role allows exactly that action on the
identity, configuration set and templates, with `ses:FromAddress` pinned to SENDER_ADDRESS.

Environment: SENDER_ADDRESS, CONFIGURATION_SET, EMAIL_TEMPLATES (JSON written by the EmailSender component:
logical template name -> {"templateName": SES name, "variables": [names the template uses]}).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from handlers.common import log, metrics
from handlers.common.addresses import is_address
from handlers.common.batch import process_batch, sqs_message_id
from handlers.common.text import email_safe
from handlers.common.validation import load_schema, validate

SENDER_ADDRESS = os.environ["SENDER_ADDRESS"]
CONFIGURATION_SET = os.environ["CONFIGURATION_SET"]
TEMPLATES: dict[str, dict[str, Any]] = json.loads(os.environ["EMAIL_TEMPLATES"])

# Stop starting sends when less than this is left, so the function never times out mid-batch (a timeout would
# make SQS redeliver the whole batch, including jobs already sent).
TIME_GUARD_MS = 3_000
TEMPLATE_TAG = "template"

ses = boto3.client("ses", config=Config(retries={"mode": "standard", "max_attempts": 2}, connect_timeout=1,
                                        read_timeout=2))


class InvalidJob(ValueError):
    """The job can never be sent as it is; it goes back to the queue and on to the DLQ."""


@dataclass(frozen=True)
class Job:
    template: str
    to: tuple[str, ...]
    data: dict[str, Any]


def parse_job(body: Any) -> Job:
    """Validate one outbox message body; InvalidJob names the first problem."""
    try:
        document = json.loads(body)
    except (TypeError, json.JSONDecodeError) as exc:
        raise InvalidJob("body is not valid JSON") from exc
    issues = validate(document, load_schema("email_job"))
    if issues:
        raise InvalidJob(f"{issues[0].path} {issues[0].message}")
    bad = [a for a in document["to"] if not is_address(a)]
    if bad:  # the schema's pattern is the shared grammar; the local-part length is checked here
        raise InvalidJob(f"to holds {len(bad)} address(es) outside the address grammar")
    template = TEMPLATES.get(document["template"])
    if template is None:
        raise InvalidJob(f"unknown template {document['template']!r}; known: {sorted(TEMPLATES)}")
    data = document["data"]
    missing = [v for v in template["variables"] if not _renderable(data.get(v))]
    if missing:
        # SES would accept the call and then fail to render, silently: refuse it here instead.
        raise InvalidJob(f"data lacks {missing} (strings or numbers) required by template {document['template']}")
    # Every value may be customer-typed (a name from a Cognito attribute the user can change) and reaches the
    # HTML part: neutralised here, the one place every email passes, whoever produced the job.
    safe = {k: email_safe(v) if isinstance(v, str) else v for k, v in data.items()}
    return Job(template=document["template"], to=tuple(document["to"]), data=safe)


def _renderable(value: Any) -> bool:
    if isinstance(value, str):
        return value != ""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def send(job: Job) -> str:
    """Send the job through SES; returns SES's message id."""
    response = ses.send_templated_email(
        Source=SENDER_ADDRESS,
        Destination={"ToAddresses": list(job.to)},
        Template=TEMPLATES[job.template]["templateName"],
        TemplateData=json.dumps(job.data, separators=(",", ":")),
        ConfigurationSetName=CONFIGURATION_SET,
        # The configuration set publishes CloudWatch metrics per value of this tag.
        Tags=[{"Name": TEMPLATE_TAG, "Value": job.template}],
    )
    return response["MessageId"]


def process(record: dict[str, Any]) -> bool:
    """Send one record's job; False (and a logged reason) when it must be retried."""
    receive_count = (record.get("attributes") or {}).get("ApproximateReceiveCount")
    try:
        job = parse_job(record.get("body"))
        message_id = send(job)
    except InvalidJob as exc:
        log.error("email job rejected", reason=str(exc), receiveCount=receive_count)
        metrics.emit("EmailsRejected", reason=str(exc))
        return False
    except (ClientError, BotoCoreError) as exc:
        code = exc.response.get("Error", {}).get("Code") if isinstance(exc, ClientError) else type(exc).__name__
        log.error("email send failed", reason=str(exc), errorCode=code, receiveCount=receive_count)
        return False
    except Exception as exc:  # noqa: BLE001 - one unexpected failure must not fail the rest of the batch
        log.error("email job failed unexpectedly", reason=str(exc), errorType=type(exc).__name__)
        return False
    log.info("email sent", template=job.template, recipients=len(job.to), sesMessageId=message_id)
    metrics.emit("EmailsSent", template=job.template)
    return True


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return process_batch(event.get("Records") or [], process, context=context, guard_ms=TIME_GUARD_MS,
                         item_id=sqs_message_id, log_fields=lambda r: {"messageId": r.get("messageId")})

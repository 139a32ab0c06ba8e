"""Email outbox consumer: one SQS record = one job `{"template", "to", "data"}` sent as an SES templated email.

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
from handlers.common.batch import out_of_time
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
    template = TEMPLATES.get(document["template"])
    if template is None:
        raise InvalidJob(f"unknown template {document['template']!r}; known: {sorted(TEMPLATES)}")
    data = document["data"]
    missing = [v for v in template["variables"] if not _renderable(data.get(v))]
    if missing:
        # SES would accept the call and then fail to render, silently: refuse it here instead.
        raise InvalidJob(f"data lacks {missing} (strings or numbers) required by template {document['template']}")
    return Job(template=document["template"], to=tuple(document["to"]), data=data)


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
    failures: list[dict[str, str]] = []
    for index, record in enumerate(event.get("Records") or []):
        token = log.bind(messageId=record.get("messageId"), awsRequestId=getattr(context, "aws_request_id", None))
        try:
            late = out_of_time(context, index, TIME_GUARD_MS)
            if late:
                log.warning("not enough time left, job left for a retry")
            if late or not process(record):
                failures.append({"itemIdentifier": record.get("messageId", "")})
        finally:
            log.reset(token)
    return {"batchItemFailures": failures}

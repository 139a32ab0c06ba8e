"""OrderPipeline: POST /orders → SQS (+DLQ) → processor → the order workflow (issue 13), GET /orders/{orderId}.

    client ─POST /orders─> submit ──sqs:SendMessage──> orders queue (SSE) ──ESM, partial batch──> processor
                                                          └ after maxReceiveCount ─> DLQ (14 days, alarmed)
    processor (orders_start) ──> orders table: PENDING record ──> StartExecution(name = orderId)
        OrderWorkflow (child): Validate → Reserve → Charge → Receipt (receipts bucket `receipts/<sub>/...`)
                               → Confirm → OrderConfirmation job on the email outbox; failures → FAILED + undo
    client ─GET /orders/{orderId}─> get (orders_status) ──> the caller's own order: status, history, receipt

Each function has its own role with exactly its grants: submit may send to the orders queue; the processor may
receive/delete/get-attributes on that queue, PutItem on the orders table and start executions of the order state
machine; get may GetItem on the table and read `receipts/*`. The queue settings (FIFO, redrive, visibility = 6 x
processor timeout, batch, window, concurrency) are planned from the stack settings by `plan_queues`, a pure
function, and checked against the limits AWS enforces.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import pulumi
import pulumi_aws as aws

from components.bucket import SecureBucket, SecureBucketArgs
from components.function import PythonFunction, PythonFunctionArgs, Statement
from components.order_settings import order_workflow_args
from components.order_workflow import OrderWorkflow
from components.queues import (
    DLQ_RETENTION_SECONDS,
    dead_letter_queue,
    guard_dead_letter_queue,
    redrive_policy,
    sqs_trigger,
)
from components.secure_api import Route, SecureApi
from components.settings import Settings

RECEIPTS_PREFIX = "receipts/"
QUEUE_RETENTION_SECONDS = 4 * 24 * 3600  # SQS default; the DLQ keeps a message longer than its source queue
FIFO_MAX_BATCH = 10
STANDARD_MAX_BATCH = 10_000
MAX_VISIBILITY_SECONDS = 12 * 3600
SQS_NAME_MAX = 80
FIFO_SUFFIX = ".fifo"
SUBMIT_ACTIONS = ("sqs:SendMessage",)
CONSUME_ACTIONS = ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes")


class EmailOutbox(Protocol):
    """What the pipeline needs from EmailSender: the outbox URL and the producer's enqueue grant."""

    queue_url: pulumi.Output[str]
    queue_arn: pulumi.Output[str]

    def enqueue_statement(self) -> Statement: ...


@dataclass(frozen=True)
class QueuePlan:
    """The orders queue, its DLQ and the processor's event source mapping, from settings alone."""

    queue_name: str
    dlq_name: str
    fifo: bool
    visibility_timeout_seconds: int
    max_receive_count: int
    processor_timeout_seconds: int
    batch_size: int
    batching_window_seconds: int
    max_concurrency: int | None

    def __post_init__(self) -> None:
        problems = []
        if self.fifo and not (self.queue_name.endswith(FIFO_SUFFIX) and self.dlq_name.endswith(FIFO_SUFFIX)):
            problems.append("FIFO queue names must end with .fifo")
        if max(len(self.queue_name), len(self.dlq_name)) > SQS_NAME_MAX:
            problems.append(f"queue names are at most {SQS_NAME_MAX} characters")
        if not 1 <= self.max_receive_count <= 1000:
            problems.append(f"max_receive_count must be 1..1000, got {self.max_receive_count}")
        if not 1 <= self.processor_timeout_seconds <= 900:
            problems.append(f"processor timeout must be 1..900 s, got {self.processor_timeout_seconds}")
        if self.visibility_timeout_seconds < 6 * self.processor_timeout_seconds:
            problems.append(f"visibility timeout {self.visibility_timeout_seconds} s is below 6 x the processor "
                            f"timeout ({6 * self.processor_timeout_seconds} s)")
        if self.visibility_timeout_seconds > MAX_VISIBILITY_SECONDS:
            problems.append(f"visibility timeout is at most {MAX_VISIBILITY_SECONDS} s")
        if not 1 <= self.batch_size <= (FIFO_MAX_BATCH if self.fifo else STANDARD_MAX_BATCH):
            problems.append(f"batch size {self.batch_size} is out of range for a {'FIFO' if self.fifo else 'standard'}"
                            " queue")
        if not 0 <= self.batching_window_seconds <= 300:
            problems.append("batching window must be 0..300 s")
        if self.fifo and self.batching_window_seconds:
            problems.append("FIFO event source mappings have no batching window")
        if self.batch_size > 10 and self.batching_window_seconds < 1:
            problems.append("batches over 10 need a batching window of >= 1 s")
        if self.max_concurrency is not None and not 2 <= self.max_concurrency <= 1000:
            problems.append(f"maximum concurrency must be 2..1000, got {self.max_concurrency}")
        if problems:
            raise ValueError("invalid orders queue plan: " + "; ".join(problems))

    def sqs_attributes(self, dlq_arn: str | None = None) -> dict[str, str]:
        """CreateQueue attributes of the orders queue (given its DLQ's ARN) or, without one, of the DLQ itself.

        The component sets the same values as resource inputs; handler tests build moto queues from this.
        """
        if dlq_arn is None:
            attributes = {"MessageRetentionPeriod": str(DLQ_RETENTION_SECONDS)}
        else:
            attributes = {
                "VisibilityTimeout": str(self.visibility_timeout_seconds),
                "MessageRetentionPeriod": str(QUEUE_RETENTION_SECONDS),
                "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": self.max_receive_count}),
            }
        attributes["SqsManagedSseEnabled"] = "true"
        if self.fifo:
            attributes |= {"FifoQueue": "true", "ContentBasedDeduplication": "false"}
        return attributes


def plan_queues(settings: Settings, name: str) -> QueuePlan:
    """Stack settings → queue plan; ValueError names every limit the combination breaks."""
    orders = settings.orders
    suffix = FIFO_SUFFIX if orders.fifo else ""
    return QueuePlan(
        queue_name=settings.resource_name(f"{name}-queue", SQS_NAME_MAX - len(suffix)) + suffix,
        dlq_name=settings.resource_name(f"{name}-dlq", SQS_NAME_MAX - len(suffix)) + suffix,
        fifo=orders.fifo,
        visibility_timeout_seconds=orders.effective_visibility_timeout,
        max_receive_count=orders.max_receive_count,
        processor_timeout_seconds=orders.processor_timeout_seconds,
        batch_size=orders.batch_size,
        batching_window_seconds=orders.batching_window_seconds,
        max_concurrency=orders.max_concurrency,
    )


def submit_statements(queue_arn: pulumi.Input[str]) -> list[Statement]:
    return [Statement(actions=list(SUBMIT_ACTIONS), resources=[queue_arn], sid="SendOrders")]


def processor_statements(queue_arn: pulumi.Input[str], start: Sequence[Statement]) -> list[Statement]:
    """Consume the orders queue (what the event source mapping needs), record and start the order's workflow
    (OrderWorkflow.start_link: PutItem on the orders table, StartExecution of its state machine)."""
    return [Statement(actions=list(CONSUME_ACTIONS), resources=[queue_arn], sid="ConsumeOrders"), *start]


@dataclass(frozen=True)
class OrderPipelineArgs:
    settings: Settings
    api: SecureApi
    email: EmailOutbox

    def __post_init__(self) -> None:
        plan_queues(self.settings, "orders")  # raises before any resource exists


class OrderPipeline(pulumi.ComponentResource):
    queue: aws.sqs.Queue
    dlq: aws.sqs.Queue
    receipts: SecureBucket
    submit: PythonFunction
    processor: PythonFunction
    get: PythonFunction
    queue_url: pulumi.Output[str]
    queue_arn: pulumi.Output[str]
    dlq_url: pulumi.Output[str]
    receipts_bucket: pulumi.Output[str]

    def __init__(self, name: str, args: OrderPipelineArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("app:components:OrderPipeline", name, None, opts)
        settings = args.settings
        tags = dict(settings.tags)
        child = pulumi.ResourceOptions(parent=self)
        plan = plan_queues(settings, name)
        fifo = {"fifo_queue": True, "content_based_deduplication": False} if plan.fifo else {}

        self.dlq = dead_letter_queue(name, plan.dlq_name, tags, child, fifo=plan.fifo)
        self.queue = aws.sqs.Queue(
            f"{name}-queue",
            name=plan.queue_name,
            visibility_timeout_seconds=plan.visibility_timeout_seconds,
            message_retention_seconds=QUEUE_RETENTION_SECONDS,
            sqs_managed_sse_enabled=True,
            redrive_policy=redrive_policy(self.dlq, plan.max_receive_count),
            tags=tags,
            opts=child,
            **fifo,
        )
        guard_dead_letter_queue(name, self.dlq, self.queue, "Orders", tags, child, settings.alarm_actions)
        self.receipts = SecureBucket(f"{name}-receipts", SecureBucketArgs(settings=settings, versioned=True), opts=child)
        # Receipts, the confirmation email and the order's status are the workflow's now (issue 13).
        self.workflow = OrderWorkflow(
            f"{name}-workflow",
            order_workflow_args(settings, settings.workflow, args.email.queue_url, args.email.queue_arn, self.receipts),
            opts=child,
        )
        start, status = self.workflow.start_link(), self.workflow.status_link()

        self.submit = PythonFunction(
            f"{name}-submit",
            PythonFunctionArgs(
                handler="orders_submit",
                settings=settings,
                environment={"ORDERS_QUEUE_URL": self.queue.url},
                statements=submit_statements(self.queue.arn),
                schemas=("order",),
                reserved_concurrency=settings.workflow.front_door_reserved_concurrency,
                description=f"Validates, prices and queues orders ({settings.stack})",
            ),
            opts=child,
        )
        self.processor = PythonFunction(
            f"{name}-process",
            PythonFunctionArgs(
                handler="orders_start",
                settings=settings,
                environment=dict(start.env),
                statements=processor_statements(self.queue.arn, start.statements),
                timeout_seconds=plan.processor_timeout_seconds,
                description=f"Records queued orders and starts their workflow ({settings.stack})",
            ),
            opts=child,
        )
        self.get = PythonFunction(
            f"{name}-get",
            PythonFunctionArgs(
                handler="orders_status",
                settings=settings,
                environment=dict(status.env),
                statements=list(status.statements),
                description=f"Returns the caller's own order, its status and receipt ({settings.stack})",
            ),
            opts=child,
        )
        self.trigger = sqs_trigger(
            f"{name}-process-trigger",
            self.queue,
            self.processor.arn,
            child,
            batch_size=plan.batch_size,
            batching_window_seconds=plan.batching_window_seconds,
            max_concurrency=plan.max_concurrency,
        )
        args.api.add_routes(
            [
                Route("POST", "/orders", self.submit, request_schema="order"),
                Route("GET", "/orders/{orderId}", self.get),
            ]
        )

        self.queue_url = self.queue.url
        self.queue_arn = self.queue.arn
        self.dlq_url = self.dlq.url
        self.receipts_bucket = self.receipts.bucket_name
        self.orders_table = self.workflow.table_name
        self.state_machine_arn = self.workflow.state_machine_arn
        self.register_outputs(
            {
                "orders_table": self.orders_table,
                "state_machine_arn": self.state_machine_arn,
                "queue_url": self.queue_url,
                "queue_arn": self.queue_arn,
                "dlq_url": self.dlq_url,
                "receipts_bucket": self.receipts_bucket,
            }
        )

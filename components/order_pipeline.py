"""OrderPipeline: POST /orders → SQS (+DLQ) → processor → S3 receipt + confirmation email, GET /orders/{orderId}.

With `workflow` set (the program sets it, issue 13) the processor (`orders_start`) records each order in the
workflow's `orders` table and starts its Step Functions execution named by the order id; the receipt and the
confirmation email are the workflow's steps, and GET /orders/{orderId} (`orders_status`) answers from the table:
status, history and, once confirmed, the receipt. Without it, the single-Lambda flow below.

    client ─POST /orders─> submit ──sqs:SendMessage──> orders queue (SSE) ──ESM, partial batch──> processor
                                                          └ after maxReceiveCount ─> DLQ (14 days, alarmed)
    processor ──> receipts bucket `receipts/<sub>/<orderId>.json|.txt` (versioned SecureBucket)
              └─> email outbox (EmailSender): OrderConfirmation job
    client ─GET /orders/{orderId}─> get ──s3:GetObject──> the caller's own receipt

Each function has its own role with exactly its grants: submit may send to the orders queue; the processor may
receive/delete/get-attributes on that queue, put/get `receipts/*` and enqueue email; get may read `receipts/*`.
The queue settings (FIFO, redrive, visibility = 6 x processor timeout, batch, window, concurrency) are planned
from the Args by `plan_queues`, a pure function, and checked against the limits AWS enforces.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import pulumi
import pulumi_aws as aws

from .bucket import SecureBucket, SecureBucketArgs
from .function import FunctionDefaults, PythonFunction, PythonFunctionArgs
from .limits import check_tags
from .link import Link, Statement
from .order_workflow import OrderWorkflow, OrderWorkflowArgs
from .queues import (
    DLQ_RETENTION_SECONDS,
    dead_letter_queue,
    guard_dead_letter_queue,
    redrive_policy,
    sqs_trigger,
)
from .secure_api import Route
from .tokens import component_type, with_legacy_alias

RECEIPTS_PREFIX = "receipts/"
QUEUE_RETENTION_SECONDS = 4 * 24 * 3600  # SQS default; the DLQ keeps a message longer than its source queue
FIFO_MAX_BATCH = 10
STANDARD_MAX_BATCH = 10_000
MAX_VISIBILITY_SECONDS = 12 * 3600
SQS_NAME_MAX = 80
FIFO_SUFFIX = ".fifo"
SUBMIT_ACTIONS = ("sqs:SendMessage",)
CONSUME_ACTIONS = ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes")
RECEIPT_WRITE_ACTIONS = ("s3:PutObject", "s3:GetObject")
RECEIPT_READ_ACTIONS = ("s3:GetObject",)


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


def plan_queues(args: OrderPipelineArgs, name: str) -> QueuePlan:
    """Args → queue plan; ValueError names every limit the combination breaks."""
    suffix = FIFO_SUFFIX if args.fifo else ""
    naming = args.functions.naming
    return QueuePlan(
        queue_name=naming.name(f"{name}-queue", SQS_NAME_MAX - len(suffix)) + suffix,
        dlq_name=naming.name(f"{name}-dlq", SQS_NAME_MAX - len(suffix)) + suffix,
        fifo=args.fifo,
        # AWS guidance: at least six times the function timeout, so retries don't overlap a running batch.
        visibility_timeout_seconds=args.visibility_timeout_seconds or 6 * args.processor_timeout_seconds,
        max_receive_count=args.max_receive_count,
        processor_timeout_seconds=args.processor_timeout_seconds,
        batch_size=args.batch_size,
        batching_window_seconds=args.batching_window_seconds,
        max_concurrency=args.max_concurrency,
    )


def submit_statements(queue_arn: pulumi.Input[str]) -> list[Statement]:
    return [Statement(actions=list(SUBMIT_ACTIONS), resources=[queue_arn], sid="SendOrders")]


def consume_statements(queue_arn: pulumi.Input[str]) -> list[Statement]:
    """What the processor's event source mapping needs on the orders queue."""
    return [Statement(actions=list(CONSUME_ACTIONS), resources=[queue_arn], sid="ConsumeOrders")]


@dataclass(frozen=True)
class OrderPipelineArgs:
    functions: FunctionDefaults
    # The confirmation-email outbox: `EmailSender.producer_link()` (EMAIL_QUEUE_URL + sqs:SendMessage).
    email: Link | None = None
    fifo: bool = False
    max_receive_count: int = 3
    batch_size: int = 10
    batching_window_seconds: int = 0
    max_concurrency: int | None = None
    processor_timeout_seconds: int = 30
    visibility_timeout_seconds: int | None = None
    # The order state workflow (issue 13); the pipeline fills in its functions, outbox and receipts links.
    workflow: OrderWorkflowArgs | None = None
    # Reserved concurrency of the front door (POST /orders): protects the account's pool from an order burst.
    submit_reserved_concurrency: int | None = None
    protect: bool = False
    force_destroy: bool = False
    tags: Mapping[str, str] = field(default_factory=dict)
    alarm_actions: Sequence[str] = ()

    def __post_init__(self) -> None:
        check_tags(self.tags)
        if self.email is not None and "EMAIL_QUEUE_URL" not in self.email.env:
            raise ValueError("email must be the outbox's producer link (it sets EMAIL_QUEUE_URL)")
        plan_queues(self, "orders")  # raises before any resource exists


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
        super().__init__(component_type("OrderPipeline"), name, None, with_legacy_alias("OrderPipeline", opts))
        if args.email is None:
            raise ValueError("OrderPipelineArgs.email is required: pass the outbox's producer_link()")
        tags = dict(args.tags)
        functions = args.functions
        child = pulumi.ResourceOptions(parent=self)
        plan = plan_queues(args, name)
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
        guard_dead_letter_queue(name, self.dlq, self.queue, "Orders", tags, child, args.alarm_actions)
        self.receipts = SecureBucket(
            f"{name}-receipts",
            SecureBucketArgs(tags=tags, force_destroy=args.force_destroy, protect=args.protect, versioned=True),
            opts=child,
        )

        self.submit = PythonFunction(
            f"{name}-submit",
            PythonFunctionArgs(
                handler="orders_submit",
                defaults=functions,
                links=[self.producer_link()],
                schemas=("order",),
                reserved_concurrency=args.submit_reserved_concurrency,
                description=functions.describe("Validates, prices and queues orders"),
            ),
            opts=child,
        )
        self.workflow: OrderWorkflow | None = None
        if args.workflow is not None:
            self.workflow = OrderWorkflow(f"{name}-workflow", replace(
                args.workflow,
                functions=args.workflow.functions or functions,
                email=args.email,
                receipts_write=self.receipts.write_link(RECEIPTS_PREFIX, env="RECEIPTS_BUCKET", sid="WriteReceipts"),
                receipts_read=self.receipts.read_link(RECEIPTS_PREFIX, env="RECEIPTS_BUCKET", sid="ReadReceipts"),
            ), opts=child)
            self.processor = PythonFunction(f"{name}-process", PythonFunctionArgs(
                handler="orders_start", defaults=functions, statements=consume_statements(self.queue.arn),
                links=[self.workflow.start_link()], timeout_seconds=plan.processor_timeout_seconds,
                description=functions.describe("Records queued orders and starts their workflow"),
            ), opts=child)
            self.get = PythonFunction(f"{name}-get", PythonFunctionArgs(
                handler="orders_status", defaults=functions, links=[self.workflow.status_link()],
                description=functions.describe("Returns the caller's own order, its status and receipt"),
            ), opts=child)
        else:
            self._single_lambda_flow(name, args, plan, child)
        self.trigger = sqs_trigger(
            f"{name}-process-trigger",
            self.queue,
            self.processor.arn,
            child,
            batch_size=plan.batch_size,
            batching_window_seconds=plan.batching_window_seconds,
            max_concurrency=plan.max_concurrency,
        )
        # Data for the program to add to its API (`api.add_routes(orders.routes)`).
        self.routes = (
            Route("POST", "/orders", self.submit, request_schema="order"),
            Route("GET", "/orders/{orderId}", self.get),
        )

        self.queue_url = self.queue.url
        self.queue_arn = self.queue.arn
        self.dlq_url = self.dlq.url
        self.receipts_bucket = self.receipts.bucket_name
        self.register_outputs(
            {
                "queue_url": self.queue_url,
                "queue_arn": self.queue_arn,
                "dlq_url": self.dlq_url,
                "receipts_bucket": self.receipts_bucket,
            }
        )

    def _single_lambda_flow(self, name: str, args: OrderPipelineArgs, plan: QueuePlan,
                            child: pulumi.ResourceOptions) -> None:
        """Without a workflow: one processor writes receipts and enqueues the email; GET reads the receipt."""
        functions = args.functions
        self.processor = PythonFunction(
            f"{name}-process",
            PythonFunctionArgs(
                handler="orders_process",
                defaults=functions,
                statements=consume_statements(self.queue.arn),
                links=[
                    self.receipts.write_link(RECEIPTS_PREFIX, env="RECEIPTS_BUCKET", sid="WriteReceipts",
                                             actions=RECEIPT_WRITE_ACTIONS),
                    args.email,
                ],
                timeout_seconds=plan.processor_timeout_seconds,
                description=functions.describe("Turns queued orders into receipts and confirmation emails"),
            ),
            opts=child,
        )
        self.get = PythonFunction(
            f"{name}-get",
            PythonFunctionArgs(
                handler="orders_get",
                defaults=functions,
                links=[self.receipts.read_link(RECEIPTS_PREFIX, env="RECEIPTS_BUCKET", sid="ReadReceipts")],
                description=functions.describe("Returns the caller's own order receipt"),
            ),
            opts=child,
        )

    def producer_link(self, *, env: str = "ORDERS_QUEUE_URL") -> Link:
        """The orders queue URL in `env` + `sqs:SendMessage` on it (what POST /orders' function has)."""
        return Link(env={env: self.queue.url}, statements=submit_statements(self.queue.arn))

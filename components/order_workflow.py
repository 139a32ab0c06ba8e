"""OrderWorkflow: the `orders` table, the order state machine (Step Functions Standard), its step functions,
the hourly cleanup, and the links the order pipeline's processor and GET /orders/{orderId} use.

    orders queue ─> processor (orders_start) ──PutItem PENDING + states:StartExecution(name = orderId)──┐
    ┌──────────────────────────────────────────────────────────────────────────────────────────────────┘
    └> state machine: Validate λ ─> Reserve λ ─> Charge λ (alias `live`, provisioned concurrency) ─> Receipt λ (S3)
         ─> Confirm (dynamodb:updateItem) ─> QueueConfirmation (sqs:sendMessage to the email outbox)
         any failure ─> MarkFailed (dynamodb:updateItem) ─> Compensate λ ─> Fail
                        a failed undo ─> ParkCompensation (sqs:sendMessage) ─> compensation-failures queue (alarmed)
    EventBridge rate(1 hour) ─> cleanup λ ──Query status-expiresAt index, UpdateItem──> PENDING past expiry → EXPIRED
    OrderPipeline's processor and GET function get `start_link()` / `status_link()` (GetItem + the receipt)

The definition is planned by `components.order_states.plan_definition` (pure, hypothesis-tested) and checked by
`check_definition` before the resource is declared. The state machine's role may invoke exactly the step
functions the definition names (the charge step through its alias ARN), UpdateItem on the table, and send to
the outbox and the compensation-failures queue; each step function's role has exactly what its handler calls
(`step_statements`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from .function import FunctionDefaults, PythonFunction, PythonFunctionArgs
from .limits import check_tags
from .link import Link, Statement, policy_document
from .naming import statement_id
from .order_states import (
    LAMBDA_STEPS,
    STATUS_INDEX,
    STEP_HANDLERS,
    RetryPolicy,
    TablePlan,
    check_definition,
    check_schedule,
    orders_table,
    plan_definition,
)
from .profiles import table_resource
from .queues import failure_queue
from .tokens import component_type

CHARGE_ALIAS = "live"
CLEANUP_TIMEOUT_SECONDS = 120
MONEY = re.compile(r"^(0|[1-9][0-9]{0,12})\.[0-9]{2}$")


def publish_versions(args: pulumi.ResourceTransformationArgs) -> pulumi.ResourceTransformationResult | None:
    """For the charge step's PythonFunction: its aws:lambda Function publishes versions, since provisioned
    concurrency attaches to a version or alias, never to $LATEST."""
    if args.type_ == "aws:lambda/function:Function":
        return pulumi.ResourceTransformationResult({**args.props, "publish": True}, args.opts)
    return None


def step_statements(step: str, table_arn: pulumi.Input[str]) -> list[Statement]:
    """Exactly what each step's handler calls on the orders table (the Receipt step also gets the receipts
    bucket's write link)."""
    read = Statement(actions=["dynamodb:GetItem"], resources=[table_arn], sid="ReadOrder")
    move = Statement(actions=["dynamodb:UpdateItem"], resources=[table_arn], sid="MoveOrderStatus")
    return {
        "Validate": [read, move],
        "Reserve": [move],
        "Charge": [read, move],
        "Receipt": [read],
        "Compensate": [read, move],
    }[step]


def machine_statements(function_arns: Sequence[pulumi.Input[str]], table_arn: pulumi.Input[str], email: Link,
                       compensation_queue_arn: pulumi.Input[str]) -> list[Statement]:
    """Invoke exactly the steps, update orders, send to the outbox (its producer link's grant: the state machine
    is a producer of email jobs) and park failed compensations."""
    return [
        Statement(actions=["lambda:InvokeFunction"], resources=list(function_arns), sid="InvokeSteps"),
        Statement(actions=["dynamodb:UpdateItem"], resources=[table_arn], sid="ConfirmOrFail"),
        *email.statements,
        Statement(actions=["sqs:SendMessage"], resources=[compensation_queue_arn], sid="ParkCompensation"),
    ]


def cleanup_statements(table_arn: pulumi.Input[str], failure_queue_arn: pulumi.Input[str]) -> list[Statement]:
    """Query the pending index, expire orders, and (Lambda does it with this role) send a run that failed every
    retry to the on-failure queue."""
    index_arn = pulumi.Output.concat(table_arn, f"/index/{STATUS_INDEX}")
    return [
        Statement(actions=["dynamodb:Query"], resources=[index_arn], sid="QueryPendingIndex"),
        Statement(actions=["dynamodb:UpdateItem"], resources=[table_arn], sid="ExpireOrders"),
        Statement(actions=["sqs:SendMessage"], resources=[failure_queue_arn], sid="OnFailureDestination"),
    ]


def machine_trust_policy(account_id: pulumi.Input[str]) -> pulumi.Output[str]:
    """Only Step Functions, on behalf of this account, may assume the state machine's role."""
    return pulumi.Output.json_dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"},
                       "Action": "sts:AssumeRole", "Condition": {"StringEquals": {"aws:SourceAccount": account_id}}}],
    })


@dataclass(frozen=True)
class OrderWorkflowArgs:
    """The workflow's knobs. `functions`, `email` and the receipts links are normally filled in by the
    OrderPipeline that owns the workflow (its own FunctionDefaults, outbox link and receipts bucket)."""

    functions: FunctionDefaults | None = None
    # The confirmation-email outbox: `EmailSender.producer_link()`; the state machine sends to it directly.
    email: Link | None = None
    # RECEIPTS_BUCKET + s3:PutObject on `receipts/*` (the Receipt step) / + s3:GetObject (GET /orders/{orderId}).
    receipts_write: Link | None = None
    receipts_read: Link | None = None
    protect: bool = False
    retry: RetryPolicy = RetryPolicy()
    task_timeout_seconds: int = 30
    cleanup_schedule: str = "rate(1 hour)"
    pending_timeout_seconds: int = 3600
    order_retention_days: int = 365
    max_charge_amount: str = "5000.00"
    charge_provisioned_concurrency: int | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    alarm_actions: Sequence[str] = ()

    def __post_init__(self) -> None:
        problems = []
        if not 60 <= self.pending_timeout_seconds <= 7 * 86_400:
            problems.append("pending_timeout_seconds must be 60..604800")
        if not 1 <= self.order_retention_days <= 3650:
            problems.append("order_retention_days must be 1..3650")
        if not MONEY.match(self.max_charge_amount):
            problems.append("max_charge_amount is a decimal string with 2 decimals")
        if self.charge_provisioned_concurrency is not None and not 1 <= self.charge_provisioned_concurrency <= 1000:
            problems.append("charge_provisioned_concurrency must be 1..1000 or unset")
        if self.email is not None and "EMAIL_QUEUE_URL" not in self.email.env:
            problems.append("email must be the outbox's producer link (it sets EMAIL_QUEUE_URL)")
        for label, link in (("receipts_write", self.receipts_write), ("receipts_read", self.receipts_read)):
            if link is not None and set(link.env) != {"RECEIPTS_BUCKET"}:
                problems.append(f"{label} must set exactly RECEIPTS_BUCKET")
        try:
            check_tags(self.tags)
            check_schedule(self.cleanup_schedule)
            plan_definition({s: "arn" for s in LAMBDA_STEPS}, "table", "url", "url", self.retry,
                            self.task_timeout_seconds)
            if self.functions is not None:
                self.plan("orders-workflow")
        except ValueError as exc:
            problems.append(str(exc))
        if problems:
            raise ValueError("invalid order workflow args: " + "; ".join(problems))

    def plan(self, name: str) -> TablePlan:
        if self.functions is None:
            raise ValueError("OrderWorkflowArgs.functions is required")
        return orders_table(self.functions.naming.name(name, 255), self.protect)


class OrderWorkflow(pulumi.ComponentResource):
    table: aws.dynamodb.Table
    steps: dict[str, PythonFunction]
    charge_alias: aws.lambda_.Alias
    role: aws.iam.Role
    state_machine: aws.sfn.StateMachine
    cleanup: PythonFunction
    schedule: aws.cloudwatch.EventRule

    def __init__(self, name: str, args: OrderWorkflowArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(component_type("OrderWorkflow"), name, None, opts)
        missing = [k for k in ("functions", "email", "receipts_write", "receipts_read") if getattr(args, k) is None]
        if missing:
            raise ValueError(f"OrderWorkflowArgs {missing} are required (OrderPipeline fills them in)")
        self._args = args
        functions = args.functions
        tags = dict(args.tags)
        child = pulumi.ResourceOptions(parent=self)

        self.table = table_resource(name, args.plan(name), tags, self)
        table_env = {"ORDERS_TABLE": self.table.name}
        self.steps = {}
        for step in LAMBDA_STEPS:
            step_opts = child
            environment = dict(table_env)
            links = []
            if step == "Charge":
                # Provisioned concurrency attaches to a published version behind an alias, never to $LATEST.
                step_opts = pulumi.ResourceOptions(parent=self, transformations=[publish_versions])
                environment["MAX_CHARGE_AMOUNT"] = args.max_charge_amount
            if step == "Receipt":
                links = [args.receipts_write]
            self.steps[step] = PythonFunction(f"{name}-{step.lower()}", PythonFunctionArgs(
                handler=STEP_HANDLERS[step], defaults=functions, environment=environment, links=links,
                statements=step_statements(step, self.table.arn),
                timeout_seconds=args.task_timeout_seconds,
                description=functions.describe(f"Order workflow step {step}")), opts=step_opts)
        charge = self.steps["Charge"].function
        self.charge_alias = aws.lambda_.Alias(
            f"{name}-charge-{CHARGE_ALIAS}", name=CHARGE_ALIAS, function_name=charge.name,
            function_version=charge.version, opts=child)
        if args.charge_provisioned_concurrency:
            aws.lambda_.ProvisionedConcurrencyConfig(
                f"{name}-charge-provisioned", function_name=charge.name, qualifier=self.charge_alias.name,
                provisioned_concurrent_executions=args.charge_provisioned_concurrency, opts=child)

        self.compensation_queue = failure_queue(
            f"{name}-compensation-failures", functions.naming.name(f"{name}-compensation-failures", 80),
            "An order is FAILED but undoing its reservation or charge failed after every retry: each "
            "message names the order and both errors; release/refund by hand, then delete the message.",
            tags, child, args.alarm_actions,
            # The workflow's dead-letter queue (its last Catch writes here, a human reads): no queue may make it
            # its own DLQ.
            redrive_allow_policy=json.dumps({"redrivePermission": "denyAll"}),
        )

        invoked = {step: fn.arn for step, fn in self.steps.items()} | {"Charge": self.charge_alias.arn}
        account_id = functions.account_id
        if account_id is None:
            account_id = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self)).account_id
        self.role = aws.iam.Role(f"{name}-machine-role", assume_role_policy=machine_trust_policy(account_id),
                                 description="Order state machine: invoke its steps, update orders, queue email",
                                 tags=tags, opts=child)
        policy = aws.iam.RolePolicy(
            f"{name}-machine-policy", role=self.role.id,
            policy=policy_document(machine_statements(list(invoked.values()), self.table.arn, args.email,
                                                      self.compensation_queue.arn)),
            opts=child)

        steps_order = list(invoked)

        def definition(values: list[str]) -> str:
            *arns, table_name, outbox_url, compensation_url = values
            document = plan_definition(dict(zip(steps_order, arns, strict=True)), table_name, outbox_url,
                                       compensation_url, args.retry, args.task_timeout_seconds)
            problems = check_definition(document)
            if problems:
                raise ValueError(f"order state machine definition: {problems}")
            return json.dumps(document, sort_keys=True)

        self.state_machine = aws.sfn.StateMachine(
            f"{name}-machine",
            name=functions.naming.name(name, 80),
            type="STANDARD",
            role_arn=self.role.arn,
            definition=pulumi.Output.all(*invoked.values(), self.table.name, args.email.env["EMAIL_QUEUE_URL"],
                                         self.compensation_queue.url).apply(definition),
            tags=tags,
            # The role must allow the invocations before the first execution can start.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
        )

        # A timed-out execution skips every Catch, so its order stays where it was: Observability alarms on the
        # machine's ExecutionsTimedOut and ExecutionsFailed (one alarm per metric, with the stack's OK actions).

        self.cleanup_failures = failure_queue(
            f"{name}-cleanup-failures", functions.naming.name(f"{name}-cleanup-failures", 80),
            "A scheduled order cleanup failed every retry: read the cleanup function's logs. The next run "
            "picks up every stale order again (the query is idempotent).", tags, child, args.alarm_actions)
        self.cleanup = PythonFunction(f"{name}-cleanup", PythonFunctionArgs(
            handler="orders_cleanup", defaults=functions,
            environment={"ORDERS_TABLE": self.table.name, "PAGE_SIZE": "100"},
            statements=cleanup_statements(self.table.arn, self.cleanup_failures.arn),
            timeout_seconds=CLEANUP_TIMEOUT_SECONDS,
            description=functions.describe("Expires PENDING orders past their expiry")), opts=child)
        # EventBridge invokes asynchronously: a run that fails Lambda's retries is kept, not dropped.
        aws.lambda_.FunctionEventInvokeConfig(
            f"{name}-cleanup-on-failure",
            function_name=self.cleanup.function_name,
            maximum_retry_attempts=2,
            maximum_event_age_in_seconds=3600,
            destination_config=aws.lambda_.FunctionEventInvokeConfigDestinationConfigArgs(
                on_failure=aws.lambda_.FunctionEventInvokeConfigDestinationConfigOnFailureArgs(
                    destination=self.cleanup_failures.arn)),
            opts=child,
        )
        self.schedule = aws.cloudwatch.EventRule(
            f"{name}-cleanup-schedule", schedule_expression=args.cleanup_schedule,
            description="Expire stale PENDING orders", tags=tags, opts=child)
        permission = aws.lambda_.Permission(
            f"{name}-cleanup-permission", statement_id=statement_id(f"{name}-cleanup-permission"),
            action="lambda:InvokeFunction", function=self.cleanup.function_name,
            principal="events.amazonaws.com", source_arn=self.schedule.arn, opts=child)
        aws.cloudwatch.EventTarget(
            f"{name}-cleanup-target", rule=self.schedule.name, arn=self.cleanup.arn,
            retry_policy=aws.cloudwatch.EventTargetRetryPolicyArgs(maximum_retry_attempts=2,
                                                                    maximum_event_age_in_seconds=3600),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[permission]))

        self.table_name = self.table.name
        self.table_arn = self.table.arn
        self.state_machine_arn = self.state_machine.arn
        self.register_outputs({"table_name": self.table_name, "table_arn": self.table_arn,
                               "state_machine_arn": self.state_machine_arn})

    def start_link(self) -> Link:
        """For the orders queue consumer (handler `orders_start`): record PENDING orders, start executions."""
        return Link(
            env={"ORDERS_TABLE": self.table.name, "STATE_MACHINE_ARN": self.state_machine.arn,
                 "PENDING_TIMEOUT_SECONDS": str(self._args.pending_timeout_seconds),
                 "ORDER_RETENTION_DAYS": str(self._args.order_retention_days)},
            statements=[
                Statement(actions=["dynamodb:PutItem"], resources=[self.table.arn], sid="RecordPendingOrder"),
                Statement(actions=["states:StartExecution"], resources=[self.state_machine.arn],
                          sid="StartOrderWorkflow"),
            ],
        )

    def status_link(self) -> Link:
        """For GET /orders/{orderId} (handler `orders_status`): read an order and its receipt."""
        receipts = self._args.receipts_read
        return Link(
            env={"ORDERS_TABLE": self.table.name, **receipts.env},
            statements=[Statement(actions=["dynamodb:GetItem"], resources=[self.table.arn], sid="ReadOrder"),
                        *receipts.statements],
        )

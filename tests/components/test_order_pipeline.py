"""OrderPipeline under recording mocks: queues, redrive, event source mapping, exact roles, protected routes."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from components import settings as stack_settings
from components.email_sender import EmailSender
from components.order_pipeline import (
    CONSUME_ACTIONS,
    DLQ_RETENTION_SECONDS,
    OrderPipeline,
    OrderPipelineArgs,
    QueuePlan,
    plan_queues,
)
from components.secure_api import SecureApi
from components.settings import ConfigError, OrderSettings, settings_from, stack_args
from components.user_pool import UserPool
from offline.runtime import ProgramRun, stack_config
from tests.graph import FUNCTION, PERMISSION, actions_by_resource, dependency, role_statements, routes

STACKS = ("dev", "prod")
# SQS CreateQueue attribute → pulumi-aws Queue input.
QUEUE_INPUTS = {
    "VisibilityTimeout": "visibilityTimeoutSeconds",
    "MessageRetentionPeriod": "messageRetentionSeconds",
    "RedrivePolicy": "redrivePolicy",
    "SqsManagedSseEnabled": "sqsManagedSseEnabled",
    "FifoQueue": "fifoQueue",
    "ContentBasedDeduplication": "contentBasedDeduplication",
}


def program() -> None:
    stack = stack_settings.load()
    users = UserPool("api", stack.user_pool)
    api = SecureApi("api", stack.api.with_user_pools(users.arn))
    email = EmailSender("email", stack.email)
    orders = OrderPipeline("orders", replace(stack.orders, email=email.producer_link()))
    api.add_routes(orders.routes)
    api.deploy()


def settings_for_stack(stack: str) -> stack_settings.Settings:
    """The settings a stack file gives, loaded as the program loads them."""
    project, values = stack_config(stack)
    prefix = f"{project}:"
    return settings_from(lambda key: values.get(prefix + key), project=project, stack=stack)


def as_attributes(inputs: dict[str, Any]) -> dict[str, str]:
    """Queue inputs back in SQS attribute form (booleans lower-case, numbers as strings)."""
    return {
        attribute: (str(inputs[name]).lower() if isinstance(inputs[name], bool) else str(inputs[name]))
        for attribute, name in QUEUE_INPUTS.items()
        if inputs.get(name) is not None
    }


def arn(run: ProgramRun, name: str) -> str:
    return run.named(name).outputs["arn"]


def env(run: ProgramRun, component: str) -> dict[str, str]:
    return run.named(f"{component}-function").inputs["environment"]["variables"]


@pytest.mark.parametrize("stack", STACKS)
def test_queue_and_dlq_are_the_planned_ones(run_pulumi, stack: str) -> None:
    run = run_pulumi(program, stack=stack)
    plan = plan_queues(stack_args(settings_for_stack(stack)).orders, "orders")
    queue, dlq = run.named("orders-queue").inputs, run.named("orders-dlq").inputs

    assert as_attributes(queue) == plan.sqs_attributes(arn(run, "orders-dlq"))
    assert as_attributes(dlq) == plan.sqs_attributes()
    assert json.loads(queue["redrivePolicy"]) == {"deadLetterTargetArn": arn(run, "orders-dlq"), "maxReceiveCount": 3}
    assert queue["visibilityTimeoutSeconds"] == 6 * 30 == 6 * run.named("orders-process-function").inputs["timeout"]
    assert dlq["messageRetentionSeconds"] == DLQ_RETENTION_SECONDS == 14 * 24 * 3600
    assert queue["sqsManagedSseEnabled"] is True and dlq["sqsManagedSseEnabled"] is True
    assert "fifoQueue" not in queue
    assert queue["name"] == f"secure-serverless-{stack}-orders-queue"
    allow = json.loads(run.named("orders-dlq-redrive-allow").inputs["redriveAllowPolicy"])
    assert allow == {"redrivePermission": "byQueue", "sourceQueueArns": [arn(run, "orders-queue")]}
    assert run.named("orders-dlq-alarm").inputs["dimensions"] == {"QueueName": run.named("orders-dlq").outputs["name"]}


def test_configured_receive_count_and_processor_timeout_reach_the_queue(run_pulumi) -> None:
    run = run_pulumi(program, config={"ordersMaxReceiveCount": 5, "ordersProcessorTimeoutSeconds": 60,
                                      "ordersVisibilityTimeoutSeconds": 400})
    queue = run.named("orders-queue").inputs
    assert json.loads(queue["redrivePolicy"])["maxReceiveCount"] == 5
    assert queue["visibilityTimeoutSeconds"] == 400
    assert run.named("orders-process-function").inputs["timeout"] == 60


def test_a_visibility_timeout_below_six_processor_timeouts_is_a_config_error(run_pulumi) -> None:
    with pytest.raises(ConfigError, match="ordersVisibilityTimeoutSeconds = 179"):
        run_pulumi(program, config={"ordersVisibilityTimeoutSeconds": 179})


@pytest.mark.parametrize("stack", STACKS)
def test_fifo_mode_names_flags_and_batching(run_pulumi, stack: str) -> None:
    run = run_pulumi(program, stack=stack, config={"ordersFifo": True})
    for name in ("orders-queue", "orders-dlq"):
        inputs = run.named(name).inputs
        assert inputs["name"].endswith(".fifo") and len(inputs["name"]) <= 80
        assert (inputs["fifoQueue"], inputs["contentBasedDeduplication"]) == (True, False)
    trigger = run.named("orders-process-trigger").inputs
    assert trigger["batchSize"] == 10 and "maximumBatchingWindowInSeconds" not in trigger
    with pytest.raises(ConfigError, match="ordersBatchSize"):
        run_pulumi(program, stack=stack, config={"ordersFifo": True, "ordersBatchSize": 11,
                                                 "ordersBatchingWindowSeconds": 1})


@pytest.mark.parametrize("stack,concurrency", [("dev", None), ("prod", 20)])
def test_event_source_mapping_reports_item_failures_with_stack_limits(run_pulumi, stack: str,
                                                                      concurrency: int | None) -> None:
    run = run_pulumi(program, stack=stack)
    trigger = run.named("orders-process-trigger").inputs
    assert trigger["eventSourceArn"] == arn(run, "orders-queue")
    assert trigger["functionName"] == arn(run, "orders-process-function")
    assert trigger["functionResponseTypes"] == ["ReportBatchItemFailures"]
    assert trigger["batchSize"] == 10
    assert trigger.get("scalingConfig") == ({"maximumConcurrency": concurrency} if concurrency else None)
    assert len(run.of_type("aws:lambda/eventSourceMapping:EventSourceMapping")) == 2  # orders + email outbox

    wide = run_pulumi(program, stack=stack, config={"ordersBatchSize": 100, "ordersBatchingWindowSeconds": 5})
    trigger = wide.named("orders-process-trigger").inputs
    assert (trigger["batchSize"], trigger["maximumBatchingWindowInSeconds"]) == (100, 5)


@pytest.mark.parametrize("stack", STACKS)
def test_each_role_has_exactly_its_grants(run_pulumi, stack: str) -> None:
    run = run_pulumi(program, stack=stack)
    receipts = arn(run, "orders-receipts-bucket") + "/receipts/*"
    queue = arn(run, "orders-queue")
    table, machine = arn(run, "orders-workflow-table"), arn(run, "orders-workflow-machine")
    tracing = {"*": {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}} if stack == "prod" else {}

    def grants(component: str) -> dict[str, set[str]]:
        found = actions_by_resource(role_statements(run, component))
        assert found.pop(arn(run, f"{component}-logs") + ":*") == {"logs:CreateLogStream", "logs:PutLogEvents"}
        return found

    assert grants("orders-submit") == {queue: {"sqs:SendMessage"}, **tracing}
    # Issue 13: the processor records the order and starts its workflow; GET reads the table and the receipt.
    assert grants("orders-process") == {
        queue: set(CONSUME_ACTIONS),
        table: {"dynamodb:PutItem"},
        machine: {"states:StartExecution"},
        **tracing,
    }
    assert grants("orders-get") == {table: {"dynamodb:GetItem"}, receipts: {"s3:GetObject"}, **tracing}
    assert set(CONSUME_ACTIONS) == {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"}


@pytest.mark.parametrize("stack", STACKS)
def test_both_routes_are_cognito_protected_and_invoke_only_their_function(run_pulumi, stack: str) -> None:
    run = run_pulumi(program, stack=stack)
    table = routes(run)
    authorizer = run.of_type("aws:apigateway/authorizer:Authorizer")[0].urn
    execution_arn = run.of_type("aws:apigateway/restApi:RestApi")[0].outputs["executionArn"]
    expected = {"POST /orders": ("orders-submit", "/*/POST/orders"), "GET /orders/{orderId}": ("orders-get", "/*/GET/orders/*")}

    for key, (component, source) in expected.items():
        route = table[key]
        assert (route.authorization, route.authorizer_urn) == ("COGNITO_USER_POOLS", authorizer)
        function = run.named(f"{component}-function")
        permissions = [p for p in run.of_type(PERMISSION) if dependency(run, p, "function") == function]
        assert [p.inputs["sourceArn"] for p in permissions] == [execution_arn + source]
    post = table["POST /orders"].resource.inputs
    assert post["requestModels"] == {"application/json": "OrderModel"}
    model = next(m for m in run.of_type("aws:apigateway/model:Model") if m.inputs["name"] == "OrderModel")
    assert json.loads(model.inputs["schema"])["title"] == "Order"


def test_environment_contract_and_packaged_files(run_pulumi) -> None:
    run = run_pulumi(program)
    bucket = run.named("orders-receipts-bucket").outputs["bucket"]
    table = run.named("orders-workflow-table").outputs["name"]
    foundation = {"ALLOWED_ORIGINS", "STAGE", "SERVICE_NAME"}
    own = {name: {k: v for k, v in env(run, name).items() if k not in foundation}
           for name in ("orders-submit", "orders-process", "orders-get")}
    assert own == {
        "orders-submit": {"ORDERS_QUEUE_URL": run.named("orders-queue").outputs["url"]},
        "orders-process": {"ORDERS_TABLE": table, "STATE_MACHINE_ARN": arn(run, "orders-workflow-machine"),
                           "PENDING_TIMEOUT_SECONDS": "3600", "ORDER_RETENTION_DAYS": "365"},
        "orders-get": {"ORDERS_TABLE": table, "RECEIPTS_BUCKET": bucket},
    }
    archives = {f.name: f.inputs["code"]["__archive"] for f in run.of_type(FUNCTION) if f.name.startswith("orders-")}
    assert "handlers/schemas/order.json" in archives["orders-submit-function"]
    assert "handlers/orders_start.py" in archives["orders-process-function"]
    assert "handlers/orders_status.py" in archives["orders-get-function"]
    assert not any("schemas" in path for path in archives["orders-get-function"])


def test_receipts_bucket_is_a_versioned_secure_bucket(run_pulumi) -> None:
    run = run_pulumi(program, stack="prod")
    component = run.named("orders-receipts")
    assert component.type == "secure-serverless:components:SecureBucket"
    assert run.named("orders-receipts-versioning").inputs["versioningConfiguration"] == {"status": "Enabled"}
    assert run.named("orders-receipts-bucket").protect is True  # prod protects data
    [component] = run.of_type("secure-serverless:components:OrderPipeline")
    outputs = run.component_outputs[component.urn]
    assert outputs["receipts_bucket"] == run.named("orders-receipts-bucket").outputs["bucket"]
    assert outputs["queue_url"] == run.named("orders-queue").outputs["url"]


def test_every_child_is_parented_to_the_component(run_pulumi) -> None:
    run = run_pulumi(program)
    [component] = run.of_type("secure-serverless:components:OrderPipeline")
    direct = {r.name for r in run.children_of(component.urn)}
    assert direct == {"orders-dlq", "orders-queue", "orders-dlq-redrive-allow", "orders-dlq-alarm", "orders-receipts",
                      "orders-submit", "orders-process", "orders-get", "orders-process-trigger", "orders-workflow"}


# ---------------------------------------------------------------------------------------------- the plan

BASE = OrderSettings(fifo=False, max_receive_count=3, batch_size=10, batching_window_seconds=0, max_concurrency=None,
                     processor_timeout_seconds=30, visibility_timeout_seconds=None)


DEV_FUNCTIONS = stack_args(settings_from(lambda key: None, project="secure-serverless", stack="dev")).functions


def _args_for(orders: OrderSettings, functions=DEV_FUNCTIONS) -> OrderPipelineArgs:
    return OrderPipelineArgs(
        functions=functions, fifo=orders.fifo, max_receive_count=orders.max_receive_count,
        batch_size=orders.batch_size, batching_window_seconds=orders.batching_window_seconds,
        max_concurrency=orders.max_concurrency, processor_timeout_seconds=orders.processor_timeout_seconds,
        visibility_timeout_seconds=orders.visibility_timeout_seconds)


def _plan_for(orders: OrderSettings) -> QueuePlan:
    return plan_queues(_args_for(orders), "orders")


def _aws_accepts(o: OrderSettings) -> bool:
    visibility = o.effective_visibility_timeout
    return (
        visibility >= 6 * o.processor_timeout_seconds
        and visibility <= 43200
        and o.batch_size <= (10 if o.fifo else 10_000)
        and not (o.fifo and o.batching_window_seconds)
        and not (o.batch_size > 10 and o.batching_window_seconds < 1)
        and (o.max_concurrency is None or 2 <= o.max_concurrency <= 1000)
    )


@given(
    fifo=st.booleans(),
    batch_size=st.sampled_from([1, 10, 11, 100, 10_000, 10_001]),
    window=st.sampled_from([0, 1, 300]),
    timeout=st.integers(1, 900),
    visibility=st.one_of(st.none(), st.integers(0, 43200)),
    concurrency=st.one_of(st.none(), st.integers(0, 1001)),
)
def test_plan_accepts_exactly_what_aws_accepts(fifo, batch_size, window, timeout, visibility, concurrency) -> None:
    orders = replace(BASE, fifo=fifo, batch_size=batch_size, batching_window_seconds=window,
                     processor_timeout_seconds=timeout, visibility_timeout_seconds=visibility,
                     max_concurrency=concurrency)
    if not _aws_accepts(orders):
        with pytest.raises(ValueError, match="invalid orders queue plan"):
            _plan_for(orders)
        return
    plan = _plan_for(orders)
    assert plan.visibility_timeout_seconds >= 6 * plan.processor_timeout_seconds
    assert plan.queue_name.endswith(".fifo") == plan.dlq_name.endswith(".fifo") == fifo
    attributes = plan.sqs_attributes("arn:aws:sqs:us-east-1:123456789012:dlq")
    assert json.loads(attributes["RedrivePolicy"])["maxReceiveCount"] == orders.max_receive_count
    assert ("FifoQueue" in attributes) == fifo


def test_settings_and_plan_agree_on_the_limits() -> None:
    """Every combination the settings loader accepts, the plan accepts too (and the loader refuses the rest)."""
    for values in ({"ordersFifo": "true", "ordersBatchingWindowSeconds": "2"},
                   {"ordersProcessorTimeoutSeconds": "60", "ordersVisibilityTimeoutSeconds": "359"}):
        with pytest.raises(ConfigError):
            settings_from(values.get, project="secure-serverless", stack="dev")
    settings = settings_from({"ordersFifo": "true", "ordersMaxConcurrency": "2"}.get,
                             project="secure-serverless", stack="dev")
    assert _plan_for(settings.orders).fifo is True


def test_long_stack_names_still_give_valid_fifo_names() -> None:
    settings = settings_from(lambda key: None, project="secure-serverless-" + "x" * 60, stack="production-eu")
    plan = plan_queues(_args_for(replace(BASE, fifo=True), stack_args(settings).functions), "orders")
    assert len(plan.queue_name) <= 80 and plan.queue_name.endswith(".fifo") and plan.queue_name != plan.dlq_name


def test_args_without_the_outbox_link_are_refused_at_construction(run_pulumi) -> None:
    def no_email():
        OrderPipeline("orders", stack_settings.load().orders)

    with pytest.raises(ValueError, match="producer_link"):
        run_pulumi(no_email)


def test_an_args_error_is_reported_under_its_config_key() -> None:
    """An Args check surfaces as one ConfigError naming the stack and the key the value came from."""
    settings = settings_from({"ordersFifo": "true"}.get, project="secure-serverless", stack="dev")
    broken = replace(settings, orders=replace(settings.orders, max_concurrency=1))
    with pytest.raises(ConfigError, match=r"(?s)stack .dev.*secure-serverless:ordersMaxConcurrency"):
        stack_args(broken)

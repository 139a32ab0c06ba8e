"""OrderWorkflow under recording mocks: the orders table, the state machine definition as deployed (parsed and
checked), exactly scoped roles, the charge alias, the cleanup schedule, and the links for the pipeline."""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.bucket import SecureBucket, SecureBucketArgs
from components.link import Link, Statement
from components.order_states import (
    LAMBDA_STEPS,
    check_definition,
    integration_actions,
    invoked_functions,
    reachable,
)
from components.order_workflow import OrderWorkflow, OrderWorkflowArgs
from components.settings import StackArgs
from offline.mocks import ACCOUNT_ID, REGION
from offline.runtime import ProgramRun
from tests.graph import ROLE_POLICY, actions_by_resource, dependency, role_statements, statements_of
from tests.programs import load_stack

OUTBOX_ARN = f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:email-outbox"
OUTBOX_URL = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT_ID}/email-outbox"


def email_link() -> Link:
    return Link(env={"EMAIL_QUEUE_URL": OUTBOX_URL},
                statements=[Statement(actions=["sqs:SendMessage"], resources=[OUTBOX_ARN], sid="EnqueueEmail")])


def workflow_args(stack: StackArgs, receipts: SecureBucket, **overrides: Any) -> OrderWorkflowArgs:
    """Explicit Args, as OrderPipeline fills them in: its functions, the outbox link, the receipts links."""
    values = dict(functions=stack.functions, email=email_link(),
                  receipts_write=receipts.write_link("receipts/", env="RECEIPTS_BUCKET", sid="WriteReceipts"),
                  receipts_read=receipts.read_link("receipts/", env="RECEIPTS_BUCKET", sid="ReadReceipts"),
                  protect=stack.settings.protect_data, tags=stack.settings.tags)
    return OrderWorkflowArgs(**(values | overrides))


def program(stack_name: str = "dev", **overrides: Any):
    def run() -> None:
        stack = load_stack()
        receipts = SecureBucket("receipts", SecureBucketArgs(versioned=True))
        OrderWorkflow("orders-workflow", workflow_args(stack, receipts, **overrides))

    return run


def definition(run: ProgramRun) -> dict[str, Any]:
    return json.loads(run.named("orders-workflow-machine").inputs["definition"])


def grants(run: ProgramRun, component: str) -> dict[str, set[str]]:
    found = actions_by_resource(role_statements(run, component))
    return {arn: actions for arn, actions in found.items() if not str(arn).startswith("arn:aws:logs:")}


def machine_grants(run: ProgramRun) -> dict[str, set[str]]:
    role = run.named("orders-workflow-machine-role")
    statements = [st for p in run.of_type(ROLE_POLICY) if dependency(run, p, "role") == role
                  for st in statements_of(p.inputs["policy"])]
    return actions_by_resource(statements)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_orders_table_keys_index_ttl_recovery_and_protection(run_pulumi, stack: str) -> None:
    run = run_pulumi(program(stack), stack=stack)
    table = run.named("orders-workflow-table")
    production = stack == "prod"

    assert table.inputs["billingMode"] == "PAY_PER_REQUEST"
    assert table.inputs["hashKey"] == "orderId"
    assert sorted(table.inputs["attributes"], key=lambda a: a["name"]) == [
        {"name": "expiresAt", "type": "N"}, {"name": "orderId", "type": "S"}, {"name": "status", "type": "S"}]
    assert table.inputs["globalSecondaryIndexes"] == [
        {"name": "status-expiresAt", "projectionType": "KEYS_ONLY",
         "keySchemas": [{"attributeName": "status", "keyType": "HASH"}, {"attributeName": "expiresAt", "keyType": "RANGE"}]}]
    assert table.inputs["ttl"] == {"attributeName": "ttlEpoch", "enabled": True}
    assert table.inputs["pointInTimeRecovery"] == {"enabled": True}
    assert table.inputs["serverSideEncryption"] == {"enabled": True}
    assert table.inputs["deletionProtectionEnabled"] is production
    assert (table.protect, table.retain_on_delete) == (production, production)


def test_deployed_definition_is_sound_and_invokes_exactly_the_step_functions(run_pulumi) -> None:
    run = run_pulumi(program())
    document = definition(run)
    states = document["States"]

    assert check_definition(document) == []
    assert reachable(document) == set(states)
    for name, state in states.items():
        if state["Type"] == "Task":
            assert state["Retry"] and state["Catch"], name
            assert all(r["BackoffRate"] >= 1 and r["MaxAttempts"] < 10 for r in state["Retry"]), name
    functions = {step: run.named(f"orders-workflow-{step.lower()}-function").outputs["arn"] for step in LAMBDA_STEPS}
    functions["Charge"] = run.named("orders-workflow-charge-live").outputs["arn"]
    assert invoked_functions(document) == functions
    assert functions["Charge"].endswith(":live")
    assert run.named("orders-workflow-machine").inputs["type"] == "STANDARD"
    # Direct integrations name the table and the outbox the roles are scoped to.
    table = run.named("orders-workflow-table").outputs
    assert states["Confirm"]["Parameters"]["TableName"] == table["name"]
    assert states["MarkFailed"]["Parameters"]["TableName"] == table["name"]
    assert states["QueueConfirmation"]["Parameters"]["QueueUrl"] == OUTBOX_URL
    park = run.named("orders-workflow-compensation-failures")
    assert states["ParkCompensation"]["Parameters"]["QueueUrl"] == park.outputs["url"]
    assert park.inputs["sqsManagedSseEnabled"] is True
    alarm = run.named("orders-workflow-compensation-failures-alarm").inputs
    assert alarm["dimensions"] == {"QueueName": park.inputs["name"]} and alarm["threshold"] == 0


def test_state_machine_role_can_do_exactly_what_the_definition_uses(run_pulumi) -> None:
    run = run_pulumi(program())
    document = definition(run)
    granted = machine_grants(run)
    table_arn = run.named("orders-workflow-table").outputs["arn"]

    park = run.named("orders-workflow-compensation-failures").outputs["arn"]
    assert granted == {**{arn: {"lambda:InvokeFunction"} for arn in invoked_functions(document).values()},
                       table_arn: {"dynamodb:UpdateItem"}, OUTBOX_ARN: {"sqs:SendMessage"}, park: {"sqs:SendMessage"}}
    assert set().union(*granted.values()) == integration_actions(document)
    trust = json.loads(run.named("orders-workflow-machine-role").inputs["assumeRolePolicy"])["Statement"]
    assert trust == [{"Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"}, "Action": "sts:AssumeRole",
                      "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT_ID}}}]


def test_each_step_and_the_cleanup_hold_exactly_their_grants(run_pulumi) -> None:
    run = run_pulumi(program())
    table_arn = run.named("orders-workflow-table").outputs["arn"]
    receipts = run.named("receipts-bucket").outputs["arn"] + "/receipts/*"

    assert grants(run, "orders-workflow-validate") == {table_arn: {"dynamodb:GetItem", "dynamodb:UpdateItem"}}
    assert grants(run, "orders-workflow-reserve") == {table_arn: {"dynamodb:UpdateItem"}}
    assert grants(run, "orders-workflow-charge") == {table_arn: {"dynamodb:GetItem", "dynamodb:UpdateItem"}}
    assert grants(run, "orders-workflow-receipt") == {table_arn: {"dynamodb:GetItem"}, receipts: {"s3:PutObject"}}
    assert grants(run, "orders-workflow-compensate") == {table_arn: {"dynamodb:GetItem", "dynamodb:UpdateItem"}}
    failures = run.named("orders-workflow-cleanup-failures").outputs["arn"]
    assert grants(run, "orders-workflow-cleanup") == {f"{table_arn}/index/status-expiresAt": {"dynamodb:Query"},
                                                      table_arn: {"dynamodb:UpdateItem"},
                                                      failures: {"sqs:SendMessage"}}


def test_charge_is_published_behind_an_alias_with_optional_provisioned_concurrency(run_pulumi) -> None:
    run = run_pulumi(program(charge_provisioned_concurrency=5))
    published = {fn.name for fn in run.of_type("aws:lambda/function:Function") if fn.inputs.get("publish")}
    alias = run.named("orders-workflow-charge-live").inputs
    provisioned = run.named("orders-workflow-charge-provisioned").inputs

    assert published == {"orders-workflow-charge-function"}
    assert alias["functionVersion"] == "1" and alias["name"] == "live"
    assert provisioned == {"functionName": alias["functionName"], "qualifier": "live",
                           "provisionedConcurrentExecutions": 5}


def test_no_provisioned_concurrency_unless_asked(run_pulumi) -> None:
    run = run_pulumi(program())
    assert not run.of_type("aws:lambda/provisionedConcurrencyConfig:ProvisionedConcurrencyConfig")


def test_cleanup_runs_on_the_schedule_and_only_that_rule_may_invoke_it(run_pulumi) -> None:
    run = run_pulumi(program(cleanup_schedule="rate(30 minutes)"))
    rule = run.named("orders-workflow-cleanup-schedule")
    target = run.named("orders-workflow-cleanup-target").inputs
    permission = run.named("orders-workflow-cleanup-permission").inputs
    cleanup = run.named("orders-workflow-cleanup-function")

    assert rule.inputs["scheduleExpression"] == "rate(30 minutes)"
    assert target["arn"] == cleanup.outputs["arn"] and target["rule"] == rule.outputs["name"]
    assert target["retryPolicy"] == {"maximumRetryAttempts": 2, "maximumEventAgeInSeconds": 3600}
    assert permission["principal"] == "events.amazonaws.com"
    assert permission["sourceArn"] == rule.outputs["arn"]
    assert permission["function"] == cleanup.outputs["name"]
    invoke = run.named("orders-workflow-cleanup-on-failure").inputs
    assert invoke["functionName"] == cleanup.outputs["name"] and invoke["maximumRetryAttempts"] == 2
    assert invoke["destinationConfig"]["onFailure"]["destination"] == run.named(
        "orders-workflow-cleanup-failures").outputs["arn"]


def test_links_give_the_pipeline_exactly_what_its_handlers_call(run_pulumi) -> None:
    captured: dict[str, Any] = {}

    def run_program() -> None:
        receipts = SecureBucket("receipts", SecureBucketArgs(versioned=True))
        workflow = OrderWorkflow("orders-workflow", workflow_args(load_stack(), receipts))
        captured["start"], captured["status"] = workflow.start_link(), workflow.status_link()

    run = run_pulumi(run_program)
    start, status = captured["start"], captured["status"]

    assert set(start.env) == {"ORDERS_TABLE", "STATE_MACHINE_ARN", "PENDING_TIMEOUT_SECONDS", "ORDER_RETENTION_DAYS"}
    assert [(s.actions, s.sid) for s in start.statements] == [
        (["dynamodb:PutItem"], "RecordPendingOrder"), (["states:StartExecution"], "StartOrderWorkflow")]
    assert set(status.env) == {"ORDERS_TABLE", "RECEIPTS_BUCKET"}
    assert [list(s.actions) for s in status.statements] == [["dynamodb:GetItem"], ["s3:GetObject"]]
    assert run.named("orders-workflow-machine")  # built


@pytest.mark.parametrize(("override", "message"), [
    ({"cleanup_schedule": "rate(1 hours)"}, "singular"),
    ({"cleanup_schedule": "every hour"}, "schedule"),
    ({"max_charge_amount": "10"}, "max_charge_amount"),
    ({"pending_timeout_seconds": 5}, "pending_timeout_seconds"),
    ({"task_timeout_seconds": 901}, "task timeout"),
    ({"email": Link(env={"OTHER": "x"})}, "EMAIL_QUEUE_URL"),
    ({"receipts_read": Link(env={"BUCKET": "x"})}, "RECEIPTS_BUCKET"),
])
def test_args_refuse_what_aws_would(override: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        OrderWorkflowArgs(**override)


def test_the_workflow_needs_what_the_pipeline_fills_in(run_pulumi) -> None:
    def run() -> None:
        with pytest.raises(ValueError, match="email"):
            OrderWorkflow("orders-workflow", OrderWorkflowArgs(functions=load_stack().functions))

    run_pulumi(run)


def test_the_policy_pack_finds_nothing_in_prod(run_pulumi) -> None:
    from policies.check import stack_config_path
    from policies.guard import RULES
    from policies.guard.adapters import from_program_run
    from policies.guard.config import load
    from policies.guard.engine import evaluate

    run = run_pulumi(program("prod"), stack="prod")
    report = evaluate(from_program_run(run), RULES, load(RULES, stack_config_path("prod")))
    assert report.findings == ()
    assert report.resources > 20

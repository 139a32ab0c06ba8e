"""The order workflow executed by moto's ASL interpreter, end to end from POST /orders.

POST /orders (orders_submit) ─> SQS ─> orders_start ─> PENDING record + StartExecution(name = order id)
   ─> Validate ─> Reserve ─> Charge ─> Receipt ─> Confirm (direct DynamoDB) ─> QueueConfirmation (direct SQS)

The state machine is the one `components.order_states.plan_definition` plans for the program. moto's
interpreter calls `lambda:Invoke` through its own Lambda backend, which would run the code in Docker
(`LambdaFunction._invoke_lambda`): the `dispatch` fixture replaces exactly that method so each Lambda task runs
the real handler module in-process, with the function's own environment, and a raised exception becomes a
Lambda function error whose `errorType` Step Functions matches in Retry/Catch — as on AWS.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import boto3
import pytest

from components.email_templates import load_templates
from components.order_states import (
    LAMBDA_STEPS,
    STEP_HANDLERS,
    orders_table,
    plan_definition,
)
from handlers.common.validation import load_schema, validate
from tests.events import ACCOUNT_ID, REGION, LambdaContext, cognito_claims, sqs_event_from_messages
from tests.handlers.test_orders_submit import create_idempotency_table, create_queue, order_body, post_order, queued

TABLE = "orders-test"
BUCKET = "receipts-test"
MACHINE = "orders-workflow-test"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT_ID}:role/orders-steps"


def create_table(name: str = TABLE) -> None:
    """The orders table exactly as planned (keys, index) — the component builds it from the same plan."""
    plan = orders_table(name, protect=False)
    ddb = boto3.client("dynamodb", region_name=REGION)
    ddb.create_table(
        TableName=plan.name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": k, "AttributeType": t} for k, t in plan.attributes.items()],
        KeySchema=[{"AttributeName": plan.hash_key, "KeyType": "HASH"}],
        GlobalSecondaryIndexes=[
            {"IndexName": ix.name,
             "KeySchema": [{"AttributeName": ix.hash_key, "KeyType": "HASH"},
                           {"AttributeName": ix.range_key, "KeyType": "RANGE"}],
             "Projection": {"ProjectionType": ix.projection}}
            for ix in plan.indexes
        ],
    )


class InProcessLambda:
    """Replacement for moto's `LambdaFunction._invoke_lambda`: run our handler module in this process.

    `failures[function name]` is a list of exceptions to raise on that function's next invocations (a transient
    outage, say), before its real handler runs again."""

    def __init__(self) -> None:
        self.modules: dict[str, ModuleType] = {}
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.failures: dict[str, list[Exception]] = {}
        self.lock = threading.Lock()

    def module(self, handler: str, env: dict[str, str]) -> ModuleType:
        name = handler.rsplit(".", 1)[0]
        with self.lock:
            if name not in self.modules:
                os.environ.update(env)  # a cold start: the module reads its environment at import
                self.modules[name] = importlib.reload(importlib.import_module(name))
            return self.modules[name]

    def __call__(self, function: Any, event: Any = None) -> tuple[str, bool, str]:
        module = self.module(function.handler, dict(function.environment_vars))
        self.calls.append((function.function_name, event))
        try:
            pending = self.failures.get(function.function_name)
            if pending:
                raise pending.pop(0)
            result = module.handler(event, LambdaContext(function_name=function.function_name))
        except Exception as exc:  # noqa: BLE001 - Lambda reports any exception as a function error
            return json.dumps({"errorType": type(exc).__name__, "errorMessage": str(exc)}), True, ""
        return json.dumps(result, default=str), False, ""


@dataclass
class Workflow:
    machine_arn: str
    orders_url: str
    orders_arn: str
    outbox_url: str
    park_url: str
    submit: ModuleType
    start: ModuleType
    lambdas: InProcessLambda

    def submit_orders(self, *bodies: dict[str, Any], sub: str = "sub-1") -> list[dict[str, Any]]:
        for body in bodies:
            assert post_order(self.submit, body, claims=cognito_claims(sub=sub, email="ann@example.com"))[0] == 202
        return queued(self.orders_url)

    def deliver(self, messages: list[dict[str, Any]]) -> list[str]:
        event = sqs_event_from_messages(messages, self.orders_arn)
        return [f["itemIdentifier"] for f in self.start.handler(event, LambdaContext())["batchItemFailures"]]

    def executions(self) -> list[dict[str, Any]]:
        sfn = boto3.client("stepfunctions", region_name=REGION)
        return sfn.list_executions(stateMachineArn=self.machine_arn)["executions"]

    def wait(self, order_id: str, timeout: float = 30.0) -> dict[str, Any]:
        sfn = boto3.client("stepfunctions", region_name=REGION)
        arn = f"arn:aws:states:{REGION}:{ACCOUNT_ID}:execution:{MACHINE}:{order_id}"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            execution = sfn.describe_execution(executionArn=arn)
            if execution["status"] != "RUNNING":
                return execution
            time.sleep(0.05)
        raise AssertionError(f"execution {order_id} still running after {timeout} s")

    def history(self, order_id: str) -> list[dict[str, Any]]:
        sfn = boto3.client("stepfunctions", region_name=REGION)
        arn = f"arn:aws:states:{REGION}:{ACCOUNT_ID}:execution:{MACHINE}:{order_id}"
        return sfn.get_execution_history(executionArn=arn)["events"]

    def jobs(self) -> list[dict[str, Any]]:
        return [json.loads(m["Body"]) for m in queued(self.outbox_url)]


def order(order_id: str) -> dict[str, Any]:
    return boto3.resource("dynamodb", region_name=REGION).Table(TABLE).get_item(Key={"orderId": order_id})["Item"]


def statuses(item: dict[str, Any]) -> list[str]:
    return [entry["status"] for entry in item["history"]]


def create_function(name: str, handler: str, env: dict[str, str]) -> str:
    lam = boto3.client("lambda", region_name=REGION)
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(f"handlers/{handler}.py", "# the real module runs in-process\n")
    return lam.create_function(FunctionName=name, Runtime="python3.12", Role=ROLE_ARN,
                               Handler=f"handlers.{handler}.handler", Code={"ZipFile": buffer.getvalue()},
                               Environment={"Variables": env})["FunctionArn"]


@pytest.fixture
def workflow(monkeypatch: pytest.MonkeyPatch, load_handler) -> Iterator[Workflow]:
    from moto import mock_aws
    from moto.awslambda.models import LambdaFunction

    from offline.local import moto_patches

    moto_patches.stepfunctions_definitions_parsed_once()  # speed only: one ANTLR parse per definition
    lambdas = InProcessLambda()
    # moto logs every evaluation error of the interpreter (a Catch taken is one) with the whole parse tree.
    logging.getLogger("moto.stepfunctions.parser").setLevel(logging.CRITICAL)
    monkeypatch.setattr(LambdaFunction, "_invoke_lambda", lambda self, event=None: lambdas(self, event))
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        iam = boto3.client("iam", region_name=REGION)
        iam.create_role(RoleName="orders-steps", AssumeRolePolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                    "Principal": {"Service": "lambda.amazonaws.com"}}]}))
        create_table()
        boto3.client("s3", region_name=REGION).create_bucket(Bucket=BUCKET)
        orders_url = create_queue("orders")
        outbox_url = create_queue("outbox")
        park_url = create_queue("compensation-failures")
        env = {"ORDERS_TABLE": TABLE, "RECEIPTS_BUCKET": BUCKET, "MAX_CHARGE_AMOUNT": "100.00"}
        arns = {}
        for step in LAMBDA_STEPS:
            arns[step] = create_function(f"orders-{step.lower()}", STEP_HANDLERS[step], env)
        lam = boto3.client("lambda", region_name=REGION)
        version = lam.publish_version(FunctionName="orders-charge")["Version"]
        arns["Charge"] = lam.create_alias(FunctionName="orders-charge", Name="live", FunctionVersion=version)[
            "AliasArn"]
        definition = plan_definition(arns, TABLE, outbox_url, park_url)
        machine_arn = boto3.client("stepfunctions", region_name=REGION).create_state_machine(
            name=MACHINE, definition=json.dumps(definition), type="STANDARD",
            roleArn=f"arn:aws:iam::{ACCOUNT_ID}:role/orders-workflow")["stateMachineArn"]
        sqs = boto3.client("sqs", region_name=REGION)
        orders_arn = sqs.get_queue_attributes(QueueUrl=orders_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"]
        submit = load_handler("orders_submit", {"ORDERS_QUEUE_URL": orders_url,
                                                "IDEMPOTENCY_TABLE": create_idempotency_table()})
        start = load_handler("orders_start", {"ORDERS_TABLE": TABLE, "STATE_MACHINE_ARN": machine_arn,
                                              "PENDING_TIMEOUT_SECONDS": "3600", "ORDER_RETENTION_DAYS": "365"})
        yield Workflow(machine_arn, orders_url, orders_arn, outbox_url, park_url, submit, start, lambdas)


def test_a_full_order_reaches_confirmed_with_receipt_and_one_confirmation(workflow: Workflow) -> None:
    messages = workflow.submit_orders(order_body(("A-1", 2, "9.50"), ("B-2", 1, "3.00")))
    order_id = json.loads(messages[0]["Body"])["orderId"]

    assert workflow.deliver(messages) == []
    execution = workflow.wait(order_id)

    assert execution["status"] == "SUCCEEDED", workflow.history(order_id)[-3:]
    item = order(order_id)
    assert item["status"] == "CONFIRMED"
    assert statuses(item) == ["PENDING", "VALIDATED", "RESERVED", "CHARGED", "CONFIRMED"]
    assert "expiresAt" not in item  # out of the cleanup index since Validate
    # Handlers write the format AWS gives `$$.State.EnteredTime` (what the direct updates write; moto 5.2.5 renders
    # that one as isoformat with microseconds instead, so CONFIRMED's entry is not checked here).
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", h["at"]) for h in item["history"][:-1])
    assert item["receiptKey"] == f"receipts/sub-1/{order_id}.json"
    receipt = json.loads(boto3.client("s3", region_name=REGION).get_object(Bucket=BUCKET, Key=item["receiptKey"])
                         ["Body"].read())
    assert receipt["total"] == "22.00" and receipt["chargeId"] == f"ch-{order_id}"
    jobs = workflow.jobs()
    assert jobs == [{"template": "OrderConfirmation", "to": ["ann@example.com"],
                     "data": {"orderId": order_id, "total": "22.00", "currency": "USD", "name": "customer"}}]
    # The job the state machine composes is one the email sender accepts and can render.
    assert validate(load_schema("email_job"), jobs[0]) == []
    template = next(t for t in load_templates() if t.name == "OrderConfirmation")
    assert template.variables <= set(jobs[0]["data"])
    # Each Lambda task ran once, the charge through its alias (provisioned concurrency lives there).
    assert [name for name, _ in workflow.lambdas.calls] == [
        "orders-validate", "orders-reserve", "orders-charge", "orders-receipt"]


def test_a_charge_failure_reaches_failed_and_releases_the_reservation(workflow: Workflow) -> None:
    messages = workflow.submit_orders(order_body(("A-1", 3, "50.00")))  # 150.00 > MAX_CHARGE_AMOUNT
    order_id = json.loads(messages[0]["Body"])["orderId"]

    assert workflow.deliver(messages) == []
    execution = workflow.wait(order_id)

    assert execution["status"] == "FAILED"
    item = order(order_id)
    assert item["status"] == "FAILED"
    assert item["failureReason"] == "PaymentDeclined"
    assert statuses(item) == ["PENDING", "VALIDATED", "RESERVED", "FAILED", "RELEASED"]
    assert item["reservation"]["released"] is True
    assert "charge" not in item
    assert workflow.jobs() == []  # no confirmation for a failed order
    assert not boto3.client("s3", region_name=REGION).list_objects_v2(Bucket=BUCKET).get("Contents")
    failed = [e for e in workflow.history(order_id) if e["type"] == "ExecutionFailed"]
    assert failed[0]["executionFailedEventDetails"]["error"] == "OrderFailed"


def test_a_redelivered_message_starts_no_second_execution(workflow: Workflow) -> None:
    messages = workflow.submit_orders(order_body(("A-1", 1, "5.00")))
    order_id = json.loads(messages[0]["Body"])["orderId"]

    assert workflow.deliver(messages) == []
    assert workflow.deliver(messages) == []  # while it runs (same name, same input)
    workflow.wait(order_id)
    assert workflow.deliver(messages) == []  # after it finished (ExecutionAlreadyExists)

    assert [e["name"] for e in workflow.executions()] == [order_id]
    assert statuses(order(order_id)).count("CONFIRMED") == 1
    assert len(workflow.jobs()) == 1


def test_a_transient_step_failure_is_retried_and_the_order_still_confirms(workflow: Workflow) -> None:
    from handlers.common.order_state import TransientError

    workflow.lambdas.failures["orders-reserve"] = [TransientError("throttled"), TransientError("throttled")]
    messages = workflow.submit_orders(order_body(("A-1", 1, "5.00")))
    order_id = json.loads(messages[0]["Body"])["orderId"]

    workflow.deliver(messages)

    assert workflow.wait(order_id)["status"] == "SUCCEEDED"
    assert [name for name, _ in workflow.lambdas.calls].count("orders-reserve") == 3
    assert statuses(order(order_id)) == ["PENDING", "VALIDATED", "RESERVED", "CHARGED", "CONFIRMED"]


def test_an_order_expired_before_its_workflow_ran_stays_expired(workflow: Workflow, load_handler) -> None:
    messages = workflow.submit_orders(order_body(("A-1", 1, "5.00")))
    body = json.loads(messages[0]["Body"])
    assert workflow.start.record(body) is True  # recorded, but the workflow never got going...
    table = boto3.resource("dynamodb", region_name=REGION).Table(TABLE)
    table.update_item(Key={"orderId": body["orderId"]}, UpdateExpression="SET expiresAt = :past",
                      ExpressionAttributeValues={":past": 1})
    cleanup = load_handler("orders_cleanup", {"ORDERS_TABLE": TABLE})
    assert cleanup.handler({}, LambdaContext())["expired"] == 1

    workflow.deliver(messages)  # ...until the message is redelivered

    assert workflow.wait(body["orderId"])["status"] == "FAILED"
    item = order(body["orderId"])
    assert item["status"] == "EXPIRED" and statuses(item) == ["PENDING", "EXPIRED"]
    assert workflow.jobs() == []


def test_get_order_answers_from_the_table_as_the_workflow_moves(workflow: Workflow, load_handler) -> None:
    from tests.events import api_event

    status = load_handler("orders_status", {"ORDERS_TABLE": TABLE, "RECEIPTS_BUCKET": BUCKET})

    def get(order_id: str, sub: str) -> tuple[int, dict[str, Any]]:
        event = api_event("GET", "/orders/{orderId}", path=f"/orders/{order_id}",
                          path_parameters={"orderId": order_id}, claims=cognito_claims(sub=sub))
        response = status.handler(event, LambdaContext())
        return response["statusCode"], json.loads(response["body"])

    messages = workflow.submit_orders(order_body(("A-1", 2, "21.25")))
    order_id = json.loads(messages[0]["Body"])["orderId"]
    assert get(order_id, "sub-1")[0] == 404  # queued, not yet recorded
    workflow.deliver(messages)
    workflow.wait(order_id)

    code, body = get(order_id, "sub-1")
    assert code == 200 and body["status"] == "CONFIRMED" and body["total"] == "42.50"
    assert body["receipt"]["orderId"] == order_id
    assert get(order_id, "sub-2")[0] == 404


def test_a_failed_compensation_parks_the_order_for_a_human(workflow: Workflow) -> None:
    workflow.lambdas.failures["orders-compensate"] = [RuntimeError("refund service down")]
    messages = workflow.submit_orders(order_body(("A-1", 3, "50.00")))  # declined at Charge
    order_id = json.loads(messages[0]["Body"])["orderId"]

    workflow.deliver(messages)

    assert workflow.wait(order_id)["status"] == "FAILED"
    failed = [e for e in workflow.history(order_id) if e["type"] == "ExecutionFailed"]
    assert failed[0]["executionFailedEventDetails"]["error"] == "CompensationFailed"
    item = order(order_id)
    assert item["status"] == "FAILED" and item["reservation"]["released"] is False  # not undone...
    parked = [json.loads(m["Body"]) for m in queued(workflow.park_url)]
    assert [p["orderId"] for p in parked] == [order_id]  # ...but waiting, alarmed, for a human
    assert parked[0]["error"]["Error"] == "PaymentDeclined"
    assert parked[0]["compensationError"]["Error"] == "RuntimeError"

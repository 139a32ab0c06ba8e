"""PythonFunction: own role, own log group, logs-only baseline, caller statements, minimal archive."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from components.function import (
    Condition,
    FunctionDefaults,
    Link,
    PythonFunction,
    PythonFunctionArgs,
    Statement,
    plan_archive,
)
from components.naming import Naming
from tests.graph import actions_by_resource, role_statements
from tests.programs import load_stack

QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:orders"


def one_function(**overrides):
    def program():
        PythonFunction("worker", PythonFunctionArgs(handler="hello", defaults=load_stack().functions, **overrides))

    return program


def test_role_trusts_only_lambda_for_this_account(run_pulumi) -> None:
    run = run_pulumi(one_function())
    trust = json.loads(run.named("worker-role").inputs["assumeRolePolicy"])
    assert trust["Statement"] == [
        {
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": "123456789012"}},
        }
    ]


def test_log_group_is_the_functions_own_with_stack_retention(run_pulumi) -> None:
    run = run_pulumi(one_function(), config={"logRetentionDays": 30})
    fn = run.named("worker-function")
    group = run.named("worker-logs")
    assert fn.inputs["name"] == "secure-serverless-dev-worker"
    assert group.inputs["name"] == "/aws/lambda/secure-serverless-dev-worker"
    assert group.inputs["retentionInDays"] == 30
    assert fn.inputs["loggingConfig"] == {"logFormat": "Text", "logGroup": group.inputs["name"]}


def test_baseline_policy_is_only_log_writes_on_its_own_group(run_pulumi) -> None:
    run = run_pulumi(one_function())
    group_arn = run.named("worker-logs").outputs["arn"]
    assert actions_by_resource(role_statements(run, "worker")) == {
        f"{group_arn}:*": {"logs:CreateLogStream", "logs:PutLogEvents"}
    }


def test_caller_statements_are_added_verbatim_with_conditions(run_pulumi) -> None:
    statement = Statement(
        actions=["sqs:SendMessage"],
        resources=[QUEUE_ARN],
        conditions=[Condition("StringEquals", "aws:SourceAccount", ["123456789012"])],
    )
    run = run_pulumi(one_function(statements=[statement]))
    statements = role_statements(run, "worker")
    assert {"Effect": "Allow", "Action": ["sqs:SendMessage"], "Resource": [QUEUE_ARN],
            "Condition": {"StringEquals": {"aws:SourceAccount": ["123456789012"]}}} in statements
    assert len(statements) == 2


def test_tracing_adds_only_xray_writes_on_star(run_pulumi) -> None:
    run = run_pulumi(one_function(), config={"lambdaTracing": True})
    grants = actions_by_resource(role_statements(run, "worker"))
    assert grants["*"] == {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}
    assert run.named("worker-function").inputs["tracingConfig"] == {"mode": "Active"}


def test_function_settings_come_from_stack_defaults_and_overrides(run_pulumi) -> None:
    run = run_pulumi(one_function(timeout_seconds=42, reserved_concurrency=5),
                     config={"lambdaMemoryMb": 512, "lambdaArchitecture": "x86_64"})
    fn = run.named("worker-function").inputs
    assert fn["runtime"] == "python3.12"
    assert fn["handler"] == "handlers.hello.handler"
    assert (fn["memorySize"], fn["timeout"], fn["reservedConcurrentExecutions"]) == (512, 42, 5)
    assert fn["architectures"] == ["x86_64"]
    assert fn["environment"]["variables"] == {
        "ALLOWED_ORIGINS": "http://localhost:3000,http://localhost:5173",
        "STAGE": "dev",
        "SERVICE_NAME": "secure-serverless",
    }


def test_function_waits_for_its_log_group_and_policies(run_pulumi) -> None:
    run = run_pulumi(one_function(statements=[Statement(actions=["sqs:SendMessage"], resources=[QUEUE_ARN])]))
    fn = run.named("worker-function")
    for dependency in ("worker-logs", "worker-logs-policy", "worker-policy"):
        assert run.named(dependency).urn in fn.dependencies


def test_archive_holds_the_module_common_and_declared_schemas_only() -> None:
    files = plan_archive("hello")
    assert "handlers/hello.py" in files and "handlers/__init__.py" in files
    assert "handlers/common/http.py" in files
    assert not any(name.startswith("handlers/health") for name in files)
    assert not any("schemas" in name for name in files)
    assert not any("__pycache__" in name for name in files)
    assert "handlers/schemas/register.json" in plan_archive("hello", ["register"])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"handler": "nope"}, "does not exist"),
        ({"handler": "../etc"}, "module name"),
        ({"handler": "hello", "schemas": ["missing"]}, "not found"),
        ({"handler": "hello", "timeout_seconds": 0}, "timeout_seconds"),
        ({"handler": "hello", "environment": {"STAGE": "x"}}, "set twice"),
        ({"handler": "hello", "environment": {"A": "1"}, "links": [Link(env={"A": "2"})]}, "set twice"),
        ({"handler": "hello", "package": "handlers.common", "shared": ()}, "does not exist"),
        ({"handler": "hello", "shared": ("nothing/*.py",)}, "matches nothing"),
        ({"handler": "hello", "description": "x" * 257}, "at most 256"),
    ],
)
def test_bad_function_args_are_rejected(kwargs, message) -> None:
    defaults = FunctionDefaults(naming=Naming("p-dev"), environment={"STAGE": "dev"})
    with pytest.raises(ValueError, match=message):
        PythonFunctionArgs(defaults=defaults, **kwargs)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"memory_mb": 64}, "memory_mb"), ({"architecture": "arm"}, "architecture"),
    ({"log_retention_days": 2}, "log_retention_days"), ({"tags": {"aws:x": "y"}}, "tag"),
])
def test_bad_function_defaults_are_rejected(kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        FunctionDefaults(naming=Naming("p-dev"), **kwargs)


def test_links_apply_env_and_exact_statements_together(run_pulumi) -> None:
    link = Link(env={"QUEUE_URL": "https://q"}, statements=[Statement(["sqs:SendMessage"], [QUEUE_ARN], sid="Send")])
    run = run_pulumi(one_function(links=[link]))
    assert run.named("worker-function").inputs["environment"]["variables"]["QUEUE_URL"] == "https://q"
    assert actions_by_resource(role_statements(run, "worker"))[QUEUE_ARN] == {"sqs:SendMessage"}
    with pytest.raises(ValueError, match="at least one"):
        Link()
    with pytest.raises(ValueError, match="must match"):
        Link(env={"bad-name": "x"})


def test_a_function_from_another_code_tree_gets_no_environment_it_did_not_ask_for(run_pulumi, tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "__init__.py").write_text("")
    (tmp_path / "app" / "ping.py").write_text("def main(event, context):\n    return {}\n")
    (tmp_path / "app" / "lib.py").write_text("X = 1\n")

    def program():
        PythonFunction("ping", PythonFunctionArgs(
            handler="ping", package="app", entry="main", code_dir=tmp_path, shared=("app/__init__.py", "app/lib.py"),
            defaults=FunctionDefaults(naming=Naming("other-test"), account_id="210987654321")))

    run = run_pulumi(program)
    fn = run.named("ping-function").inputs
    assert fn["handler"] == "app.ping.main"
    assert fn["code"]["__archive"] == ["app/__init__.py", "app/lib.py", "app/ping.py"]
    assert "environment" not in fn or not fn["environment"].get("variables")
    assert fn["name"] == "other-test-ping"
    trust = json.loads(run.named("ping-role").inputs["assumeRolePolicy"])
    assert trust["Statement"][0]["Condition"]["StringEquals"]["aws:SourceAccount"] == "210987654321"


def test_without_an_account_id_each_function_looks_it_up(run_pulumi, recording_mocks) -> None:
    def program():
        defaults = FunctionDefaults(naming=Naming("other-test"))
        for name in ("a", "b"):
            PythonFunction(name, PythonFunctionArgs(handler="hello", defaults=defaults))

    run_pulumi(program)
    assert sum(c.token == "aws:index/getCallerIdentity:getCallerIdentity" for c in recording_mocks.invokes) == 2


@pytest.mark.parametrize("action", ["*", "s3:*", "s3:Get*", "sqs"])
def test_wildcard_or_malformed_actions_are_refused(action) -> None:
    with pytest.raises(ValueError, match="without wildcards"):
        Statement(actions=[action], resources=["arn:aws:s3:::bucket/*"])


def test_statements_need_resources() -> None:
    with pytest.raises(ValueError, match="at least one resource"):
        Statement(actions=["sqs:SendMessage"], resources=[])

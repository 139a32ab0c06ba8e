"""Observability and AlarmTopic under recording mocks, alone from explicit Args and inside the whole program."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from components.alarm_topic import KEY_ADMIN_ACTIONS, AlarmTopic, AlarmTopicArgs
from components.observability import Observability, ObservabilityArgs
from components.observability_plan import ApiTarget, FunctionTarget, QueueTarget, StateMachineTarget, Targets
from offline.runtime import REPO_ROOT, ProgramRun
from offline.runtime import run_stack as evaluate
from tests.evaluations import run_stack
from tests.graph import FUNCTION, dependency

ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
DASHBOARD = "aws:cloudwatch/dashboard:Dashboard"
QUERY = "aws:cloudwatch/queryDefinition:QueryDefinition"
TOPIC = "aws:sns/topic:Topic"
KEY = "aws:kms/key:Key"
ON_CALL = "arn:aws:sns:us-east-1:123456789012:on-call"

TARGETS = Targets(
    functions=[
        FunctionTarget(key="api-fn", function_name="app-dev-api-fn", timeout_seconds=10, log_group_name="/aws/lambda/a"),
        FunctionTarget(key="ingest", function_name="app-dev-ingest", timeout_seconds=30, asynchronous=True,
                       on_failure_destination=True, log_group_name="/aws/lambda/i"),
        FunctionTarget(key="consumer", function_name="app-dev-consumer", timeout_seconds=60, stream_consumer=True,
                       log_group_name="/aws/lambda/c"),
    ],
    apis=[ApiTarget(key="api", api_name="app-dev-api", stage_name="dev", access_log_group_name="/api/access")],
    queues=[QueueTarget(key="jobs", queue_name="app-dev-jobs"), QueueTarget(key="jobs-dlq", queue_name="app-dev-dlq",
                                                                             dead_letter=True)],
    state_machines=[StateMachineTarget(key="orders-flow", state_machine_arn="arn:aws:states:us-east-1:1:sm:x")],
)


def alone(run_pulumi, **args) -> ProgramRun:
    def program() -> None:
        Observability("obs", ObservabilityArgs(project="app", stage="dev", targets=TARGETS, **args))

    return run_pulumi(program)


def metric_of(alarm) -> tuple[str, str]:
    return alarm.inputs["metricName"], next(iter(alarm.inputs["dimensions"].values()))


def test_alone_every_alarm_notifies_and_clears_on_the_components_own_encrypted_topic(run_pulumi) -> None:
    run = alone(run_pulumi, alarm_email="oncall@example.com")
    (topic,) = run.of_type(TOPIC)
    (key,) = run.of_type(KEY)
    # A customer key CloudWatch may use (alias/aws/sns would drop every alarm), rotated, its policy without '*'.
    assert dependency(run, topic, "kmsMasterKeyId") == key
    assert key.inputs["enableKeyRotation"] is True
    statements = json.loads(key.inputs["policy"])["Statement"]
    assert all("*" not in action for st in statements for action in st["Action"])
    (publisher,) = [st for st in statements if st["Principal"] == {"Service": "cloudwatch.amazonaws.com"}]
    assert sorted(publisher["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey"]
    assert publisher["Condition"]["StringEquals"]["kms:EncryptionContext:aws:sns:topicArn"] == topic.outputs["arn"]
    assert set(KEY_ADMIN_ACTIONS) <= set(next(st for st in statements if st["Sid"] == "AccountAdministersKey")["Action"])
    policy = json.loads(run.named("obs-alarms-policy").inputs["policy"])["Statement"]
    allow = next(st for st in policy if st["Effect"] == "Allow")
    assert allow["Principal"] == {"Service": "cloudwatch.amazonaws.com"} and allow["Action"] == "sns:Publish"
    assert allow["Condition"]["StringEquals"]["aws:SourceAccount"] == "123456789012"
    assert allow["Condition"]["ArnLike"]["aws:SourceArn"] == "arn:aws:cloudwatch:us-east-1:123456789012:alarm:*"
    subscription = run.named("obs-alarms-email")
    assert (subscription.inputs["protocol"], subscription.inputs["endpoint"]) == ("email", "oncall@example.com")
    alarms = run.of_type(ALARM)
    assert alarms and all(a.inputs["alarmActions"] == a.inputs["okActions"] == [topic.outputs["arn"]] for a in alarms)


def test_alone_alarms_per_target(run_pulumi) -> None:
    run = alone(run_pulumi, alarm_topic_arn=ON_CALL)
    assert not run.of_type(TOPIC) and not run.of_type(KEY)
    alarms = run.of_type(ALARM)
    assert all(a.inputs["alarmActions"] == a.inputs["okActions"] == [ON_CALL] for a in alarms)
    found = {metric_of(a) for a in alarms}
    assert found == {
        *{(m, "app-dev-api-fn") for m in ("Errors", "Throttles", "Duration")},
        *{(m, "app-dev-ingest") for m in ("Errors", "Throttles", "Duration", "AsyncEventsDropped",
                                          "DestinationDeliveryFailures")},
        *{(m, "app-dev-consumer") for m in ("Errors", "Throttles", "Duration", "IteratorAge")},
        *{(m, "app-dev-api") for m in ("5XXError", "4XXError", "Latency", "IntegrationLatency")},
        *{(m, "arn:aws:states:us-east-1:1:sm:x") for m in ("ExecutionsFailed", "ExecutionsTimedOut")},
    }
    by_name = {a.inputs["name"]: a.inputs for a in alarms}
    consumer = by_name["app-dev-consumer-duration"]
    assert (consumer["extendedStatistic"], consumer["threshold"], consumer["treatMissingData"]) == ("p99", 48_000, "ignore")
    assert by_name["app-dev-api-5xx-rate"]["statistic"] == "Average"
    assert by_name["app-dev-api-5xx-rate"]["dimensions"] == {"ApiName": "app-dev-api", "Stage": "dev"}
    assert by_name["app-dev-ingest-errors"]["treatMissingData"] == "notBreaching"
    assert by_name["app-dev-api-4xx-rate"]["alarmDescription"].startswith("[warning]")


def test_alone_dashboard_and_queries(run_pulumi) -> None:
    run = alone(run_pulumi, alarm_topic_arn=ON_CALL)
    (dashboard,) = run.of_type(DASHBOARD)
    assert dashboard.inputs["dashboardName"] == "app-dev"
    body = json.loads(dashboard.inputs["dashboardBody"])
    text = json.dumps(body)
    for name in ("app-dev-api-fn", "app-dev-ingest", "app-dev-consumer", "app-dev-jobs", "app-dev-dlq", "app-dev-api"):
        assert f'"{name}"' in text
    assert {w["properties"]["region"] for w in body["widgets"] if w["type"] == "metric"} == {"us-east-1"}
    (status,) = [w for w in body["widgets"] if w["type"] == "alarm"]
    assert sorted(status["properties"]["alarms"]) == sorted(a.outputs["arn"] for a in run.of_type(ALARM))
    queries = {q.inputs["name"]: q.inputs for q in run.of_type(QUERY)}
    assert set(queries) == {f"app-dev/{n}" for n in ("errors", "slowest-invocations", "request-trace",
                                                     "failed-records", "api-errors")}
    assert queries["app-dev/errors"]["logGroupNames"] == ["/aws/lambda/a", "/aws/lambda/i", "/aws/lambda/c"]


@pytest.mark.parametrize(
    "args, message",
    [
        ({"alarm_email": "not-an-address"}, "not an email"),
        ({"alarm_email": "a@example.com", "alarm_topic_arn": ON_CALL}, "subscribe the address to that topic"),
        ({"stage": "dev/1"}, "dashboard name"),
    ],
)
def test_args_are_validated_before_any_resource(args, message) -> None:
    with pytest.raises(ValueError, match=message):
        ObservabilityArgs(**{"project": "app", "stage": "dev", "targets": TARGETS, **args})


def test_an_existing_topic_is_used_as_is(run_pulumi) -> None:
    run = run_pulumi(lambda: AlarmTopic("alarms", AlarmTopicArgs(project="app", stage="dev",
                                                                 existing_topic_arn=ON_CALL)))
    assert [r.type for r in run.resources] == ["secure-serverless:components:AlarmTopic"]


# ------------------------------------------------------------------------------------------ the program


@pytest.fixture(scope="module")
def dev() -> ProgramRun:
    return run_stack("dev")


def functions_and_alarms(run: ProgramRun) -> tuple[list[str], dict[str, set[str]]]:
    names = [f.outputs["name"] for f in run.of_type(FUNCTION)]
    metrics: dict[str, set[str]] = {}
    for alarm in run.of_type(ALARM):
        dims = alarm.inputs["dimensions"]
        if "FunctionName" in dims:
            metrics.setdefault(dims["FunctionName"], set()).add(alarm.inputs["metricName"])
    return names, metrics


def test_program_every_function_has_its_alarms(dev: ProgramRun) -> None:
    names, metrics = functions_and_alarms(dev)
    assert len(names) == 22  # with registration-confirm and profiles-upsert/get/welcome
    for name in names:
        assert {"Errors", "Throttles", "Duration"} <= metrics[name], name
    assert {"AsyncEventsDropped", "DestinationDeliveryFailures"} <= metrics["secure-serverless-dev-uploads-ingest"]
    assert "IteratorAge" in metrics["secure-serverless-dev-uploads-process"]
    assert "IteratorAge" in metrics["secure-serverless-dev-profiles-welcome"]  # a DynamoDB stream consumer
    timeouts = {f.outputs["name"]: f.inputs["timeout"] for f in dev.of_type(FUNCTION)}
    for alarm in dev.of_type(ALARM):
        if alarm.inputs["metricName"] == "Duration":
            assert alarm.inputs["threshold"] == timeouts[alarm.inputs["dimensions"]["FunctionName"]] * 800


@pytest.mark.parametrize("overrides", [{}, {"alarmTopicArn": ON_CALL}], ids=["own-topic", "configured-topic"])
def test_program_every_alarm_has_actions(overrides) -> None:
    run = run_stack("dev", overrides=overrides)
    alarms = run.of_type(ALARM)
    topics = run.of_type(TOPIC)
    expected = ON_CALL if overrides else topics[0].outputs["arn"]
    assert len(topics) == (0 if overrides else 1)
    # The components' DLQ / failure-queue alarms included: nothing alarms into the void.
    assert len(alarms) > 40
    assert all(a.inputs["alarmActions"] == [expected] for a in alarms)
    assert all(a.inputs["okActions"] == [expected] for a in alarms)


def test_program_dashboard_names_every_function_and_queue(dev: ProgramRun) -> None:
    (dashboard,) = dev.of_type(DASHBOARD)
    body = dashboard.inputs["dashboardBody"]
    for function in dev.of_type(FUNCTION):
        assert f'"{function.outputs["name"]}"' in body
    queues = dev.of_type("aws:sqs/queue:Queue")
    assert len(queues) == 8  # + the order workflow's compensation and cleanup failure queues, profiles' welcome failures
    for queue in queues:
        assert f'"{queue.outputs["name"]}"' in body
    assert '"ApiName", "secure-serverless-dev-api", "Stage", "dev"' in body


def test_program_a_new_function_gets_alarms_and_a_dashboard_row_with_no_other_edit(tmp_path: Path) -> None:
    """Add one routed function to a copy of __main__.py, and nothing else: it is alarmed and on the dashboard."""
    for path in REPO_ROOT.glob("Pulumi*.yaml"):
        shutil.copy(path, tmp_path / path.name)
    main = (REPO_ROOT / "__main__.py").read_text()
    addition = ('extra = PythonFunction("extra", PythonFunctionArgs(handler="health", defaults=functions))\n'
                'api.add_routes([Route("GET", "/extra", extra)])\n')
    assert main.count("\napi.deploy()\n") == 1
    (tmp_path / "__main__.py").write_text(main.replace("\napi.deploy()\n", "\n" + addition + "api.deploy()\n"))

    run = evaluate("dev", root=tmp_path)  # a modified program: never cached
    names, metrics = functions_and_alarms(run)
    assert "secure-serverless-dev-extra" in names
    assert {"Errors", "Throttles", "Duration"} <= metrics["secure-serverless-dev-extra"]
    body = json.loads(run.of_type(DASHBOARD)[0].inputs["dashboardBody"])
    row = [w for w in body["widgets"] if w["properties"].get("title", "").startswith("extra ")]
    assert len(row) == 3 and len({w["y"] for w in row}) == 1


def test_observe_finds_functions_queues_and_state_machines_under_components(run_pulumi) -> None:
    import pulumi
    import pulumi_aws as aws

    from components import settings as stack_settings
    from components.function import PythonFunction, PythonFunctionArgs
    from components.observability import observe

    found: dict[str, Targets] = {}

    class Flow(pulumi.ComponentResource):
        def __init__(self, name: str, defaults) -> None:
            super().__init__("test:Flow", name)
            child = pulumi.ResourceOptions(parent=self)
            self.workers = [PythonFunction(f"{name}-w{i}", PythonFunctionArgs(handler="health", defaults=defaults),
                                           opts=child) for i in range(2)]
            self.dlq = aws.sqs.Queue(f"{name}-dlq", opts=child)
            self.jobs = {"main": aws.sqs.Queue(f"{name}-jobs", opts=child)}
            self.machine = aws.sfn.StateMachine(f"{name}-machine", role_arn="arn:aws:iam::123456789012:role/r",
                                                definition="{}", opts=child)

    class Outer(pulumi.ComponentResource):
        def __init__(self, defaults) -> None:
            super().__init__("test:Outer", "outer")
            self.inner = Flow("flow", defaults)
            self.again = self.inner  # reachable twice, observed once
            self.register_outputs({})

    def program() -> None:
        found["targets"] = observe([Outer(stack_settings.load().functions)], asynchronous=["flow-w1"],
                                   stream_consumers=["flow-w0"])
        with pytest.raises(ValueError, match="no observed function is called"):
            observe([], asynchronous=["nope"])

    run_pulumi(program)
    targets = found["targets"]
    functions = {f.key: f for f in targets.functions}
    assert set(functions) == {"flow-w0", "flow-w1"}
    assert functions["flow-w1"].asynchronous and not functions["flow-w1"].stream_consumer
    assert functions["flow-w0"].stream_consumer and functions["flow-w0"].timeout_seconds == 10
    assert {(q.key, q.dead_letter) for q in targets.queues} == {("flow-dlq", True), ("flow-jobs", False)}
    assert [m.key for m in targets.state_machines] == ["flow-machine"]


def test_program_the_order_workflow_is_alarmed_once_per_metric(dev: ProgramRun) -> None:
    """The state machine's failures and timeouts page once each, with OK actions (no second, component-made alarm)."""
    machine = dev.named("orders-workflow-machine").outputs["arn"]
    states = [a.inputs for a in dev.of_type(ALARM) if a.inputs["namespace"] == "AWS/States"]
    assert sorted(a["metricName"] for a in states) == ["ExecutionsFailed", "ExecutionsTimedOut"]
    assert all(a["dimensions"] == {"StateMachineArn": machine} and a["okActions"] for a in states)

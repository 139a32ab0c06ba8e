"""Pure pieces of the local runtime's Step Functions and EventBridge support: the dispatcher's outcomes, the
schedules planned from the graph, EventBridge's scheduled-event shape, the permission check."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from offline.local import schedules
from offline.local.graph import StackGraph
from offline.local.lambdas import Invocation
from offline.local.stepfunctions import Workflows
from offline.runtime import run_stack


@pytest.fixture(scope="module")
def graph() -> StackGraph:
    return StackGraph(run_stack("dev"))


def test_a_throttled_step_is_refused_like_lambdas_invoke_api() -> None:
    """Step Functions must see the Invoke call refused (429 TooManyRequestsException, which the definition
    retries as Lambda.TooManyRequestsException), not a function error; other outcomes are function results."""
    outcomes = {"busy": Invocation(False, {"errorType": "TooManyRequestsException"}, "Throttled"),
                "boom": Invocation(False, {"errorType": "PaymentDeclined", "errorMessage": "no"}, "Unhandled"),
                "fine": Invocation(True, {"status": "CHARGED"})}
    workflows = Workflows.__new__(Workflows)
    workflows.invoke = lambda name, event: outcomes[name]

    with pytest.raises(Exception) as refused:
        workflows._dispatcher("busy")({})
    assert refused.value.code == 429 and "TooManyRequestsException" in refused.value.description
    assert workflows._dispatcher("boom")(b'{"orderId": "o"}') == (
        '{"errorType": "PaymentDeclined", "errorMessage": "no"}', True, "")
    assert workflows._dispatcher("fine")({"orderId": "o"}) == ('{"status": "CHARGED"}', False, "")


def test_the_dev_graph_has_one_schedule_firing_the_cleanup(graph) -> None:
    (schedule,) = schedules.plan(graph)
    assert schedule.expression == "rate(1 hour)"
    assert [t.function for t in schedule.targets] == ["secure-serverless-dev-orders-workflow-cleanup"]
    assert schedule.arn == f"arn:aws:events:us-east-1:123456789012:rule/{schedule.rule}"
    assert schedule.matches("cleanup") and schedule.matches(schedule.rule) and not schedule.matches("orders-get")
    # The function's resource policy names this rule: EventBridge may invoke it for it, and for no other rule.
    assert schedules.may_invoke(graph, schedule.targets[0].function, schedule.arn)
    assert not schedules.may_invoke(graph, schedule.targets[0].function, schedule.arn + "-other")
    assert not schedules.may_invoke(graph, "secure-serverless-dev-orders-get", schedule.arn)


def test_scheduled_event_is_what_eventbridge_sends() -> None:
    schedule = schedules.Schedule("r", "arn:aws:events:eu-west-1:111122223333:rule/r", "rate(1 hour)", ())
    event = schedules.scheduled_event(schedule, now=0)
    assert {k: v for k, v in event.items() if k != "id"} == {
        "version": "0", "detail-type": "Scheduled Event", "source": "aws.events", "account": "111122223333",
        "time": "1970-01-01T00:00:00Z", "region": "eu-west-1", "resources": [schedule.arn], "detail": {}}
    assert event["id"] != schedules.scheduled_event(schedule)["id"]


@given(st.integers(1, 10_000), st.sampled_from([("minute", 60), ("hour", 3600), ("day", 86400)]))
def test_rate_seconds(n, unit) -> None:
    name, seconds = unit
    expression = f"rate({n} {name}{'s' if n > 1 else ''})"
    assert schedules.rate_seconds(expression) == n * seconds


def test_cron_schedules_are_on_demand_only() -> None:
    assert schedules.rate_seconds("cron(0 * * * ? *)") is None


def test_automatic_schedules_fire_every_scaled_period_until_stopped(graph) -> None:
    import threading
    import time

    from offline.local.events import Counters

    sent: list[tuple[str, dict]] = []
    stop = threading.Event()
    scheduler = schedules.Scheduler(graph, lambda f, e: sent.append((f, e)), Counters(), lambda _l: None,
                                    time_scale=0.25 / 3600, stop=stop)  # rate(1 hour) -> every 0.25 s
    scheduler.start_automatic()
    time.sleep(1.1)
    stop.set()
    fired = len(sent)
    time.sleep(0.5)

    assert 3 <= fired <= 5 and len(sent) == fired
    assert {f for f, _ in sent} == {"secure-serverless-dev-orders-workflow-cleanup"}
    assert all(e["detail-type"] == "Scheduled Event" for _, e in sent)
    assert len({e["id"] for _, e in sent}) == fired


def test_the_state_machine_role_must_trust_step_functions(graph) -> None:
    from offline.local.stepfunctions import trusts

    (machine,) = graph.of_type("aws:sfn/stateMachine:StateMachine")
    (role,) = [r for r in graph.of_type("aws:iam/role:Role") if r.outputs.get("arn") == machine.inputs["roleArn"]]
    assert trusts(role.inputs["assumeRolePolicy"], "states.amazonaws.com")
    assert not trusts(role.inputs["assumeRolePolicy"], "lambda.amazonaws.com")
    lambda_role = {"Statement": [{"Effect": "Allow", "Action": ["sts:AssumeRole"],
                                  "Principal": {"Service": ["lambda.amazonaws.com"]}}]}
    assert not trusts(lambda_role, "states.amazonaws.com")
    denied = {"Statement": [{"Effect": "Deny", "Action": "sts:AssumeRole", "Principal": {"Service": "states.amazonaws.com"}}]}
    assert not trusts(denied, "states.amazonaws.com")


def test_the_schedule_command_says_when_no_runtime_answers(tmp_path, capsys) -> None:
    assert schedules.cli(["cleanup", "--state-dir", str(tmp_path)]) == 2
    (tmp_path / "endpoints.json").write_text('{"admin_url": "http://127.0.0.1:9"}')  # discard port: refused
    assert schedules.cli(["cleanup", "--state-dir", str(tmp_path)]) == 2
    assert capsys.readouterr().out.count("no local runtime answers") == 2

"""The pure alarm / dashboard / query planner, with hypothesis-generated target lists."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from components.observability_plan import (
    BUSINESS_METRICS,
    GRID_WIDTH,
    TREAT_MISSING_DATA,
    AlarmThresholds,
    ApiTarget,
    FunctionTarget,
    QueueTarget,
    StateMachineTarget,
    Targets,
    plan_alarms,
    plan_dashboard,
    plan_queries,
)
from tests.hypothesis_budget import examples

keys = st.from_regex(r"[a-z][a-z0-9-]{0,20}", fullmatch=True)


@st.composite
def functions(draw):
    asynchronous = draw(st.booleans())
    return dict(timeout_seconds=draw(st.integers(1, 900)), asynchronous=asynchronous,
                on_failure_destination=asynchronous and draw(st.booleans()), stream_consumer=draw(st.booleans()))


@st.composite
def target_lists(draw):
    names = draw(st.lists(keys, unique=True, min_size=0, max_size=24))
    cut = sorted(draw(st.lists(st.integers(0, len(names)), min_size=3, max_size=3)))
    fn_keys, api_keys, q_keys, sm_keys = names[:cut[0]], names[cut[0]:cut[1]], names[cut[1]:cut[2]], names[cut[2]:]
    return Targets(
        functions=[FunctionTarget(key=k, function_name=f"fn-{k}", log_group_name=f"/aws/lambda/fn-{k}",
                                  **draw(functions())) for k in fn_keys],
        apis=[ApiTarget(key=k, api_name=f"api-{k}", stage_name="dev", access_log_group_name=f"/api/{k}")
              for k in api_keys[:2]],
        queues=[QueueTarget(key=k, queue_name=f"q-{k}", dead_letter=draw(st.booleans())) for k in q_keys],
        state_machines=[StateMachineTarget(key=k, state_machine_arn=f"arn:sm:{k}") for k in sm_keys],
    )


thresholds = st.builds(
    AlarmThresholds,
    period_seconds=st.sampled_from([60, 120, 300]),
    evaluation_periods=st.integers(1, 10),
    duration_timeout_ratio=st.floats(0.05, 0.95),
    iterator_age_ms=st.integers(1_000, 3_600_000),
).filter(lambda t: t.datapoints_to_alarm <= t.evaluation_periods)


def metric_names(alarms, target):
    return {a.metric_name for a in alarms if a.target == target}


@settings(max_examples=examples(150), deadline=None)
@given(target_lists(), thresholds)
def test_every_target_gets_exactly_its_alarms(targets, limits):
    alarms = plan_alarms(targets, limits)
    assert len({a.name for a in alarms}) == len(alarms), "alarm names are unique"
    for fn in targets.functions:
        expected = {"Errors", "Throttles", "Duration"}
        expected |= {"AsyncEventsDropped"} if fn.asynchronous else set()
        expected |= {"DestinationDeliveryFailures"} if fn.on_failure_destination else set()
        expected |= {"IteratorAge"} if fn.stream_consumer else set()
        assert metric_names(alarms, fn.key) == expected
        for alarm in (a for a in alarms if a.target == fn.key):
            assert dict(alarm.dimensions) == {"FunctionName": fn.function_name}
    for api in targets.apis:
        assert metric_names(alarms, api.key) == {"5XXError", "4XXError", "Latency", "IntegrationLatency"}
    for machine in targets.state_machines:
        assert metric_names(alarms, machine.key) == {"ExecutionsFailed", "ExecutionsTimedOut"}
    # Queues keep their own backlog alarms (components/queues.py): none is planned twice here.
    assert not {a.target for a in alarms} & {q.key for q in targets.queues}


@settings(max_examples=examples(150), deadline=None)
@given(target_lists(), thresholds)
def test_duration_alarm_fires_before_the_timeout(targets, limits):
    for fn in targets.functions:
        (duration,) = [a for a in plan_alarms(targets, limits) if a.target == fn.key and a.metric_name == "Duration"]
        assert duration.extended_statistic == "p99" and duration.statistic is None
        assert duration.threshold == round(fn.timeout_seconds * 1000 * limits.duration_timeout_ratio)
        assert 0 <= duration.threshold <= fn.timeout_seconds * 1000


@settings(max_examples=examples(100), deadline=None)
@given(target_lists(), thresholds)
def test_windows_respect_cloudwatch_limits_and_missing_data_is_chosen_per_metric(targets, limits):
    for alarm in plan_alarms(targets, limits):
        assert 1 <= alarm.datapoints_to_alarm <= alarm.evaluation_periods
        assert alarm.evaluation_periods * alarm.period_seconds <= 86_400
        assert alarm.treat_missing_data == TREAT_MISSING_DATA[alarm.metric_name]
        assert alarm.treat_missing_data in {"notBreaching", "ignore", "missing", "breaching"}


def test_4xx_is_less_urgent_than_5xx():
    targets = Targets(apis=[ApiTarget(key="api", api_name="a", stage_name="dev")])
    by_metric = {a.metric_name: a for a in plan_alarms(targets)}
    five, four = by_metric["5XXError"], by_metric["4XXError"]
    assert (five.severity, four.severity) == ("critical", "warning")
    assert four.evaluation_periods * four.period_seconds > five.evaluation_periods * five.period_seconds
    assert four.threshold > five.threshold
    # Average of API Gateway's 0/1 error metric is the error rate.
    assert five.statistic == four.statistic == "Average"


@settings(max_examples=examples(100), deadline=None)
@given(target_lists())
def test_dashboard_names_every_function_and_queue_and_fits_the_grid(targets):
    body = plan_dashboard(targets, region="us-east-1", stage="dev")
    text = json.dumps(body)
    widgets = body["widgets"]
    for fn in targets.functions:
        titles = [w["properties"].get("title", "") for w in widgets if w["type"] == "metric"]
        assert any(title.startswith(f"{fn.key} invocations") for title in titles)
        assert json.dumps(fn.function_name) in text
    for queue in targets.queues:
        assert json.dumps(queue.queue_name) in text
    for widget in widgets:
        assert widget["x"] + widget["width"] <= GRID_WIDTH
        if widget["type"] == "metric":
            props = widget["properties"]
            assert props["region"] == "us-east-1" and props["metrics"]
    rows = {}
    for widget in widgets:
        rows.setdefault(widget["y"], []).append(widget)
    for row in rows.values():  # no two widgets of a row overlap
        spans = sorted((w["x"], w["x"] + w["width"]) for w in row)
        assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:], strict=False))


def test_dashboard_has_one_row_per_function_and_the_business_metrics():
    base = Targets(functions=[FunctionTarget(key="a", function_name="fa", timeout_seconds=10)])
    grown = replace(base, functions=[*base.functions, FunctionTarget(key="b", function_name="fb", timeout_seconds=30)])
    before, after = plan_dashboard(base, region="r", stage="dev"), plan_dashboard(grown, region="r", stage="dev")
    new = [w for w in after["widgets"] if w["properties"].get("title", "").startswith("b ")]
    assert len(new) == 3 and len({w["y"] for w in new}) == 1
    assert len(after["widgets"]) == len(before["widgets"]) + 3
    duration = next(w for w in new if "duration" in w["properties"]["title"])
    assert {"label": "timeout", "value": 30_000} in duration["properties"]["annotations"]["horizontal"]
    business = {w["properties"]["metrics"][0][1] for w in after["widgets"]
                if w["type"] == "metric" and w["properties"]["metrics"][0][0] == "SecureServerless/Business"}
    assert business == set(BUSINESS_METRICS)


def test_queries_cover_functions_and_the_access_log():
    targets = Targets(functions=[FunctionTarget(key="a", function_name="fa", timeout_seconds=10, log_group_name="/g/a"),
                                 FunctionTarget(key="b", function_name="fb", timeout_seconds=10, log_group_name="/g/b")],
                      apis=[ApiTarget(key="api", api_name="x", stage_name="dev", access_log_group_name="/api")])
    queries = {q.name: q for q in plan_queries(targets, "proj-dev")}
    assert set(queries) == {"proj-dev/errors", "proj-dev/slowest-invocations", "proj-dev/request-trace",
                            "proj-dev/failed-records", "proj-dev/api-errors"}
    assert list(queries["proj-dev/errors"].log_groups) == ["/g/a", "/g/b"]
    assert list(queries["proj-dev/api-errors"].log_groups) == ["/api"]
    assert 'level = "ERROR"' in queries["proj-dev/errors"].query


@pytest.mark.parametrize(
    "change, message",
    [
        ({"period_seconds": 45}, "period_seconds"),
        ({"evaluation_periods": 0}, "evaluation_periods"),
        ({"evaluation_periods": 1441}, "1 day"),
        ({"datapoints_to_alarm": 6}, "datapoints_to_alarm"),
        ({"duration_timeout_ratio": 1.0}, "duration_timeout_ratio"),
        ({"api_5xx_rate": 0}, "api_5xx_rate"),
        ({"api_4xx_rate": 1.5}, "api_4xx_rate"),
        ({"api_latency_p99_ms": 30_000}, "API Gateway's timeout"),
        ({"iterator_age_ms": 10}, "iterator_age_ms"),
    ],
)
def test_thresholds_are_validated(change, message):
    with pytest.raises(ValueError, match=message):
        AlarmThresholds(**change)


def test_targets_are_validated():
    with pytest.raises(ValueError, match="unique keys"):
        Targets(functions=[FunctionTarget(key="a", function_name="x", timeout_seconds=3)],
                queues=[QueueTarget(key="a", queue_name="q")])
    with pytest.raises(ValueError, match="timeout"):
        FunctionTarget(key="a", function_name="x", timeout_seconds=901)
    with pytest.raises(ValueError, match="asynchronous"):
        FunctionTarget(key="a", function_name="x", timeout_seconds=3, on_failure_destination=True)
    with pytest.raises(ValueError, match="key"):
        QueueTarget(key="Bad_Key", queue_name="q")

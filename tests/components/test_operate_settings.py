"""Issue 16's stack settings: alarm thresholds, the alarm email and the Lambda log level, from Pulumi.<stack>.yaml
to the component inputs in the graph, and every bad value stopped before any resource, naming stack and key."""

from __future__ import annotations

import pytest

from components.observability_plan import AlarmThresholds
from components.settings import ALARM_THRESHOLD_KEYS, ConfigError, settings_from, stack_args
from offline.runtime import RecordingMonitor
from offline.runtime import run_stack as evaluate
from tests.evaluations import run_stack
from tests.graph import FUNCTION

PROJECT = "secure-serverless"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"
ON_CALL = "arn:aws:sns:us-east-1:123456789012:on-call"

# A valid value for each key that differs from its default, so a key that is read but not passed on shows.
CONFIGURED = {
    "alarmPeriodSeconds": 120,
    "alarmEvaluationPeriods": 4,
    "alarmDatapointsToAlarm": 2,
    "alarmLatencyEvaluationPeriods": 6,
    "alarmLatencyDatapointsToAlarm": 4,
    "alarmDurationTimeoutRatio": 0.5,
    "alarmApi5xxRate": 0.05,
    "alarmApi4xxRate": 0.25,
    "alarmApi4xxEvaluationPeriods": 12,
    "alarmApi4xxDatapointsToAlarm": 8,
    "alarmApiLatencyP99Ms": 5000,
    "alarmApiIntegrationLatencyP99Ms": 4500,
    "alarmIteratorAgeMs": 120_000,
}


def args_for(values: dict[str, object], stack: str = "dev"):
    raw = {k: v if isinstance(v, str) else str(v) for k, v in values.items()}
    return stack_args(settings_from(raw.get, project=PROJECT, stack=stack, present_keys=raw))


def test_every_threshold_field_has_one_key_and_a_test_value() -> None:
    assert set(ALARM_THRESHOLD_KEYS) == set(vars(AlarmThresholds()))
    assert set(ALARM_THRESHOLD_KEYS.values()) == set(CONFIGURED)
    defaults = vars(AlarmThresholds())
    assert all(CONFIGURED[key] != defaults[name] for name, key in ALARM_THRESHOLD_KEYS.items())


def test_unset_keys_keep_the_components_defaults() -> None:
    stack = args_for({})
    assert stack.thresholds == AlarmThresholds()
    assert stack.alarm_topic.email is None and stack.alarm_topic.existing_topic_arn is None
    assert stack.functions.application_log_level == "DEBUG"
    prod = args_for({"corsAllowedOrigins": '["https://app.example.com"]'}, stack="prod")
    assert prod.functions.application_log_level == "INFO"


@pytest.mark.parametrize(("name", "key"), sorted(ALARM_THRESHOLD_KEYS.items()))
def test_each_threshold_key_sets_its_field(name: str, key: str) -> None:
    assert getattr(args_for({key: CONFIGURED[key]}).thresholds, name) == CONFIGURED[key]


@pytest.fixture(scope="module")
def configured():
    return run_stack("dev", overrides={**CONFIGURED, "alarmEmail": "oncall@acme.io", "lambdaLogLevel": "WARN"})


def alarms_of(run, metric: str) -> list[dict]:
    found = [a.inputs for a in run.of_type(ALARM) if a.inputs.get("metricName") == metric]
    assert found, metric
    return found


def test_thresholds_reach_the_recorded_metric_alarms(configured) -> None:
    c = CONFIGURED
    for metric in ("Errors", "Throttles", "AsyncEventsDropped", "DestinationDeliveryFailures"):
        for alarm in alarms_of(configured, metric):
            assert (alarm["period"], alarm["evaluationPeriods"], alarm["datapointsToAlarm"]) == (
                c["alarmPeriodSeconds"], c["alarmEvaluationPeriods"], c["alarmDatapointsToAlarm"]), metric
    timeouts = {f.outputs["name"]: f.inputs["timeout"] for f in configured.of_type(FUNCTION)}
    for alarm in alarms_of(configured, "Duration"):
        timeout_ms = timeouts[alarm["dimensions"]["FunctionName"]] * 1000
        assert alarm["threshold"] == pytest.approx(timeout_ms * c["alarmDurationTimeoutRatio"])
        assert (alarm["evaluationPeriods"], alarm["datapointsToAlarm"]) == (
            c["alarmLatencyEvaluationPeriods"], c["alarmLatencyDatapointsToAlarm"])
    (latency,) = alarms_of(configured, "Latency")
    assert latency["threshold"] == c["alarmApiLatencyP99Ms"]
    assert (latency["evaluationPeriods"], latency["datapointsToAlarm"]) == (
        c["alarmLatencyEvaluationPeriods"], c["alarmLatencyDatapointsToAlarm"])
    (integration,) = alarms_of(configured, "IntegrationLatency")
    assert integration["threshold"] == c["alarmApiIntegrationLatencyP99Ms"]
    (five,) = alarms_of(configured, "5XXError")
    assert five["threshold"] == c["alarmApi5xxRate"]
    (four,) = alarms_of(configured, "4XXError")
    assert (four["threshold"], four["evaluationPeriods"], four["datapointsToAlarm"]) == (
        c["alarmApi4xxRate"], c["alarmApi4xxEvaluationPeriods"], c["alarmApi4xxDatapointsToAlarm"])
    ages = alarms_of(configured, "IteratorAge")  # both stream consumers: Kinesis and the profiles' DynamoDB stream
    assert [a["threshold"] for a in ages] == [c["alarmIteratorAgeMs"]] * 2
    assert sorted(a["dimensions"]["FunctionName"] for a in ages) == [
        "secure-serverless-dev-profiles-welcome", "secure-serverless-dev-uploads-process"]


def test_the_alarm_email_subscribes_the_stacks_own_topic_only_when_configured(configured) -> None:
    (subscription,) = configured.of_type(SUBSCRIPTION)
    assert subscription.inputs["protocol"] == "email" and subscription.inputs["endpoint"] == "oncall@acme.io"
    (topic,) = configured.of_type("aws:sns/topic:Topic")
    assert subscription.inputs["topic"] == topic.outputs["arn"]
    assert run_stack("dev").of_type(SUBSCRIPTION) == []


@pytest.mark.parametrize(("stack", "level"), [("dev", "WARN"), ("dev", None), ("prod", None)])
def test_log_level_on_every_functions_logging_config(stack: str, level: str | None, configured) -> None:
    run = configured if level else run_stack(stack)
    expected = level or ("INFO" if stack == "prod" else "DEBUG")
    functions = run.of_type(FUNCTION)
    assert len(functions) >= 12  # every function of the program, however many flows add
    assert {f.inputs["loggingConfig"]["applicationLogLevel"] for f in functions} == {expected}


@pytest.mark.parametrize(
    ("values", "key", "fragment"),
    [
        ({"alarmPeriodSeconds": 45}, "alarmPeriodSeconds", "10, 30 or a multiple of 60"),
        ({"alarmPeriodSeconds": 30}, "alarmPeriodSeconds", "published per minute"),
        ({"alarmEvaluationPeriods": 2000}, "alarmEvaluationPeriods", "1 period .. 1 day"),
        ({"alarmDatapointsToAlarm": 6}, "alarmDatapointsToAlarm", "1..evaluation_periods"),
        ({"alarmLatencyDatapointsToAlarm": 0}, "alarmLatencyDatapointsToAlarm", "1..latency_evaluation_periods"),
        ({"alarmApi4xxDatapointsToAlarm": 16}, "alarmApi4xxDatapointsToAlarm", "1..api_4xx_evaluation_periods"),
        ({"alarmDurationTimeoutRatio": 1.2}, "alarmDurationTimeoutRatio", "between 0 and 1"),
        ({"alarmApi5xxRate": 5}, "alarmApi5xxRate", "fraction of requests"),
        ({"alarmApi4xxRate": "often"}, "alarmApi4xxRate", "must be a number"),
        ({"alarmApiLatencyP99Ms": 30000}, "alarmApiLatencyP99Ms", "API Gateway's timeout"),
        ({"alarmApiIntegrationLatencyP99Ms": 0}, "alarmApiIntegrationLatencyP99Ms", "API Gateway's timeout"),
        ({"alarmIteratorAgeMs": 500}, "alarmIteratorAgeMs", "at least 1000"),
        ({"alarmIteratorAgeMs": "1m"}, "alarmIteratorAgeMs", "must be an integer"),
        ({"alarmEmail": "on-call"}, "alarmEmail", "an email address"),
        ({"alarmEmail": "oncall@acme.io", "alarmTopicArn": ON_CALL}, "alarmEmail", "alarmTopicArn is set"),
        ({"lambdaLogLevel": "VERBOSE"}, "lambdaLogLevel", "TRACE, DEBUG, INFO, WARN, ERROR, FATAL"),
        ({"alarmIteratorAge": 90000}, "alarmIteratorAge", "did you mean 'alarmIteratorAgeMs'"),
    ],
)
def test_each_bad_value_names_the_stack_and_the_key(values, key, fragment) -> None:
    with pytest.raises(ConfigError) as error:
        args_for(values, stack="staging")
    message = str(error.value)
    assert "stack 'staging'" in message
    (line,) = [line for line in message.splitlines() if f"{PROJECT}:{key}" in line]
    assert fragment in line


def test_threshold_problems_are_reported_together_each_under_its_key() -> None:
    with pytest.raises(ConfigError) as error:
        args_for({"alarmPeriodSeconds": 45, "alarmApi5xxRate": 2, "alarmIteratorAgeMs": 10})
    lines = str(error.value).splitlines()[1:]
    assert sorted(line.split(":")[1] for line in lines) == ["alarmApi5xxRate", "alarmIteratorAgeMs",
                                                            "alarmPeriodSeconds"]


def test_a_bad_threshold_stops_the_program_before_any_resource(monkeypatch) -> None:
    registered: list[str] = []
    original = RecordingMonitor.RegisterResource

    def spy(self, request):
        registered.append(request.type)
        return original(self, request)

    monkeypatch.setattr(RecordingMonitor, "RegisterResource", spy)
    with pytest.raises(ConfigError, match=r"(?s)stack .dev.*secure-serverless:alarmDatapointsToAlarm: "):
        evaluate("dev", overrides={"alarmDatapointsToAlarm": 9})
    assert [t for t in registered if t != "pulumi:pulumi:Stack"] == []

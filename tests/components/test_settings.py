"""The typed stack settings: defaults per environment and one clear error for every class of bad value."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from components.settings import LOG_RETENTION_DAYS, ConfigError, settings_from
from offline.runtime import RecordingMonitor, run_stack

PROJECT = "secure-serverless"


def load(values: dict[str, str], stack: str = "dev"):
    return settings_from(values.get, project=PROJECT, stack=stack, present_keys=values)


def test_dev_defaults_match_the_seed_numbers() -> None:
    s = load({})
    assert (s.throttle.burst_limit, s.throttle.rate_limit) == (100, 50.0)
    assert (s.usage_plan.enabled, s.usage_plan.quota_limit, s.usage_plan.quota_period) == (True, 10000, "MONTH")
    assert s.cognito.access_token_minutes == 60 and s.cognito.refresh_token_days == 30
    assert s.lambda_defaults.architecture == "arm64"
    assert s.force_destroy_buckets and not s.protect_data and not s.cognito.deletion_protection


def test_prod_defaults_are_guarded() -> None:
    s = load({"corsAllowedOrigins": '["https://app.example.com"]'}, stack="prod")
    assert s.is_production
    assert s.cognito.password_policy.min_length == 12
    assert s.cognito.deletion_protection and s.protect_data and not s.force_destroy_buckets
    assert s.lambda_defaults.tracing


@pytest.mark.parametrize(
    ("stack", "values", "key", "fragment"),
    [
        ("dev", {"apiThrottleBurstLimit": "-5"}, "apiThrottleBurstLimit", "between 1 and 5000"),
        ("dev", {"apiThrottleRateLimit": '"fast"'}, "apiThrottleRateLimit", "must be a number"),
        ("dev", {"mfaMode": "SOMETIMES"}, "mfaMode", "OFF, ON, OPTIONAL"),
        ("dev", {"corsAllowedOrigins": '["localhost:3000"]'}, "corsAllowedOrigins", "scheme://host"),
        ("dev", {"corsAllowedOrigins": '["*"]'}, "corsAllowedOrigins", "no '*'"),
        ("dev", {"corsAllowedOrigins": '["http://x.com/path"]'}, "corsAllowedOrigins", "no path"),
        ("dev", {"logRetentionDays": "10"}, "logRetentionDays", "CloudWatch accepts only"),
        ("dev", {"authFlows": '["ALLOW_USER_SRP_AUTH"]'}, "authFlows", "ALLOW_REFRESH_TOKEN_AUTH is required"),
        ("dev", {"authFlows": '["ALLOW_MAGIC", "ALLOW_REFRESH_TOKEN_AUTH"]'}, "authFlows", "unknown flows"),
        ("dev", {"usagePlanQuotaPeriod": "YEAR"}, "usagePlanQuotaPeriod", "DAY, WEEK, MONTH"),
        ("dev", {"lambdaArchitecture": "arm32"}, "lambdaArchitecture", "arm64, x86_64"),
        ("dev", {"lambdaMemoryMb": "64"}, "lambdaMemoryMb", "between 128 and 10240"),
        ("dev", {"lambdaTimeoutSeconds": "901"}, "lambdaTimeoutSeconds", "between 1 and 900"),
        ("dev", {"lambdaReservedConcurrency": "0"}, "lambdaReservedConcurrency", "between 1 and 1000"),
        ("dev", {"usagePlanEnabled": "yes"}, "usagePlanEnabled", "true or false"),
        ("dev", {"tags": '{"aws:owner": "me"}'}, "tags", "not 'aws:'-prefixed"),
        ("dev", {"tags": '["a"]'}, "tags", "map of strings"),
        ("dev", {"emailSender": "not-an-address"}, "emailSender", "an email address"),
        ("dev", {"emailDomain": "example.com", "emailSender": "a@other.org"}, "emailSender", "emailDomain"),
        ("dev", {"ordersFifo": "true", "ordersBatchSize": "20", "ordersBatchingWindowSeconds": "5"},
         "ordersBatchSize", "FIFO"),
        ("dev", {"ordersVisibilityTimeoutSeconds": "60"}, "ordersVisibilityTimeoutSeconds", "6 x the processor"),
        ("dev", {"uploadsStartingPosition": "AT_TIMESTAMP"}, "uploadsStartingPosition", "LATEST, TRIM_HORIZON"),
        ("dev", {"uploadsAllowedContentTypes": '["text"]'}, "uploadsAllowedContentTypes", "type/subtype"),
        ("dev", {"logRetentionDay": "7"}, "logRetentionDay", "did you mean 'logRetentionDays'"),
        ("prod", {"passwordMinLength": "8"}, "passwordMinLength", "at least 12"),
        ("prod", {"corsAllowedOrigins": '["http://localhost:3000"]'}, "corsAllowedOrigins", "https and not localhost"),
        ("prod", {"authFlows": '["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]'}, "authFlows", "plain passwords"),
        ("prod", {"forceDestroyBuckets": "true"}, "forceDestroyBuckets", "never force-destroyed"),
    ],
)
def test_each_bad_value_names_the_stack_and_the_key(stack, values, key, fragment) -> None:
    base = {"corsAllowedOrigins": '["https://app.example.com"]'} if stack == "prod" else {}
    with pytest.raises(ConfigError) as error:
        load({**base, **values}, stack=stack)
    message = str(error.value)
    assert f"stack {stack!r}" in message
    assert f"{PROJECT}:{key} " in message
    assert fragment in message


def test_all_problems_are_reported_together() -> None:
    with pytest.raises(ConfigError) as error:
        load({"mfaMode": "X", "logRetentionDays": "2", "lambdaArchitecture": "z"})
    assert str(error.value).count("\n  - ") == 3


@given(st.integers(min_value=1, max_value=3653))
def test_retention_accepts_exactly_cloudwatch_periods(days) -> None:
    if days in LOG_RETENTION_DAYS:
        assert load({"logRetentionDays": str(days)}).log_retention_days == days
    else:
        with pytest.raises(ConfigError, match="logRetentionDays"):
            load({"logRetentionDays": str(days)})


@given(st.integers(min_value=1, max_value=900), st.integers(min_value=0, max_value=43200))
def test_orders_visibility_timeout_is_at_least_six_times_the_processor_timeout(timeout, visibility) -> None:
    values = {"ordersProcessorTimeoutSeconds": str(timeout), "ordersVisibilityTimeoutSeconds": str(visibility)}
    if visibility >= 6 * timeout:
        assert load(values).orders.effective_visibility_timeout == visibility
    else:
        with pytest.raises(ConfigError, match="ordersVisibilityTimeoutSeconds"):
            load(values)


def test_a_bad_stack_config_stops_the_program_before_any_resource(monkeypatch) -> None:
    registered: list[str] = []
    original = RecordingMonitor.RegisterResource

    def spy(self, request):
        registered.append(request.type)
        return original(self, request)

    monkeypatch.setattr(RecordingMonitor, "RegisterResource", spy)
    with pytest.raises(ConfigError, match=r"(?s)stack .prod.*secure-serverless:logRetentionDays = 10"):
        run_stack("prod", overrides={"logRetentionDays": 10})
    assert [t for t in registered if t != "pulumi:pulumi:Stack"] == []


def test_physical_names_stay_within_aws_limits() -> None:
    s = load({})
    name = s.resource_name("a-very-long-component-name-that-keeps-going-and-going-and-going")
    assert len(name) == 64
    assert name.startswith("secure-serverless-dev-")
    assert s.resource_name("hello") == "secure-serverless-dev-hello"


def test_alarm_topic_must_be_an_sns_topic_arn() -> None:
    topic = "arn:aws:sns:us-east-1:123456789012:on-call"
    assert load({"alarmTopicArn": topic}).alarm_actions == (topic,)
    assert load({}).alarm_actions == ()
    with pytest.raises(ConfigError, match="alarmTopicArn .* an SNS topic ARN"):
        load({"alarmTopicArn": "arn:aws:sqs:us-east-1:123456789012:on-call"})


def test_pulumi_yaml_defaults_are_the_loaders_defaults() -> None:
    """One source of truth: every default Pulumi.yaml declares is the default the loader applies when the key is
    unset (checked for a non-production stack; production-only defaults are not declared in Pulumi.yaml)."""
    import yaml

    from components.settings import _Reader
    from offline.runtime import REPO_ROOT

    # `""` is Pulumi.yaml's spelling of "unset" for strings (the CLI requires a default): the loader's own
    # default applies then, as it does for a key that is not set at all.
    declared = {key: spec["default"] for key, spec in yaml.safe_load((REPO_ROOT / "Pulumi.yaml").read_text())["config"].items()
                if isinstance(spec, dict) and "default" in spec and spec["default"] != ""}
    seen: dict[str, object] = {}
    original = _Reader.__init__

    def spy(self, *args, **kwargs):
        original(self, *args, **kwargs)
        seen.update(vars(self))

    import pytest as _pytest

    with _pytest.MonkeyPatch.context() as patch:
        patch.setattr(_Reader, "__init__", spy)
        settings_from(lambda key: None, project=PROJECT, stack="dev")
    defaults = seen["defaults"]
    assert declared, "Pulumi.yaml declares no defaults"
    mismatched = {key: (value, defaults.get(key, "<not read>")) for key, value in declared.items()
                  if defaults.get(key, object()) != value}
    assert not mismatched, f"Pulumi.yaml default vs loader default: {mismatched}"

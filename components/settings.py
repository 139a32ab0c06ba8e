"""Stack configuration → each component's Args. The only module that knows this app's config keys.

Everything the program reads from `pulumi.Config()` is read here, once: `settings_from` reads and checks the
raw values (per-environment rules, misspelled keys), `stack_args` maps them to each component's own Args
(`StackArgs`), whose `__post_init__` checks hold the AWS limits. Any error, from either step, stops the
program before any resource exists with one ConfigError naming the stack and every bad key. Components
never import this module: another program builds their Args itself.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from .alarm_topic import AlarmTopicArgs
from .api_gateway_account import ApiGatewayAccountArgs
from .api_plan import with_scopes
from .bucket import SecureBucketArgs
from .docs_site import CustomDomain, DocsSiteArgs
from .email_sender import EmailSenderArgs
from .function import APPLICATION_LOG_LEVELS, FunctionDefaults
from .hosted_ui import HostedUiArgs, check_redirect_url
from .limits import (
    ARCHITECTURES,
    AUTH_FLOWS,
    LOG_RETENTION_DAYS,
    MFA_MODES,
    QUOTA_PERIODS,
    STARTING_POSITIONS,
)
from .limits import CONTENT_TYPE as _CONTENT_TYPE
from .limits import DOMAIN as _DOMAIN
from .limits import EMAIL as _EMAIL
from .limits import ORIGIN as _ORIGIN
from .naming import Naming
from .observability_plan import AlarmThresholds
from .order_pipeline import OrderPipelineArgs
from .order_settings import WorkflowSettings, read_workflow
from .order_workflow import OrderWorkflowArgs
from .paths import HANDLERS_DIR
from .profiles import ProfilesArgs
from .secure_api import SecureApiArgs
from .upload_stream import UploadStreamArgs
from .user_pool import UserPoolArgs

__all__ = ["ARCHITECTURES", "AUTH_FLOWS", "LOG_RETENTION_DAYS", "MFA_MODES", "QUOTA_PERIODS", "STARTING_POSITIONS",
           "ConfigError", "Settings", "StackArgs", "check_email_deliverable", "load", "placeholder_email_keys",
           "settings_from", "stack_args"]

_ENVIRONMENT = re.compile(r"^[a-z][a-z0-9-]{0,15}$")
_SNS_TOPIC_ARN = re.compile(r"^arn:aws[a-z-]*:sns:[a-z]{2}(-[a-z]+)+-\d:\d{12}:[A-Za-z0-9_-]{1,256}$")
_LOCAL_HOSTS = ("localhost", "127.0.0.1")
# Domains reserved for documentation (RFC 2606): SES can never verify them, so mail "from" them never leaves.
PLACEHOLDER_DOMAINS = ("example.com", "example.org", "example.net")
# One Lambda function per handler module (STYLE.md: one handler per file): the count reservations multiply by.
APP_FUNCTIONS = tuple(sorted(p.stem for p in HANDLERS_DIR.glob("*.py") if p.stem != "__init__"))
# AWS keeps this many concurrent executions unreserved per account and region: PutFunctionConcurrency fails
# ("... decreases account's UnreservedConcurrentExecution below its minimum value of [100]").
MIN_UNRESERVED_CONCURRENCY = 100


R = TypeVar("R")


class ConfigError(ValueError):
    """Raised before any resource is created; the message names the stack and each offending key."""


@dataclass(frozen=True)
class Throttle:
    burst_limit: int
    rate_limit: float


@dataclass(frozen=True)
class UsagePlan:
    enabled: bool
    quota_limit: int
    quota_period: str
    api_key_required_routes: tuple[str, ...] = ("*",)


@dataclass(frozen=True)
class PasswordPolicy:
    min_length: int
    require_lowercase: bool
    require_uppercase: bool
    require_numbers: bool
    require_symbols: bool
    temporary_password_validity_days: int = 7


@dataclass(frozen=True)
class CognitoSettings:
    password_policy: PasswordPolicy
    mfa_mode: str
    auth_flows: tuple[str, ...]
    access_token_minutes: int
    id_token_minutes: int
    refresh_token_days: int
    groups: tuple[str, ...]
    deletion_protection: bool


@dataclass(frozen=True)
class LambdaDefaults:
    memory_mb: int
    timeout_seconds: int
    architecture: str
    reserved_concurrency: int | None
    tracing: bool
    application_log_level: str = "INFO"


@dataclass(frozen=True)
class EmailSettings:
    sender: str
    domain: str | None
    max_receive_count: int


@dataclass(frozen=True)
class OrderSettings:
    fifo: bool
    max_receive_count: int
    batch_size: int
    batching_window_seconds: int
    max_concurrency: int | None
    processor_timeout_seconds: int
    visibility_timeout_seconds: int | None

    @property
    def effective_visibility_timeout(self) -> int:
        # AWS guidance: at least six times the function timeout, so retries don't overlap a running batch.
        return self.visibility_timeout_seconds or 6 * self.processor_timeout_seconds


@dataclass(frozen=True)
class UploadSettings:
    max_bytes: int
    url_ttl_seconds: int
    allowed_content_types: tuple[str, ...]
    stream_retention_hours: int
    starting_position: str
    batch_size: int
    max_retry_attempts: int
    max_record_age_seconds: int


@dataclass(frozen=True)
class DocsSettings:
    enabled: bool
    price_class: str
    api_behavior: bool
    domain: str | None
    certificate_arn: str | None


@dataclass(frozen=True)
class HostedUiSettings:
    domain_prefix: str | None
    domain: str | None
    certificate_arn: str | None
    resource_server_identifier: str
    # Extra callback / sign-out URLs besides the docs page (e.g. a local dev server).
    callback_urls: tuple[str, ...]
    # Route key ("GET /orders/{orderId}") -> short scope names (`orders.read`) its Method requires.
    route_scopes: Mapping[str, tuple[str, ...]]


@dataclass(frozen=True)
class Settings:
    project: str
    stack: str
    environment: str
    log_retention_days: int
    throttle: Throttle
    usage_plan: UsagePlan
    cors_origins: tuple[str, ...]
    cognito: CognitoSettings
    lambda_defaults: LambdaDefaults
    protect_data: bool
    force_destroy_buckets: bool
    email: EmailSettings
    orders: OrderSettings
    uploads: UploadSettings
    docs: DocsSettings
    hosted_ui: HostedUiSettings
    tags: Mapping[str, str] = field(default_factory=dict)
    alarm_topic_arn: str | None = None
    workflow: WorkflowSettings = field(default_factory=WorkflowSettings)
    manage_api_gateway_account: bool = True
    lambda_concurrency_limit: int = 1000
    region: str = "us-east-1"
    # Subscribed to the stack's own alarm topic (never to a configured alarmTopicArn).
    alarm_email: str | None = None
    # AlarmThresholds field -> value, as configured (the alarm* keys); checked by AlarmThresholds in stack_args.
    alarm_thresholds: Mapping[str, float] = field(default_factory=dict)

    @property
    def alarm_actions(self) -> tuple[str, ...]:
        """Where every alarm of the stack notifies (an existing SNS topic, e.g. the on-call one)."""
        return (self.alarm_topic_arn,) if self.alarm_topic_arn else ()

    @property
    def is_production(self) -> bool:
        return self.environment == "prod"

    @property
    def naming(self) -> Naming:
        return Naming(f"{self.project}-{self.stack}")

    def resource_name(self, suffix: str, max_length: int = 64) -> str:
        """A physical name unique per project and stack, within AWS length limits."""
        return self.naming.name(suffix, max_length)


_MISSING = object()


class _Reader:
    """Reads raw config strings (as the engine passes them) and records every problem with its key."""

    def __init__(self, raw: Callable[[str], str | None], project: str, stack: str):
        self._raw = raw
        self.project = project
        self.stack = stack
        self.errors: list[str] = []
        self.read_keys: set[str] = set()
        # The default each key gets when unset: tests hold these equal to Pulumi.yaml's declared defaults.
        self.defaults: dict[str, Any] = {}

    def _fail(self, key: str, value: Any, problem: str) -> None:
        self.errors.append(f"{self.project}:{key} = {value!r}: {problem}")

    def _get(self, key: str) -> Any:
        self.read_keys.add(key)
        value = self._raw(key)
        return _MISSING if value is None else value

    def _parsed(self, key: str) -> Any:
        value = self._get(key)
        if value is _MISSING or not isinstance(value, str):
            return value
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value

    def integer(self, key: str, default: int | None, low: int, high: int) -> int | None:
        self.defaults[key] = default
        value = self._parsed(key)
        if value is _MISSING or value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            self._fail(key, value, "must be an integer")
            return default
        if not low <= value <= high:
            self._fail(key, value, f"must be between {low} and {high}")
            return default
        return value

    def number(self, key: str, default: float, low: float, high: float) -> float:
        self.defaults[key] = default
        value = self._parsed(key)
        if value is _MISSING:
            return default
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self._fail(key, value, "must be a number")
            return default
        if not low <= value <= high:
            self._fail(key, value, f"must be between {low} and {high}")
            return default
        return float(value)

    def boolean(self, key: str, default: bool) -> bool:
        self.defaults[key] = default
        value = self._parsed(key)
        if value is _MISSING:
            return default
        if not isinstance(value, bool):
            self._fail(key, value, "must be true or false")
            return default
        return value

    def choice(self, key: str, default: str, choices: Iterable[str]) -> str:
        self.defaults[key] = default
        value = self._get(key)
        if value is _MISSING:
            return default
        choices = tuple(choices)
        if value not in choices:
            self._fail(key, value, f"must be one of {', '.join(choices)}")
            return default
        return value

    def text(self, key: str, default: str | None, pattern: re.Pattern[str] | None = None, what: str = "") -> str | None:
        self.defaults[key] = default
        value = self._get(key)
        if value is _MISSING or value == "":
            return default
        if pattern is not None and not pattern.match(value):
            self._fail(key, value, f"must be {what}")
            return default
        return value

    def string_list(self, key: str, default: Iterable[str]) -> tuple[str, ...]:
        self.defaults[key] = list(default)
        value = self._parsed(key)
        if value is _MISSING:
            return tuple(default)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self._fail(key, value, "must be a list of strings")
            return tuple(default)
        return tuple(value)

    def string_map(self, key: str) -> dict[str, str]:
        value = self._parsed(key)
        if value is _MISSING:
            return {}
        if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
            self._fail(key, value, "must be a map of strings to strings")
            return {}
        return value


def _check_origins(reader: _Reader, origins: tuple[str, ...], production: bool) -> None:
    for origin in origins:
        match = _ORIGIN.match(origin)
        if not match:
            reader._fail("corsAllowedOrigins", origin, "each origin must be scheme://host[:port] (no path, no '*')")
        elif production and (match.group(1) != "https" or match.group(2) in _LOCAL_HOSTS):
            reader._fail("corsAllowedOrigins", origin, "production origins must be https and not localhost")
    if not origins:
        reader._fail("corsAllowedOrigins", [], "at least one origin is required")


def _check_tags(reader: _Reader, tags: Mapping[str, str]) -> None:
    for key, value in tags.items():
        if key.lower().startswith("aws:") or not 1 <= len(key) <= 128 or len(value) > 256:
            reader._fail("tags", {key: value}, "tag keys are 1-128 chars, not 'aws:'-prefixed; values <= 256 chars")


def _cognito(reader: _Reader, production: bool) -> CognitoSettings:
    min_length = reader.integer("passwordMinLength", 12 if production else 8, 6, 99)
    if production and min_length < 12:
        reader._fail("passwordMinLength", min_length, "production requires at least 12 characters")
    policy = PasswordPolicy(
        min_length=min_length,
        require_lowercase=reader.boolean("passwordRequireLowercase", True),
        require_uppercase=reader.boolean("passwordRequireUppercase", True),
        require_numbers=reader.boolean("passwordRequireNumbers", True),
        require_symbols=reader.boolean("passwordRequireSymbols", True),
        temporary_password_validity_days=reader.integer("temporaryPasswordValidityDays", 7, 1, 365),
    )
    flows = reader.string_list("authFlows", ("ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"))
    unknown = sorted(set(flows) - set(AUTH_FLOWS))
    if unknown:
        reader._fail("authFlows", list(flows), f"unknown flows {unknown}; allowed: {', '.join(AUTH_FLOWS)}")
    if "ALLOW_REFRESH_TOKEN_AUTH" not in flows:
        reader._fail("authFlows", list(flows), "ALLOW_REFRESH_TOKEN_AUTH is required by Cognito")
    if production and "ALLOW_USER_PASSWORD_AUTH" in flows:
        reader._fail("authFlows", list(flows), "production must not send plain passwords (use ALLOW_USER_SRP_AUTH)")
    access = reader.integer("accessTokenMinutes", 60, 5, 1440)
    id_token = reader.integer("idTokenMinutes", 60, 5, 1440)
    refresh = reader.integer("refreshTokenDays", 30, 1, 3650)
    groups = reader.string_list("userGroups", ("admins",))
    for group in groups:
        if not re.match(r"^[\w+=,.@-]{1,128}$", group):
            reader._fail("userGroups", group, "group names are 1-128 word characters or +=,.@-")
    return CognitoSettings(
        password_policy=policy,
        mfa_mode=reader.choice("mfaMode", "OPTIONAL" if production else "OFF", MFA_MODES),
        auth_flows=tuple(dict.fromkeys(flows)),
        access_token_minutes=access,
        id_token_minutes=id_token,
        refresh_token_days=refresh,
        groups=groups,
        deletion_protection=reader.boolean("deletionProtection", production),
    )


def _email(reader: _Reader) -> EmailSettings:
    sender = reader.text("emailSender", "no-reply@example.com", _EMAIL, "an email address")
    domain = reader.text("emailDomain", None, _DOMAIN, "a domain name such as example.com")
    if domain and sender and not sender.lower().endswith("@" + domain.lower()):
        reader._fail("emailSender", sender, f"must be an address of emailDomain {domain!r}")
    return EmailSettings(
        sender=sender,
        domain=domain,
        max_receive_count=reader.integer("emailMaxReceiveCount", 3, 1, 1000),
    )


def _orders(reader: _Reader) -> OrderSettings:
    fifo = reader.boolean("ordersFifo", False)
    batch_size = reader.integer("ordersBatchSize", 10, 1, 10000)
    if fifo and batch_size > 10:
        reader._fail("ordersBatchSize", batch_size, "FIFO queues deliver at most 10 messages per batch")
    window = reader.integer("ordersBatchingWindowSeconds", 0, 0, 300)
    if batch_size > 10 and window < 1:
        reader._fail("ordersBatchingWindowSeconds", window, "batches over 10 need a batching window of >= 1 s")
    if fifo and window > 0:
        reader._fail("ordersBatchingWindowSeconds", window, "FIFO event source mappings have no batching window")
    timeout = reader.integer("ordersProcessorTimeoutSeconds", 30, 1, 900)
    visibility = reader.integer("ordersVisibilityTimeoutSeconds", None, 0, 43200)
    if visibility is not None and visibility < 6 * timeout:
        reader._fail(
            "ordersVisibilityTimeoutSeconds",
            visibility,
            f"must be >= 6 x the processor timeout ({6 * timeout} s) so a slow batch is not redelivered mid-run",
        )
    return OrderSettings(
        fifo=fifo,
        max_receive_count=reader.integer("ordersMaxReceiveCount", 3, 1, 1000),
        batch_size=batch_size,
        batching_window_seconds=window,
        max_concurrency=reader.integer("ordersMaxConcurrency", None, 2, 1000),
        processor_timeout_seconds=timeout,
        visibility_timeout_seconds=visibility,
    )


def _uploads(reader: _Reader) -> UploadSettings:
    content_types = reader.string_list(
        "uploadsAllowedContentTypes", ("text/plain", "text/csv", "application/json", "image/png", "image/jpeg")
    )
    bad = [t for t in content_types if not _CONTENT_TYPE.match(t)]
    if bad or not content_types:
        reader._fail("uploadsAllowedContentTypes", list(content_types), "needs one or more type/subtype values")
    retention_hours = reader.integer("uploadsStreamRetentionHours", 24, 24, 8760)
    max_record_age = reader.integer("uploadsMaxRecordAgeSeconds", 3600, 60, 604800)
    if max_record_age > retention_hours * 3600:
        # The stream trims the record first: the age limit would never fire and its failure never be reported.
        reader._fail("uploadsMaxRecordAgeSeconds", max_record_age,
                     f"must not exceed the stream retention ({retention_hours * 3600} s)")
    return UploadSettings(
        max_bytes=reader.integer("uploadsMaxBytes", 1_048_576, 1, 100 * 1_048_576),
        url_ttl_seconds=reader.integer("uploadsUrlTtlSeconds", 900, 60, 604800),
        allowed_content_types=tuple(dict.fromkeys(content_types)),
        stream_retention_hours=retention_hours,
        starting_position=reader.choice("uploadsStartingPosition", "LATEST", STARTING_POSITIONS),
        batch_size=reader.integer("uploadsBatchSize", 10, 1, 10000),
        max_retry_attempts=reader.integer("uploadsMaxRetryAttempts", 3, 0, 10000),
        max_record_age_seconds=max_record_age,
    )


def _docs(reader: _Reader) -> DocsSettings:
    return DocsSettings(
        enabled=reader.boolean("docsEnabled", True),
        price_class=reader.text("docsPriceClass", "PriceClass_100") or "PriceClass_100",
        api_behavior=reader.boolean("docsApiBehavior", True),
        domain=reader.text("docsDomain", None),
        certificate_arn=reader.text("docsCertificateArn", None),
    )


def _default_prefix(project: str, stack: str) -> str:
    """`<project>-<stack>` as a Cognito prefix domain: lowercase, hyphens, at most 63 characters (hashed down)."""
    base = re.sub(r"[^a-z0-9-]+", "-", f"{project}-{stack}".lower()).strip("-")
    if len(base) <= 63:
        return base
    return base[:55].rstrip("-") + "-" + hashlib.sha256(base.encode()).hexdigest()[:7]


def _hosted_ui(reader: _Reader, production: bool) -> HostedUiSettings:
    domain = reader.text("hostedUiDomain", None)
    urls = reader.string_list("oauthCallbackUrls", ())
    if production:
        local = [u for u in urls if not u.startswith("https://")]
        if local:
            reader._fail("oauthCallbackUrls", local, "production signs in only through https sites")
    raw_scopes = reader._parsed("routeScopes")
    route_scopes: dict[str, tuple[str, ...]] = {}
    if raw_scopes is not _MISSING and raw_scopes != "":
        if isinstance(raw_scopes, dict) and all(
            isinstance(v, list) and v and all(isinstance(x, str) for x in v) for v in raw_scopes.values()
        ):
            route_scopes = {key: tuple(names) for key, names in raw_scopes.items()}
        else:
            reader._fail("routeScopes", raw_scopes, 'must map "METHOD /path" to a non-empty list of scope names')
    return HostedUiSettings(
        # A prefix domain is unique per region: <project>-<stack> unless the stack names another.
        domain_prefix=None if domain else reader.text("hostedUiDomainPrefix", _default_prefix(reader.project, reader.stack)),
        domain=domain,
        certificate_arn=reader.text("hostedUiCertificateArn", None),
        resource_server_identifier=reader.text("oauthResourceServer", reader.project) or reader.project,
        callback_urls=urls,
        route_scopes=route_scopes,
    )


# AlarmThresholds field -> its config key: one flat key per threshold, like every other key of the stack (each
# is set with a plain `pulumi config set`, and each problem AlarmThresholds finds is reported under its own key).
ALARM_THRESHOLD_KEYS: dict[str, str] = {
    "period_seconds": "alarmPeriodSeconds",
    "evaluation_periods": "alarmEvaluationPeriods",
    "datapoints_to_alarm": "alarmDatapointsToAlarm",
    "latency_evaluation_periods": "alarmLatencyEvaluationPeriods",
    "latency_datapoints_to_alarm": "alarmLatencyDatapointsToAlarm",
    "duration_timeout_ratio": "alarmDurationTimeoutRatio",
    "api_5xx_rate": "alarmApi5xxRate",
    "api_4xx_rate": "alarmApi4xxRate",
    "api_4xx_evaluation_periods": "alarmApi4xxEvaluationPeriods",
    "api_4xx_datapoints_to_alarm": "alarmApi4xxDatapointsToAlarm",
    "api_latency_p99_ms": "alarmApiLatencyP99Ms",
    "api_integration_latency_p99_ms": "alarmApiIntegrationLatencyP99Ms",
    "iterator_age_ms": "alarmIteratorAgeMs",
}


def _alarm_thresholds(reader: _Reader) -> dict[str, float]:
    """Only the type is checked here; the ranges and cross-field rules are AlarmThresholds' own (stack_args)."""
    values: dict[str, float] = {}
    for name, default in vars(AlarmThresholds()).items():
        key = ALARM_THRESHOLD_KEYS[name]
        if isinstance(default, int):
            values[name] = reader.integer(key, default, -(2**31), 2**31 - 1)
        else:
            values[name] = reader.number(key, default, float("-inf"), float("inf"))
    if values["period_seconds"] in (10, 30):
        # AlarmThresholds allows them (PutMetricAlarm does), but they suit only high-resolution metrics; every
        # metric alarmed here (AWS/Lambda, AWS/ApiGateway, AWS/SQS) is per minute, so such an alarm would keep
        # lapsing into INSUFFICIENT_DATA (PutMetricAlarm's Period documentation).
        reader._fail("alarmPeriodSeconds", values["period_seconds"], "must be a multiple of 60: the alarmed AWS "
                     "metrics are published per minute, and a 10/30 s alarm on them lapses into INSUFFICIENT_DATA")
    return values


def _alarm_email(reader: _Reader, topic_arn: str | None) -> str | None:
    email = reader.text("alarmEmail", None, _EMAIL, "an email address")
    if email and topic_arn:
        # The stack creates no topic of its own then: a subscription would have nothing to attach to, and
        # subscribing someone else's (on-call) topic from this stack would make it owner of that subscription.
        reader._fail("alarmEmail", email, "subscribes the stack's own alarm topic, which is not created when "
                     "alarmTopicArn is set: subscribe the address to that topic instead, or unset one of the two")
    return email


def settings_from(
    raw: Callable[[str], str | None],
    *,
    project: str,
    stack: str,
    present_keys: Iterable[str] = (),
    region: str = "us-east-1",
) -> Settings:
    """Build validated Settings from raw config strings; `present_keys` catches misspelled keys."""
    reader = _Reader(raw, project, stack)
    environment = reader.text("environment", stack, _ENVIRONMENT, "lower-case letters, digits and '-' (<= 16)")
    production = environment == "prod"
    cors_origins = reader.string_list("corsAllowedOrigins", ("http://localhost:3000",))
    _check_origins(reader, cors_origins, production)
    tags = reader.string_map("tags")
    _check_tags(reader, tags)
    quota_limit = reader.integer("usagePlanQuotaLimit", 10000, 1, 2_000_000_000)
    settings = Settings(
        project=project,
        stack=stack,
        environment=environment,
        log_retention_days=_retention(reader),
        throttle=Throttle(
            burst_limit=reader.integer("apiThrottleBurstLimit", 100, 1, 5000),
            rate_limit=reader.number("apiThrottleRateLimit", 50.0, 0.1, 10000),
        ),
        usage_plan=UsagePlan(
            enabled=reader.boolean("usagePlanEnabled", True),
            quota_limit=quota_limit,
            quota_period=reader.choice("usagePlanQuotaPeriod", "MONTH", QUOTA_PERIODS),
            api_key_required_routes=reader.string_list("apiKeyRequiredRoutes", ("*",)),
        ),
        cors_origins=cors_origins,
        cognito=_cognito(reader, production),
        lambda_defaults=LambdaDefaults(
            memory_mb=reader.integer("lambdaMemoryMb", 256, 128, 10240),
            timeout_seconds=reader.integer("lambdaTimeoutSeconds", 10, 1, 900),
            architecture=reader.choice("lambdaArchitecture", "arm64", ARCHITECTURES),
            reserved_concurrency=reader.integer("lambdaReservedConcurrency", None, 1, 1000),
            tracing=reader.boolean("lambdaTracing", production),
            application_log_level=reader.choice("lambdaLogLevel", "INFO" if production else "DEBUG",
                                                APPLICATION_LOG_LEVELS),
        ),
        protect_data=reader.boolean("protectData", production),
        force_destroy_buckets=reader.boolean("forceDestroyBuckets", not production),
        email=_email(reader),
        orders=_orders(reader),
        uploads=_uploads(reader),
        docs=_docs(reader),
        hosted_ui=_hosted_ui(reader, production),
        tags={"project": project, "stack": stack, "environment": environment, **tags},
        alarm_topic_arn=reader.text("alarmTopicArn", None, _SNS_TOPIC_ARN, "an SNS topic ARN"),
        workflow=read_workflow(reader),
        manage_api_gateway_account=reader.boolean("manageApiGatewayAccount", True),
        lambda_concurrency_limit=reader.integer("lambdaConcurrencyLimit", 1000, 1, 10_000_000),
        region=region,
    )
    alarm_topic_arn = settings.alarm_topic_arn
    settings = replace(settings, alarm_email=_alarm_email(reader, alarm_topic_arn),
                       alarm_thresholds=_alarm_thresholds(reader))
    _check_reserved_concurrency(reader, settings.lambda_defaults.reserved_concurrency,
                                settings.lambda_concurrency_limit, len(APP_FUNCTIONS))
    _check_order_concurrency(reader, settings, len(APP_FUNCTIONS))
    if production and settings.force_destroy_buckets:
        reader._fail("forceDestroyBuckets", True, "production buckets are never force-destroyed")
    for key in sorted(set(present_keys) - reader.read_keys):
        hint = difflib.get_close_matches(key, sorted(reader.read_keys), n=1)
        reader._fail(key, raw(key), "unknown key" + (f" (did you mean {hint[0]!r}?)" if hint else ""))
    if reader.errors:
        raise ConfigError(f"stack {stack!r} has invalid configuration:\n  - " + "\n  - ".join(reader.errors))
    return settings


def _check_reserved_concurrency(reader: _Reader, reserved: int | None, limit: int, functions: int) -> None:
    """Reservations of all the stack's functions must leave 100 of the account's concurrency unreserved.

    Every function of this app takes the stack value (no PythonFunctionArgs.reserved_concurrency override:
    tests/test_deployable.py asserts each function's value); an override would have to be counted here."""
    if reserved is None:
        return
    if limit <= MIN_UNRESERVED_CONCURRENCY:
        reader._fail("lambdaReservedConcurrency", reserved,
                     f"an account whose concurrency limit is {limit} (lambdaConcurrencyLimit; new accounts may have "
                     f"10) cannot reserve any: AWS keeps {MIN_UNRESERVED_CONCURRENCY} unreserved. Leave it unset or "
                     "request a quota increase")
    elif functions * reserved > limit - MIN_UNRESERVED_CONCURRENCY:
        reader._fail("lambdaReservedConcurrency", reserved,
                     f"{functions} functions x {reserved} = {functions * reserved} reserved would leave "
                     f"{limit - functions * reserved} of the account's {limit} concurrent executions "
                     f"(lambdaConcurrencyLimit) unreserved; AWS requires {MIN_UNRESERVED_CONCURRENCY}, so at most "
                     f"{(limit - MIN_UNRESERVED_CONCURRENCY) // functions} per function")


def _check_order_concurrency(reader: _Reader, settings: Settings, functions: int) -> None:
    """The order knobs share the account with every other function: the front door's own reservation replaces the
    stack value on that one function, and the charge step's provisioned concurrency must fit in what it may run
    (its reservation when the stack reserves, else the pool left after all reservations and AWS's 100)."""
    flow, limit = settings.workflow, settings.lambda_concurrency_limit
    front, provisioned = flow.front_door_reserved_concurrency, flow.charge_provisioned_concurrency
    each = settings.lambda_defaults.reserved_concurrency or 0
    reserved = each * (functions - (1 if front else 0)) + (front or 0)
    if front is not None and reserved > limit - MIN_UNRESERVED_CONCURRENCY:
        reader._fail("ordersReservedConcurrency", front,
                     f"with lambdaReservedConcurrency on the other {functions - 1} functions, {reserved} reserved would "
                     f"leave less than {MIN_UNRESERVED_CONCURRENCY} of the account's {limit} (lambdaConcurrencyLimit)")
    elif provisioned is not None:
        room = each if each else limit - MIN_UNRESERVED_CONCURRENCY - reserved
        if provisioned > room:
            reader._fail("ordersChargeProvisionedConcurrency", provisioned,
                         f"the charge step may run at most {room} at once (" + (
                             "its lambdaReservedConcurrency" if each else
                             f"the account's {limit} less {reserved} reserved and {MIN_UNRESERVED_CONCURRENCY} "
                             "unreserved") + "); provisioned concurrency cannot exceed it")


def placeholder_email_keys(settings: Settings) -> dict[str, str]:
    """Config keys whose email identity is a documentation placeholder (example.com/.org/.net or a subdomain)."""
    found = {}
    for key, value in (("emailSender", settings.email.sender), ("emailDomain", settings.email.domain)):
        domain = (value or "").rpartition("@")[2].lower()
        if domain and any(domain == d or domain.endswith("." + d) for d in PLACEHOLDER_DOMAINS):
            found[key] = value
    return found


def check_email_deliverable(settings: Settings, *, dry_run: bool, warn: Callable[[str], None]) -> None:
    """Outside the local stack a placeholder sender/domain means every email ends in the DLQ while /register
    reports success: `pulumi preview` warns (CI previews the committed stack files), `pulumi up` stops here,
    before any resource, with a ConfigError naming the key(s)."""
    if settings.environment == "local":
        return
    found = placeholder_email_keys(settings)
    if not found:
        return
    problems = [f"{settings.project}:{key} = {value!r}: a placeholder domain SES can never verify; set an address "
                f"or domain you control (`pulumi config set {key} ...`, README \"Email\")" for key, value in found.items()]
    if dry_run:
        for problem in problems:
            warn(f"stack {settings.stack!r}: {problem}; `pulumi up` will refuse it")
        return
    raise ConfigError(f"stack {settings.stack!r} has invalid configuration:\n  - " + "\n  - ".join(problems))


def _retention(reader: _Reader) -> int:
    value = reader.integer("logRetentionDays", 14, 1, 3653)
    if value not in LOG_RETENTION_DAYS:
        reader._fail("logRetentionDays", value, f"CloudWatch accepts only {', '.join(map(str, LOG_RETENTION_DAYS))}")
        return 14
    return value


# ------------------------------------------------------------------------------ settings → each component's Args


@dataclass(frozen=True)
class StackArgs:
    """Every component's Args for one stack, validated together before any resource exists."""

    settings: Settings
    functions: FunctionDefaults
    user_pool: UserPoolArgs
    api: SecureApiArgs
    email: EmailSenderArgs
    orders: OrderPipelineArgs
    uploads: UploadStreamArgs
    profiles: ProfilesArgs
    # None when another stack manages the account-wide API Gateway CloudWatch role (manageApiGatewayAccount).
    api_account: ApiGatewayAccountArgs | None = None
    hosted_ui: HostedUiArgs | None = None
    # None: this stack publishes no docs site (e.g. LocalStack, which has no CloudFront).
    docs: DocsSiteArgs | None = None
    # Route key -> full scope names, from `routeScopes`.
    route_scopes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    # The stack's alarm topic (configured or its own, with alarmEmail) and the Observability thresholds.
    alarm_topic: AlarmTopicArgs | None = None
    thresholds: AlarmThresholds = field(default_factory=AlarmThresholds)

    def scoped(self, routes: Sequence[R]) -> list[R]:
        """`routes` with the stack's `routeScopes` applied (a key naming no route is a config error)."""
        try:
            return with_scopes(routes, self.route_scopes)
        except ValueError as error:
            raise ConfigError(f"stack {self.settings.stack!r}: {self.settings.project}:routeScopes: {error}") from None

    def with_account(self, account_id: Any) -> StackArgs:
        """Every function of the stack trusts this account: one lookup per stack, passed down."""
        functions = self.functions.with_account(account_id)
        workflow = self.orders.workflow and replace(self.orders.workflow, functions=functions)
        api_account = replace(self.api_account, account_id=account_id) if self.api_account else None
        alarm_topic = replace(self.alarm_topic, account_id=account_id) if self.alarm_topic else None
        return replace(self, functions=functions, email=replace(self.email, functions=functions),
                       orders=replace(self.orders, functions=functions, workflow=workflow),
                       uploads=replace(self.uploads, functions=functions),
                       profiles=replace(self.profiles, functions=functions), api_account=api_account,
                       alarm_topic=alarm_topic)

    def with_alarm_actions(self, actions: Iterable[Any]) -> StackArgs:
        """The flows' own alarms (dead-letter and failure queues) notify `actions`: the stack's alarm topic."""
        actions = tuple(actions)
        workflow = self.orders.workflow and replace(self.orders.workflow, alarm_actions=actions)
        return replace(self, email=replace(self.email, alarm_actions=actions),
                       orders=replace(self.orders, alarm_actions=actions, workflow=workflow),
                       uploads=replace(self.uploads, alarm_actions=actions),
                       profiles=replace(self.profiles, alarm_actions=actions))


# Which config key an Args error is about: (words of the error message, config key). First match wins per key.
_ERROR_KEYS: dict[str, tuple[tuple[str, str], ...]] = {
    "functions": (("memory", "lambdaMemoryMb"), ("timeout", "lambdaTimeoutSeconds"),
                  ("architecture", "lambdaArchitecture"), ("reserved", "lambdaReservedConcurrency"),
                  ("retention", "logRetentionDays"), ("tag", "tags")),
    "user_pool": (("password_min_length", "passwordMinLength"), ("temporary", "temporaryPasswordValidityDays"),
                  ("access_token", "accessTokenMinutes"), ("id_token", "idTokenMinutes"),
                  ("refresh_token", "refreshTokenDays"), ("mfa", "mfaMode"), ("auth_flows", "authFlows"),
                  ("groups", "userGroups"), ("tag", "tags")),
    "api": (("cors", "corsAllowedOrigins"), ("burst", "apiThrottleBurstLimit"), ("rate", "apiThrottleRateLimit"),
            ("quota_limit", "usagePlanQuotaLimit"), ("quota_period", "usagePlanQuotaPeriod"),
            ("api_key_required_routes", "apiKeyRequiredRoutes"),
            ("retention", "logRetentionDays"), ("tag", "tags")),
    "email": (("sender", "emailSender"), ("domain", "emailDomain"), ("max_receive_count", "emailMaxReceiveCount"),
              ("timeout", "lambdaTimeoutSeconds"), ("tag", "tags")),
    "orders": (("fifo", "ordersFifo"), ("max_receive_count", "ordersMaxReceiveCount"), ("batch size", "ordersBatchSize"),
               ("batches over", "ordersBatchSize"), ("batching window", "ordersBatchingWindowSeconds"),
               ("concurrency", "ordersMaxConcurrency"), ("processor timeout", "ordersProcessorTimeoutSeconds"),
               ("visibility", "ordersVisibilityTimeoutSeconds"), ("queue names", "ordersFifo"), ("tag", "tags")),
    "workflow": (("schedule", "ordersCleanupSchedule"), ("pending_timeout", "ordersPendingTimeoutSeconds"),
                 ("retention", "ordersRetentionDays"), ("charge_amount", "ordersMaxChargeAmount"),
                 ("provisioned", "ordersChargeProvisionedConcurrency"), ("tag", "tags")),
    "profiles": (("name", "<project/stack>"), ("tag", "tags")),
    "uploads": (("cors", "corsAllowedOrigins"), ("max_bytes", "uploadsMaxBytes"), ("url_ttl", "uploadsUrlTtlSeconds"),
                ("content_types", "uploadsAllowedContentTypes"), ("stream_retention", "uploadsStreamRetentionHours"),
                ("starting position", "uploadsStartingPosition"), ("batch size", "uploadsBatchSize"),
                ("retries", "uploadsMaxRetryAttempts"), ("record age", "uploadsMaxRecordAgeSeconds"),
                ("memory", "lambdaMemoryMb"), ("timeout", "lambdaTimeoutSeconds"), ("tag", "tags")),
    "hosted_ui": (("domain_prefix", "hostedUiDomainPrefix"), ("custom_domain", "hostedUiDomain"),
                  ("certificate", "hostedUiCertificateArn"), ("resource_server", "oauthResourceServer"),
                  ("scope", "routeScopes"), ("redirect url", "oauthCallbackUrls")),
    "docs": (("price_class", "docsPriceClass"), ("alias", "docsDomain"), ("us-east-1", "docsCertificateArn"),
             ("minimum_protocol_version", "docsCertificateArn"), ("docsdomain", "docsDomain"), ("tag", "tags")),
    "alarm_topic": (("email", "alarmEmail"), ("existing topic", "alarmTopicArn"), ("tag", "tags")),
}


def _threshold_errors(prefix: str, error: ValueError) -> list[str]:
    """AlarmThresholds joins its problems with '; ', each led by the field it is about: one line per config key."""
    problems = str(error).removeprefix("invalid alarm thresholds: ").split("; ")
    lines = []
    for problem in problems:
        field_name = re.match(r"\w+", problem)
        key = ALARM_THRESHOLD_KEYS.get(field_name.group(0) if field_name else "", "<alarm thresholds>")
        lines.append(f"{prefix}:{key}: {problem}")
    return lines


def _keys_for(component: str, message: str) -> list[str]:
    keys = [key for words, key in _ERROR_KEYS[component] if words in message.lower()]
    return list(dict.fromkeys(keys)) or [f"<{component}>"]


def stack_args(settings: Settings, account_id: Any = None) -> StackArgs:
    """Map validated Settings to each component's Args. An Args check that still fails is reported under the
    config key(s) it came from, all of them at once, naming the stack."""
    errors: list[str] = []
    prefix = settings.project

    def build(component: str, factory: Callable[[], Any]) -> Any:
        try:
            return factory()
        except ValueError as error:
            errors.extend(f"{prefix}:{key}: {error}" for key in _keys_for(component, str(error)))
            return None

    tags = dict(settings.tags)
    fn = settings.lambda_defaults
    functions = build("functions", lambda: FunctionDefaults(
        naming=settings.naming,
        memory_mb=fn.memory_mb,
        timeout_seconds=fn.timeout_seconds,
        architecture=fn.architecture,
        tracing=fn.tracing,
        reserved_concurrency=fn.reserved_concurrency,
        log_retention_days=settings.log_retention_days,
        tags=tags,
        # What every handler of this app reads (CORS answers, /health): asked for here, never injected.
        environment={"ALLOWED_ORIGINS": ",".join(settings.cors_origins), "STAGE": settings.stack,
                     "SERVICE_NAME": settings.project},
        label=settings.stack,
        account_id=account_id,
        application_log_level=fn.application_log_level,
    ))
    cognito = settings.cognito
    policy = cognito.password_policy
    user_pool = build("user_pool", lambda: UserPoolArgs(
        naming=settings.naming,
        password_min_length=policy.min_length,
        password_require_lowercase=policy.require_lowercase,
        password_require_uppercase=policy.require_uppercase,
        password_require_numbers=policy.require_numbers,
        password_require_symbols=policy.require_symbols,
        temporary_password_validity_days=policy.temporary_password_validity_days,
        mfa_mode=cognito.mfa_mode,
        auth_flows=cognito.auth_flows,
        access_token_minutes=cognito.access_token_minutes,
        id_token_minutes=cognito.id_token_minutes,
        refresh_token_days=cognito.refresh_token_days,
        groups=cognito.groups,
        deletion_protection=cognito.deletion_protection,
        protect=settings.protect_data,
        tags=tags,
        label=settings.stack,
    ))
    api = build("api", lambda: SecureApiArgs(
        naming=settings.naming,
        stage_name=settings.stack,
        cors_origins=settings.cors_origins,
        throttle_burst_limit=settings.throttle.burst_limit,
        throttle_rate_limit=settings.throttle.rate_limit,
        usage_plan_enabled=settings.usage_plan.enabled,
        usage_plan_quota_limit=settings.usage_plan.quota_limit,
        usage_plan_quota_period=settings.usage_plan.quota_period,
        api_key_required_routes=settings.usage_plan.api_key_required_routes,
        access_log_retention_days=settings.log_retention_days,
        tracing=fn.tracing,
        tags=tags,
        description=f"{settings.project} API ({settings.stack})",
    ))
    if functions is None:
        raise ConfigError(f"stack {settings.stack!r} has invalid configuration:\n  - " + "\n  - ".join(errors))
    email = build("email", lambda: EmailSenderArgs(
        functions=functions,
        sender=settings.email.sender,
        domain=settings.email.domain,
        max_receive_count=settings.email.max_receive_count,
        tags=tags,
        alarm_actions=settings.alarm_actions,
    ))
    flow = settings.workflow
    workflow = build("workflow", lambda: OrderWorkflowArgs(
        functions=functions,
        protect=settings.protect_data,
        cleanup_schedule=flow.cleanup_schedule,
        pending_timeout_seconds=flow.pending_timeout_seconds,
        order_retention_days=flow.retention_days,
        max_charge_amount=flow.max_charge_amount,
        charge_provisioned_concurrency=flow.charge_provisioned_concurrency,
        tags=tags,
        alarm_actions=settings.alarm_actions,
    ))
    profiles = build("profiles", lambda: ProfilesArgs(
        functions=functions, protect=settings.protect_data, tags=tags, alarm_actions=settings.alarm_actions))
    orders_settings = settings.orders
    orders = build("orders", lambda: OrderPipelineArgs(
        functions=functions,
        fifo=orders_settings.fifo,
        max_receive_count=orders_settings.max_receive_count,
        batch_size=orders_settings.batch_size,
        batching_window_seconds=orders_settings.batching_window_seconds,
        max_concurrency=orders_settings.max_concurrency,
        processor_timeout_seconds=orders_settings.processor_timeout_seconds,
        visibility_timeout_seconds=orders_settings.visibility_timeout_seconds,
        workflow=workflow if flow.enabled else None,
        submit_reserved_concurrency=flow.front_door_reserved_concurrency,
        protect=settings.protect_data,
        force_destroy=settings.force_destroy_buckets,
        tags=tags,
        alarm_actions=settings.alarm_actions,
    ))
    up = settings.uploads
    uploads = build("uploads", lambda: UploadStreamArgs(
        functions=functions,
        cors_origins=settings.cors_origins,
        max_bytes=up.max_bytes,
        url_ttl_seconds=up.url_ttl_seconds,
        allowed_content_types=up.allowed_content_types,
        stream_retention_hours=up.stream_retention_hours,
        starting_position=up.starting_position,
        batch_size=up.batch_size,
        max_retry_attempts=up.max_retry_attempts,
        max_record_age_seconds=up.max_record_age_seconds,
        protect=settings.protect_data,
        force_destroy=settings.force_destroy_buckets,
        tags=tags,
        alarm_actions=settings.alarm_actions,
    ))
    ui = settings.hosted_ui
    hosted_ui = build("hosted_ui", lambda: HostedUiArgs(
        resource_server_identifier=ui.resource_server_identifier,
        domain_prefix=ui.domain_prefix,
        custom_domain=ui.domain,
        certificate_arn=ui.certificate_arn,
        region=settings.region,
        access_token_minutes=cognito.access_token_minutes,
        id_token_minutes=cognito.id_token_minutes,
        refresh_token_days=cognito.refresh_token_days,
    ))
    for url in ui.callback_urls:
        build("hosted_ui", lambda url=url: check_redirect_url(url))
    route_scopes = {}
    if hosted_ui is not None:
        route_scopes = build("hosted_ui", lambda: {
            key: tuple(hosted_ui.scope(name) for name in names) for key, names in ui.route_scopes.items()}) or {}
    docs = None
    if settings.docs.enabled:
        d = settings.docs
        docs = build("docs", lambda: DocsSiteArgs(
            # Generated content only: nothing to protect, always removable with the stack.
            bucket=SecureBucketArgs(tags=tags, force_destroy=True, deferred_policy=True),
            title=f"{settings.project} API ({settings.stack})",
            price_class=d.price_class,
            serve_api=d.api_behavior,
            domain=_docs_domain(d),
            connect_sources=(hosted_ui.base_url,) if hosted_ui else (),
            tags=tags,
        ))
    alarm_topic = build("alarm_topic", lambda: AlarmTopicArgs(
        project=settings.project, stage=settings.stack, existing_topic_arn=settings.alarm_topic_arn,
        email=settings.alarm_email, tags=tags, account_id=account_id,
    ))
    try:
        thresholds = AlarmThresholds(**settings.alarm_thresholds)
    except ValueError as error:
        errors.extend(_threshold_errors(prefix, error))
    if errors:
        raise ConfigError(f"stack {settings.stack!r} has invalid configuration:\n  - " + "\n  - ".join(errors))
    api_account = ApiGatewayAccountArgs(naming=settings.naming, tags=tags) if settings.manage_api_gateway_account else None
    return StackArgs(settings, functions, user_pool, api, email, orders, uploads, profiles, api_account,
                     hosted_ui, docs, route_scopes, alarm_topic=alarm_topic, thresholds=thresholds)


def _docs_domain(docs: DocsSettings) -> CustomDomain | None:
    if docs.domain is None and docs.certificate_arn is None:
        return None
    if docs.domain is None or docs.certificate_arn is None:
        raise ValueError("docsDomain and docsCertificateArn go together (CloudFront serves the name with the certificate)")
    return CustomDomain((docs.domain,), docs.certificate_arn)


def load_settings() -> Settings:
    """Read this stack's configuration through `pulumi.Config()` (the CLI's config, secrets decrypted)."""
    import pulumi
    from pulumi.runtime.config import CONFIG, get_config_env

    project, stack = pulumi.get_project(), pulumi.get_stack()
    config = pulumi.Config()
    prefix = f"{project}:"
    present = {k[len(prefix):] for k in (*CONFIG.get(), *get_config_env()) if k.startswith(prefix)}
    region = pulumi.Config("aws").get("region") or "us-east-1"
    return settings_from(config.get, project=project, stack=stack, present_keys=present, region=region)


def localstack_endpoint(endpoints: Any) -> str | None:
    """The provider's apigateway endpoint (`aws:endpoints`) when it points at a local emulator, else None."""
    from urllib.parse import urlsplit

    for entry in endpoints or []:
        url = (entry or {}).get("apigateway") if isinstance(entry, dict) else None
        if url and (urlsplit(url).hostname or "") in (*_LOCAL_HOSTS, "localhost.localstack.cloud"):
            return url
    return None


def load() -> StackArgs:
    """This stack's config, validated and mapped to every component's Args (ConfigError names stack + keys).
    Pass the stack's one caller-identity lookup down with `.with_account(...)`."""
    import pulumi

    settings = load_settings()
    check_email_deliverable(settings, dry_run=pulumi.runtime.is_dry_run(), warn=pulumi.log.warn)
    args = stack_args(settings)
    endpoint = localstack_endpoint(pulumi.Config("aws").get_object("endpoints"))
    return replace(args, api=replace(args.api, local_endpoint=endpoint)) if endpoint else args

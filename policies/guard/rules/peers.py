"""High-signal rules other packs have (Checkov, cdk-nag, tflint, awsguard) that matter for a serverless app."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from ..iam import Statement, principals, raw_documents
from ..model import UNKNOWN, Graph, Resource, Unverifiable
from ..rule import ADVISORY, Outcome, rule, string_list
from .hygiene import FUNCTION, INVOKE_CONFIG, LOG_GROUP, STAGE
from .iam_scoping import _each_allow, _restricts_caller

METHOD_SETTINGS = "aws:apigateway/methodSettings:MethodSettings"
HTTP_STAGE = "aws:apigatewayv2/stage:Stage"
TOPIC = "aws:sns/topic:Topic"
TOPIC_POLICY = "aws:sns/topicPolicy:TopicPolicy"
TOPIC_SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"
QUEUE = "aws:sqs/queue:Queue"
QUEUE_POLICY = "aws:sqs/queuePolicy:QueuePolicy"
PERMISSION = "aws:lambda/permission:Permission"
BUCKET_NOTIFICATION = "aws:s3/bucketNotification:BucketNotification"
EVENT_TARGET = "aws:cloudwatch/eventTarget:EventTarget"
ROLE = "aws:iam/role:Role"

_RUNTIMES = json.loads((Path(__file__).resolve().parent.parent / "data" / "lambda_runtimes.json").read_text())
DEPRECATED_RUNTIMES: dict[str, dt.date] = {k: dt.date.fromisoformat(v) for k, v in _RUNTIMES["deprecated"].items()}


def _today(settings: Mapping[str, Any]) -> dt.date:
    given = settings.get("asOf")
    return dt.date.fromisoformat(given) if given else dt.datetime.now(dt.UTC).date()


@rule(
    "lambda-runtime-not-deprecated",
    description=(
        "Lambda functions do not use a runtime past its AWS deprecation date (no security patches; creating and "
        "then updating such functions is blocked). Dates: policies/guard/data/lambda_runtimes.json."
    ),
    remediation="Move the function to a supported runtime (python3.12 or later, nodejs22.x or later, java21, ...).",
    types={FUNCTION},
    config={
        "asOf": {
            "type": "string",
            "pattern": r"^(\d{4}-\d{2}-\d{2})?$",
            "default": "",
            "description": "Judge as of this date (YYYY-MM-DD); empty means today (UTC).",
        }
    },
)
def runtime_not_deprecated(function: Resource, settings: Mapping[str, Any]) -> Iterator[Outcome]:
    runtime = function.get("runtime")
    deprecated = DEPRECATED_RUNTIMES.get(runtime) if isinstance(runtime, str) else None
    if deprecated is not None and deprecated <= _today(settings):
        yield f"{function.name} runs {runtime}, deprecated by AWS since {deprecated.isoformat()}"


@rule(
    "xray-tracing-enabled",
    description="Lambda functions trace with X-Ray (tracingConfig Active) and REST API stages enable X-Ray.",
    remediation=(
        "Set tracing_config={'mode': 'Active'} on the function (and allow xray:PutTraceSegments, "
        "xray:PutTelemetryRecords) and xray_tracing_enabled=True on the stage."
    ),
    types={FUNCTION, STAGE},
    enforcement=ADVISORY,
)
def xray_tracing(subject: Resource, settings: Mapping[str, Any]) -> Iterator[Outcome]:
    if subject.type == FUNCTION:
        mode = subject.get("tracingConfig", "mode")
        if mode != "Active":
            yield f"{subject.name} does not trace with X-Ray (tracingConfig.mode {mode or 'PassThrough'})"
    elif subject.flag("xrayTracingEnabled") is not True:
        yield f"{subject.name} does not trace with X-Ray (xrayTracingEnabled is off)"


# Services that invoke Lambda asynchronously (their events are queued by Lambda, retried twice, then dropped).
ASYNC_SERVICES = frozenset(
    {
        "s3.amazonaws.com",
        "sns.amazonaws.com",
        "events.amazonaws.com",
        "scheduler.amazonaws.com",
        "ses.amazonaws.com",
        "logs.amazonaws.com",
        "iot.amazonaws.com",
        "config.amazonaws.com",
        "codecommit.amazonaws.com",
        "lambda.alarms.cloudwatch.amazonaws.com",
    }
)


def _async_invoked(function: Resource, graph: Graph) -> str | None:
    """How the function is invoked asynchronously in this stack, if it is."""
    for permission in graph.referencing(function, "function", {PERMISSION}):
        principal = permission.peek("principal")
        if principal in ASYNC_SERVICES:
            return f"{principal} may invoke it ({permission.name})"
    for subscription in graph.referencing(function, "endpoint", {TOPIC_SUBSCRIPTION}):
        if subscription.peek("protocol") == "lambda":
            return f"SNS subscription {subscription.name}"
    for target in graph.referencing(function, "arn", {EVENT_TARGET}):
        return f"EventBridge target {target.name}"
    arn = function.peek("arn")
    for notification in graph.of_type(BUCKET_NOTIFICATION):
        for entry in notification.peek("lambdaFunctions") or ():
            if isinstance(entry, Mapping) and entry.get("lambdaFunctionArn") == arn and isinstance(arn, str):
                return f"S3 notification {notification.name}"
    if graph.referencing(function, "functionName", {INVOKE_CONFIG}):
        return "it has an event invoke config"
    return None


@rule(
    "lambda-async-failure-destination",
    description=(
        "A function invoked asynchronously (S3, SNS, EventBridge, ... or with an event invoke config) keeps the events "
        "it fails on: a dead-letter queue or an on-failure destination."
    ),
    remediation=(
        "Add aws.lambda_.FunctionEventInvokeConfig(function_name=fn.name, destination_config={'on_failure': "
        "{'destination': dlq.arn}}) (or dead_letter_config on the function), and let the role send to it."
    ),
    types={FUNCTION},
    enforcement=ADVISORY,
    needs_graph=True,
)
def async_failure_destination(function: Resource, graph: Graph, settings: Mapping[str, Any]) -> Iterator[Outcome]:
    how = _async_invoked(function, graph)
    if how is None or function.peek("deadLetterConfig", "targetArn"):
        return
    for config in graph.referencing(function, "functionName", {INVOKE_CONFIG}):
        if config.property_dependencies.get("destinationConfig") or config.get(
            "destinationConfig", "onFailure", "destination"
        ):
            return
    yield f"{function.name} is invoked asynchronously ({how}) but has no dead-letter queue or on-failure destination"


@rule(
    "sns-topic-encrypted",
    description="SNS topics are encrypted at rest with KMS.",
    remediation="Set kms_master_key_id='alias/aws/sns' (or a customer-managed key the publishers may use).",
    types={TOPIC},
    enforcement=ADVISORY,
)
def topic_encrypted(topic: Resource, settings: Mapping[str, Any]) -> Iterator[Outcome]:
    if not topic.get("kmsMasterKeyId"):
        yield f"{topic.name} is not encrypted (no kmsMasterKeyId)"


@rule(
    "cloudwatch-log-group-retention",
    description="Every log group has a retention period (and a KMS key where requireKms is set).",
    remediation="Set retention_in_days (e.g. 30, or what your audit rules require) and kms_key_id where required.",
    types={LOG_GROUP},
    enforcement=ADVISORY,
    config={"requireKms": {"type": "boolean", "default": False, "description": "Log groups must name a KMS key."}},
)
def log_group_retention_kms(group: Resource, settings: Mapping[str, Any]) -> Iterator[Outcome]:
    if not group.number("retentionInDays"):
        yield f"{group.name} keeps logs forever: no retentionInDays"
    if settings["requireKms"] and not group.get("kmsKeyId"):
        yield f"{group.name} is not encrypted with a KMS key (kmsKeyId)"


@rule(
    "apigateway-cache-encrypted",
    description="API Gateway stage caches that are on are encrypted (cacheDataEncrypted).",
    remediation="Set settings.cache_data_encrypted=True wherever settings.caching_enabled=True in MethodSettings.",
    types={METHOD_SETTINGS},
    enforcement=ADVISORY,
)
def cache_encrypted(method_settings: Resource, settings: Mapping[str, Any]) -> Iterator[Outcome]:
    if method_settings.flag("settings", "cachingEnabled") is True and (
        method_settings.flag("settings", "cacheDataEncrypted") is not True
    ):
        yield f"{method_settings.name} caches responses unencrypted (cacheDataEncrypted is off)"


@rule(
    "apigateway-data-trace-off",
    description=(
        "API stages do not log full requests and responses (dataTraceEnabled): they hold tokens and personal data."
    ),
    remediation="Set data_trace_enabled=False (keep logging_level 'ERROR' or 'INFO' and access logs for diagnosis).",
    types={METHOD_SETTINGS, HTTP_STAGE},
)
def data_trace_off(subject: Resource, settings: Mapping[str, Any]) -> Iterator[Outcome]:
    if subject.type == METHOD_SETTINGS:
        if subject.flag("settings", "dataTraceEnabled") is True:
            yield f"{subject.name} logs full requests and responses (dataTraceEnabled)"
        return
    if subject.flag("defaultRouteSettings", "dataTraceEnabled") is True:
        yield f"{subject.name} logs full requests and responses (defaultRouteSettings.dataTraceEnabled)"
    for index, route in enumerate(subject.get("routeSettings") or ()):
        if isinstance(route, Mapping) and route.get("dataTraceEnabled") in (True, "true"):
            yield f"{subject.name} route {route.get('routeKey', index)} logs full requests and responses"


_OIDC_PROVIDER = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:oidc-provider/(?P<host>.+)$")
# A subject that names no one: "*", or only a kind prefix ("repo:*", "system:serviceaccount:*").
_WIDE_SUBJECT = re.compile(r"^[^/*]*?(?::)?\*")


def _condition_values(condition: Any, key: str) -> list[str] | None:
    """The values a positive operator requires of `key`; None when no positive operator names it."""
    found: list[str] | None = None
    for operator, clauses in (condition or {}).items():
        op = operator.lower()
        if "not" in op or op.endswith("ifexists") or op.startswith("forallvalues:") or op == "null":
            continue
        for name, values in (clauses or {}).items():
            if name.lower() == key.lower():
                found = (found or []) + [str(v) for v in (values if isinstance(values, list) else [values])]
    return found


@rule(
    "iam-oidc-trust-conditions",
    description=(
        "Roles trusted by an OIDC provider (sts:AssumeRoleWithWebIdentity: GitHub Actions, EKS, Cognito identity "
        "pools) pin the audience and the subject: `<provider>:aud` and `<provider>:sub` conditions naming them."
    ),
    remediation=(
        "Add Condition StringEquals {'<host>:aud': 'sts.amazonaws.com'} and StringEquals/StringLike "
        "{'<host>:sub': 'repo:<org>/<repo>:ref:refs/heads/main'} (Cognito identity pools: ...:aud = the pool id, "
        "ForAnyValue:StringLike ...:amr = 'authenticated')."
    ),
    types={ROLE},
)
def oidc_trust_conditions(role: Resource, settings: Mapping[str, Any]) -> Iterator[Outcome]:
    def judge(st: Statement) -> Iterator[Outcome]:
        actions = {a.lower() for a in st.action or () if isinstance(a, str)}
        if not actions & {"sts:assumerolewithwebidentity", "sts:*", "*"}:
            return
        for kind, ident in principals(st.principal):
            if kind != "Federated" or "saml-provider/" in ident:
                continue
            match = _OIDC_PROVIDER.match(ident)
            host = match["host"] if match else ident
            if st.condition is UNKNOWN:
                yield Unverifiable(f"{st.where}.Condition")
                continue
            audience = _condition_values(st.condition, f"{host}:aud")
            if not audience or any("*" in v for v in audience):
                yield f"{st.where} lets any audience of {host} assume the role: no {host}:aud condition"
            if host == "cognito-identity.amazonaws.com":
                continue  # identity pools pin the pool by aud; the subject is each identity
            subjects = _condition_values(st.condition, f"{host}:sub")
            if not subjects:
                yield f"{st.where} lets every subject of {host} assume the role: no {host}:sub condition"
            elif wide := [v for v in subjects if _WIDE_SUBJECT.match(v)]:
                yield f"{st.where} {host}:sub {wide[0]!r} matches every repository or workload of the provider"

    return _each_allow([(f"{role.name}.assumeRolePolicy", role.get("assumeRolePolicy"))], judge)


_ACCOUNT = re.compile(r"^arn:aws[a-z-]*:(?:iam|sts|sqs|sns)::?(?:[a-z0-9-]*:)?(?P<account>\d{12})(?::|$)")
_QUEUE_URL = re.compile(r"^https://sqs\.[a-z0-9-]+\.amazonaws\.com[a-z.]*/(?P<account>\d{12})/")


def _account(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    if value.isdigit() and len(value) == 12:
        return value
    match = _ACCOUNT.match(value) or _QUEUE_URL.match(value)
    return match["account"] if match else None


def _owner(subject: Resource, graph: Graph) -> str | None:
    """The account that owns the queue or topic the policy is on."""
    candidates = [subject.peek("arn"), subject.peek("queueUrl"), subject.peek("id")]
    for prop, types in (("queueUrl", {QUEUE}), ("arn", {TOPIC})):
        candidates += [r.peek("arn") for r in graph.referenced(subject, prop, types)]
    return next((a for c in candidates if (a := _account(c))), None)


@rule(
    "resource-policy-no-cross-account",
    description=(
        "SQS queue and SNS topic policies grant no principal of another AWS account (or only trustedAccounts): a "
        "foreign account could read, send or publish."
    ),
    remediation=(
        "Grant the service principal with an aws:SourceArn condition, or principals of this account; list a partner "
        "account that must have access in trustedAccounts."
    ),
    types={QUEUE, QUEUE_POLICY, TOPIC, TOPIC_POLICY},
    needs_graph=True,
    config={"trustedAccounts": string_list([], "Other accounts that may be granted access.", pattern=r"^\d{12}$")},
)
def no_cross_account(subject: Resource, graph: Graph, settings: Mapping[str, Any]) -> Iterator[Outcome]:
    documents = list(raw_documents(subject))
    if not documents:
        return
    trusted = set(settings["trustedAccounts"])

    def judge(st: Statement) -> Iterator[Outcome]:
        owner = next((a for r in st.resource or () if (a := _account(r))), None) or _owner(subject, graph)
        accounts = {_account(ident) for kind, ident in principals(st.principal) if kind == "AWS"}
        if _restricts_caller(st.condition, ["aws:SourceAccount", "aws:SourceOwner", "aws:PrincipalAccount"]):
            for key in ("aws:SourceAccount", "aws:SourceOwner", "aws:PrincipalAccount"):
                accounts |= {_account(v) for v in _condition_values(st.condition, key) or ()}
        foreign = sorted(a for a in accounts if a and a != owner and a not in trusted)
        if foreign and owner is None:
            yield Unverifiable(f"{st.where}: the owning account")
        elif foreign:
            yield f"{st.where} grants account {', '.join(foreign)} (owner {owner}), not in trustedAccounts"

    yield from _each_allow(documents, judge)

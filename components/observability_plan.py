"""Pure planning for the stack's alarms, dashboard and saved Logs Insights queries.

Targets (functions, API stages, queues, stream consumers, state machines) carry their physical names as opaque
values: plain strings in tests, `pulumi.Output`s in the component, which only turns each plan into resources.
Everything is derived from the target list, so a new function gets its alarms and its dashboard row without an
edit here or in the dashboard.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

LAMBDA = "AWS/Lambda"
API_GATEWAY = "AWS/ApiGateway"
SQS = "AWS/SQS"
STATES = "AWS/States"
BUSINESS_NAMESPACE = "SecureServerless/Business"  # handlers/common/metrics.py writes here (EMF)
BUSINESS_METRICS = (
    "OrdersAccepted", "OrdersConfirmed", "OrdersFailed",
    "UploadsProcessed", "UploadsRejected",
    "EmailsSent", "EmailsRejected",
)
_KEY = re.compile(r"^[a-z][a-z0-9-]{0,62}$")
API_GATEWAY_MAX_TIMEOUT_MS = 29_000
CLOUDWATCH_MAX_EVALUATION_SECONDS = 86_400  # EvaluationPeriods x Period may span at most one day
GRID_WIDTH = 24  # CloudWatch dashboards are 24 units wide

# Why each metric treats missing data as it does. AWS publishes these metrics only when something happens (an
# invocation, a request, a delivery), so "missing" nearly always means "idle", and an idle system is healthy:
TREAT_MISSING_DATA: Mapping[str, str] = {
    # Counts of bad events: no datapoint means no invocation, hence no error, throttle or dropped event.
    "Errors": "notBreaching",
    "Throttles": "notBreaching",
    "AsyncEventsDropped": "notBreaching",
    "DestinationDeliveryFailures": "notBreaching",
    "5XXError": "notBreaching",
    "4XXError": "notBreaching",
    "ExecutionsFailed": "notBreaching",
    "ExecutionsTimedOut": "notBreaching",
    # Percentiles of sparse traffic: one slow request followed by idle minutes must not flap back to OK, and
    # idle minutes must not raise it either, so the alarm keeps its state until real datapoints decide.
    "Duration": "ignore",
    "Latency": "ignore",
    "IntegrationLatency": "ignore",
    # Emitted per consumer invocation: an empty stream invokes nothing, which is not "falling behind". A consumer
    # that is stuck still gets invoked (and retried) on its backlog, so its IteratorAge keeps arriving.
    "IteratorAge": "notBreaching",
}


def _check_key(kind: str, key: str) -> None:
    if not _KEY.match(key):
        raise ValueError(f"{kind} key {key!r} must be lower-case letters, digits and '-', starting with a letter")


@dataclass(frozen=True)
class FunctionTarget:
    """One Lambda function. `asynchronous`: invoked by S3/SNS/EventBridge (events queue inside Lambda);
    `on_failure_destination`: has an async on-failure destination; `stream_consumer`: polls Kinesis."""

    key: str
    function_name: Any
    timeout_seconds: int
    asynchronous: bool = False
    on_failure_destination: bool = False
    stream_consumer: bool = False
    log_group_name: Any = None

    def __post_init__(self) -> None:
        _check_key("function", self.key)
        if not 1 <= self.timeout_seconds <= 900:
            raise ValueError(f"function {self.key}: timeout must be 1..900 s, got {self.timeout_seconds}")
        if self.on_failure_destination and not self.asynchronous:
            raise ValueError(f"function {self.key}: an on-failure destination only applies to asynchronous invokes")


@dataclass(frozen=True)
class ApiTarget:
    key: str
    api_name: Any
    stage_name: Any
    access_log_group_name: Any = None

    def __post_init__(self) -> None:
        _check_key("api", self.key)


@dataclass(frozen=True)
class QueueTarget:
    """`dead_letter`: where failures land (a DLQ or an on-failure queue); its own backlog alarm lives with it."""

    key: str
    queue_name: Any
    dead_letter: bool = False

    def __post_init__(self) -> None:
        _check_key("queue", self.key)


@dataclass(frozen=True)
class StateMachineTarget:
    key: str
    state_machine_arn: Any

    def __post_init__(self) -> None:
        _check_key("state machine", self.key)


@dataclass(frozen=True)
class Targets:
    functions: Sequence[FunctionTarget] = ()
    apis: Sequence[ApiTarget] = ()
    queues: Sequence[QueueTarget] = ()
    state_machines: Sequence[StateMachineTarget] = ()

    def __post_init__(self) -> None:
        keys = [t.key for group in (self.functions, self.apis, self.queues, self.state_machines) for t in group]
        duplicates = sorted({k for k in keys if keys.count(k) > 1})
        if duplicates:
            raise ValueError(f"observed targets need unique keys, repeated: {duplicates}")


@dataclass(frozen=True)
class AlarmThresholds:
    """Thresholds and evaluation windows, checked against what CloudWatch and API Gateway accept."""

    period_seconds: int = 60
    # Errors / throttles / dropped events: alarm when `datapoints_to_alarm` of the last `evaluation_periods`
    # periods saw at least one (with the defaults: any error in the last five minutes).
    evaluation_periods: int = 5
    datapoints_to_alarm: int = 1
    # Percentile alarms (Duration, Latency) need a sustained breach: 3 of 5 periods by default.
    latency_evaluation_periods: int = 5
    latency_datapoints_to_alarm: int = 3
    duration_timeout_ratio: float = 0.8
    api_5xx_rate: float = 0.01
    api_4xx_rate: float = 0.10
    # The 4XX alarm is the less urgent one: it looks at a longer window before it speaks.
    api_4xx_evaluation_periods: int = 15
    api_4xx_datapoints_to_alarm: int = 10
    api_latency_p99_ms: int = 3_000
    api_integration_latency_p99_ms: int = 2_500
    iterator_age_ms: int = 60_000

    def __post_init__(self) -> None:
        problems = []
        if self.period_seconds not in (10, 30) and (self.period_seconds < 60 or self.period_seconds % 60):
            problems.append(f"period_seconds must be 10, 30 or a multiple of 60, got {self.period_seconds}")
        for periods, datapoints, label in (
            (self.evaluation_periods, self.datapoints_to_alarm, ""),
            (self.latency_evaluation_periods, self.latency_datapoints_to_alarm, "latency_"),
            (self.api_4xx_evaluation_periods, self.api_4xx_datapoints_to_alarm, "api_4xx_"),
        ):
            if periods < 1 or periods * self.period_seconds > CLOUDWATCH_MAX_EVALUATION_SECONDS:
                problems.append(f"{label}evaluation_periods x period_seconds must be 1 period .. 1 day, got "
                                f"{periods} x {self.period_seconds}")
            if not 1 <= datapoints <= max(periods, 1):
                problems.append(f"{label}datapoints_to_alarm must be 1..{label}evaluation_periods, got {datapoints}")
        if not 0 < self.duration_timeout_ratio < 1:
            problems.append(f"duration_timeout_ratio must be between 0 and 1, got {self.duration_timeout_ratio}")
        for rate, label in ((self.api_5xx_rate, "api_5xx_rate"), (self.api_4xx_rate, "api_4xx_rate")):
            if not 0 < rate < 1:
                problems.append(f"{label} is a fraction of requests, between 0 and 1, got {rate}")
        for ms, label in ((self.api_latency_p99_ms, "api_latency_p99_ms"),
                          (self.api_integration_latency_p99_ms, "api_integration_latency_p99_ms")):
            if not 1 <= ms <= API_GATEWAY_MAX_TIMEOUT_MS:
                problems.append(f"{label} must be 1..{API_GATEWAY_MAX_TIMEOUT_MS} (API Gateway's timeout), got {ms}")
        if self.iterator_age_ms < 1_000:
            problems.append(f"iterator_age_ms must be at least 1000 ms, got {self.iterator_age_ms}")
        if problems:
            raise ValueError("invalid alarm thresholds: " + "; ".join(problems))


@dataclass(frozen=True)
class AlarmPlan:
    """One CloudWatch metric alarm; `name` is unique and becomes the resource's name suffix."""

    name: str
    target: str
    namespace: str
    metric_name: str
    dimensions: Mapping[str, Any]
    threshold: float
    period_seconds: int
    evaluation_periods: int
    datapoints_to_alarm: int
    description: str
    statistic: str | None = None
    extended_statistic: str | None = None
    comparison: str = "GreaterThanThreshold"
    severity: str = "critical"
    treat_missing_data: str = field(init=False)

    def __post_init__(self) -> None:
        if (self.statistic is None) == (self.extended_statistic is None):
            raise ValueError(f"alarm {self.name}: exactly one of statistic and extended_statistic")
        object.__setattr__(self, "treat_missing_data", TREAT_MISSING_DATA[self.metric_name])


def plan_alarms(targets: Targets, thresholds: AlarmThresholds = AlarmThresholds()) -> list[AlarmPlan]:
    """Every alarm of the stack, from its targets. Existing DLQ backlog alarms live with their queues."""
    t = thresholds
    counts = {"period_seconds": t.period_seconds, "evaluation_periods": t.evaluation_periods,
              "datapoints_to_alarm": t.datapoints_to_alarm}
    sustained = {"period_seconds": t.period_seconds, "evaluation_periods": t.latency_evaluation_periods,
                 "datapoints_to_alarm": t.latency_datapoints_to_alarm}
    window = f"{t.evaluation_periods * t.period_seconds // 60 or 1} min"
    alarms: list[AlarmPlan] = []
    for fn in targets.functions:
        dims = {"FunctionName": fn.function_name}
        alarms += [
            AlarmPlan(f"{fn.key}-errors", fn.key, LAMBDA, "Errors", dims, 0, statistic="Sum", **counts,
                      description=f"{fn.key} raised errors (or timed out) within {window}."),
            AlarmPlan(f"{fn.key}-throttles", fn.key, LAMBDA, "Throttles", dims, 0, statistic="Sum", **counts,
                      description=f"{fn.key} was throttled within {window}: concurrency is exhausted."),
            AlarmPlan(f"{fn.key}-duration", fn.key, LAMBDA, "Duration", dims,
                      round(fn.timeout_seconds * 1000 * t.duration_timeout_ratio), extended_statistic="p99",
                      **sustained, severity="warning",
                      description=f"{fn.key}'s p99 duration is above {round(t.duration_timeout_ratio * 100)}% of "
                                  f"its {fn.timeout_seconds} s timeout: it is about to time out."),
        ]
        if fn.asynchronous:
            alarms.append(AlarmPlan(
                f"{fn.key}-async-dropped", fn.key, LAMBDA, "AsyncEventsDropped", dims, 0, statistic="Sum", **counts,
                description=f"Lambda dropped asynchronous events for {fn.key} (retries or event age exhausted "
                            "without a destination taking them)."))
        if fn.on_failure_destination:
            alarms.append(AlarmPlan(
                f"{fn.key}-destination-failures", fn.key, LAMBDA, "DestinationDeliveryFailures", dims, 0,
                statistic="Sum", **counts,
                description=f"Lambda could not deliver {fn.key}'s failed events to the on-failure destination: "
                            "they are lost unless replayed from the source."))
        if fn.stream_consumer:
            alarms.append(AlarmPlan(
                f"{fn.key}-iterator-age", fn.key, LAMBDA, "IteratorAge", dims, t.iterator_age_ms,
                statistic="Maximum", **sustained,
                description=f"{fn.key} is more than {t.iterator_age_ms // 1000} s behind the stream: records "
                            "expire at the stream's retention."))
    for api in targets.apis:
        dims = {"ApiName": api.api_name, "Stage": api.stage_name}
        alarms += [
            # Average of the 0/1 per-request 5XXError metric is the 5XX rate (API Gateway's documented reading).
            AlarmPlan(f"{api.key}-5xx-rate", api.key, API_GATEWAY, "5XXError", dims, t.api_5xx_rate,
                      statistic="Average", **counts,
                      description=f"More than {t.api_5xx_rate:.1%} of {api.key}'s requests failed with 5XX."),
            AlarmPlan(f"{api.key}-4xx-rate", api.key, API_GATEWAY, "4XXError", dims, t.api_4xx_rate,
                      statistic="Average", period_seconds=t.period_seconds,
                      evaluation_periods=t.api_4xx_evaluation_periods,
                      datapoints_to_alarm=t.api_4xx_datapoints_to_alarm, severity="warning",
                      description=f"More than {t.api_4xx_rate:.0%} of {api.key}'s requests are refused with 4XX "
                                  "(a broken client, expired tokens, or probing): less urgent than 5XX."),
            AlarmPlan(f"{api.key}-latency-p99", api.key, API_GATEWAY, "Latency", dims, t.api_latency_p99_ms,
                      extended_statistic="p99", **sustained, severity="warning",
                      description=f"{api.key}'s p99 latency is above {t.api_latency_p99_ms} ms."),
            AlarmPlan(f"{api.key}-integration-latency-p99", api.key, API_GATEWAY, "IntegrationLatency", dims,
                      t.api_integration_latency_p99_ms, extended_statistic="p99", **sustained, severity="warning",
                      description=f"{api.key}'s backends answer slower than {t.api_integration_latency_p99_ms} ms "
                                  "at p99."),
        ]
    for machine in targets.state_machines:
        dims = {"StateMachineArn": machine.state_machine_arn}
        alarms += [
            AlarmPlan(f"{machine.key}-executions-failed", machine.key, STATES, "ExecutionsFailed", dims, 0,
                      statistic="Sum", **counts, description=f"{machine.key} executions failed within {window}."),
            AlarmPlan(f"{machine.key}-executions-timed-out", machine.key, STATES, "ExecutionsTimedOut", dims, 0,
                      statistic="Sum", **counts, description=f"{machine.key} executions timed out within {window}."),
        ]
    return alarms


# ------------------------------------------------------------------------------------------- dashboard


def _metric(namespace: str, name: str, dims: Mapping[str, Any], **options: Any) -> list[Any]:
    row: list[Any] = [namespace, name]
    for key, value in dims.items():
        row += [key, value]
    return [*row, options] if options else row


def _widget(title: str, metrics: list[list[Any]], region: Any, *, stat: str = "Sum", period: int = 60,
            annotations: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    properties: dict[str, Any] = {"title": title, "view": "timeSeries", "region": region, "stat": stat,
                                  "period": period, "metrics": metrics}
    if annotations:
        properties["annotations"] = {"horizontal": annotations}
    return {"type": "metric", "properties": properties}


def _layout(rows: list[list[dict[str, Any]]], height: int = 6) -> list[dict[str, Any]]:
    """Place each row's widgets side by side across the 24-unit grid, rows stacked top to bottom."""
    placed, y = [], 0
    for row in rows:
        width = GRID_WIDTH // len(row)
        row_height = 1 if row[0]["type"] == "text" else height
        for i, widget in enumerate(row):
            placed.append({**widget, "x": i * width, "y": y, "width": width, "height": row_height})
        y += row_height
    return placed


def _text(markdown: str) -> list[dict[str, Any]]:
    return [{"type": "text", "properties": {"markdown": markdown}}]


def plan_dashboard(targets: Targets, *, region: Any, stage: Any, thresholds: AlarmThresholds = AlarmThresholds(),
                   alarm_arns: Sequence[Any] = ()) -> dict[str, Any]:
    """The dashboard body (CloudWatch's JSON): API row, one row per function, queues, streams, state machines,
    business metrics. Every widget is derived from `targets`, so a new target needs no edit here."""
    period = thresholds.period_seconds
    rows: list[list[dict[str, Any]]] = []
    if alarm_arns:
        # An alarm status widget shows at most 100 alarms: the rest still notify, and appear in their rows' graphs.
        rows.append([{"type": "alarm", "properties": {"title": "Alarms", "alarms": list(alarm_arns)[:100]}}])
    for api in targets.apis:
        dims = {"ApiName": api.api_name, "Stage": api.stage_name}
        rows.append(_text(f"## API {api.key}"))
        rows.append([
            _widget(f"{api.key} requests", [_metric(API_GATEWAY, "Count", dims)], region, period=period),
            _widget(f"{api.key} 4XX / 5XX rate", [_metric(API_GATEWAY, "4XXError", dims),
                                                  _metric(API_GATEWAY, "5XXError", dims)],
                    region, stat="Average", period=period),
            _widget(f"{api.key} p99 latency (ms)", [_metric(API_GATEWAY, "Latency", dims),
                                                    _metric(API_GATEWAY, "IntegrationLatency", dims)],
                    region, stat="p99", period=period,
                    annotations=[{"label": "latency alarm", "value": thresholds.api_latency_p99_ms}]),
        ])
    if targets.functions:
        rows.append(_text("## Functions"))
    for fn in targets.functions:
        dims = {"FunctionName": fn.function_name}
        limit = round(fn.timeout_seconds * 1000 * thresholds.duration_timeout_ratio)
        row = [
            _widget(f"{fn.key} invocations", [_metric(LAMBDA, "Invocations", dims)], region, period=period),
            _widget(f"{fn.key} errors / throttles", [_metric(LAMBDA, "Errors", dims),
                                                     _metric(LAMBDA, "Throttles", dims)], region, period=period),
            _widget(f"{fn.key} duration (ms)", [_metric(LAMBDA, "Duration", dims, stat="p50"),
                                                _metric(LAMBDA, "Duration", dims, stat="p99")],
                    region, stat="p99", period=period,
                    annotations=[{"label": "duration alarm", "value": limit},
                                 {"label": "timeout", "value": fn.timeout_seconds * 1000}]),
        ]
        if fn.stream_consumer:
            row.append(_widget(f"{fn.key} iterator age (ms)", [_metric(LAMBDA, "IteratorAge", dims)], region,
                               stat="Maximum", period=period,
                               annotations=[{"label": "iterator age alarm", "value": thresholds.iterator_age_ms}]))
        elif fn.asynchronous:
            row.append(_widget(f"{fn.key} async events dropped / destination failures",
                               [_metric(LAMBDA, "AsyncEventsDropped", dims),
                                _metric(LAMBDA, "DestinationDeliveryFailures", dims)], region, period=period))
        rows.append(row)
    if targets.queues:
        rows.append(_text("## Queues (dead-letter and failure queues should stay at 0)"))
        for chunk in _chunks(list(targets.queues), 4):
            rows.append([
                _widget(f"{q.key}{' (dead letters)' if q.dead_letter else ''} depth / oldest (s)",
                        [_metric(SQS, "ApproximateNumberOfMessagesVisible", {"QueueName": q.queue_name}),
                         _metric(SQS, "ApproximateAgeOfOldestMessage", {"QueueName": q.queue_name}, yAxis="right")],
                        region, stat="Maximum", period=max(period, 60))
                for q in chunk
            ])
    if targets.state_machines:
        rows.append(_text("## State machines"))
        rows.append([
            _widget(f"{m.key} executions", [
                _metric(STATES, name, {"StateMachineArn": m.state_machine_arn})
                for name in ("ExecutionsStarted", "ExecutionsSucceeded", "ExecutionsFailed", "ExecutionsTimedOut")
            ], region, period=period)
            for m in targets.state_machines
        ])
    rows.append(_text("## Business"))
    rows.append([_widget(name, [_metric(BUSINESS_NAMESPACE, name, {"Stage": stage})], region, period=max(period, 60))
                 for name in BUSINESS_METRICS[:4]])
    rows.append([_widget(name, [_metric(BUSINESS_NAMESPACE, name, {"Stage": stage})], region, period=max(period, 60))
                 for name in BUSINESS_METRICS[4:]])
    return {"widgets": _layout(rows)}


def _chunks(items: list[Any], size: int) -> list[list[Any]]:
    return [items[i:i + size] for i in range(0, len(items), size)]


# --------------------------------------------------------------------------------------- saved queries


@dataclass(frozen=True)
class QueryPlan:
    name: str
    log_groups: Sequence[Any]
    query: str


def plan_queries(targets: Targets, prefix: str) -> list[QueryPlan]:
    """Logs Insights queries the runbooks name, saved under `prefix/` (the console's folder separator).

    They read Lambda's JSON log format (level/message/requestId, platform.report records) and the API's JSON
    access log.
    """
    function_groups = [f.log_group_name for f in targets.functions if f.log_group_name is not None]
    queries: list[QueryPlan] = []
    if function_groups:
        queries += [
            QueryPlan(f"{prefix}/errors", function_groups,
                      "fields @timestamp, @log, level, message, requestId, messageId, errorType, error\n"
                      "| filter level = \"ERROR\" or record.status = \"timeout\" or record.status = \"error\"\n"
                      "| sort @timestamp desc\n| limit 200"),
            QueryPlan(f"{prefix}/slowest-invocations", function_groups,
                      "filter type = \"platform.report\"\n"
                      "| stats count(*) as invocations, pct(record.metrics.durationMs, 99) as p99Ms,"
                      " max(record.metrics.durationMs) as maxMs, max(record.metrics.maxMemoryUsedMB) as maxMemoryMB"
                      " by @log\n| sort p99Ms desc"),
            QueryPlan(f"{prefix}/request-trace", function_groups,
                      "fields @timestamp, @log, level, message, requestId, messageId\n"
                      "| filter ispresent(requestId) or ispresent(messageId)\n"
                      "| sort @timestamp asc\n| limit 500"),
            QueryPlan(f"{prefix}/failed-records", function_groups,
                      "fields @timestamp, @log, message, messageId, orderId, key, sequenceNumber, reason, error\n"
                      "| filter level = \"ERROR\" and (ispresent(messageId) or ispresent(key) or ispresent(orderId))\n"
                      "| sort @timestamp desc\n| limit 200"),
        ]
    api_groups = [a.access_log_group_name for a in targets.apis if a.access_log_group_name is not None]
    if api_groups:
        queries.append(QueryPlan(f"{prefix}/api-errors", api_groups,
                                 "fields @timestamp, httpMethod, resourcePath, status, errorMessage, authorizerError,"
                                 " integrationLatency, requestId\n| filter status like /^[45]/\n"
                                 "| stats count(*) as requests by status, httpMethod, resourcePath\n"
                                 "| sort requests desc"))
    return queries

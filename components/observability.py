"""Observability: the stack's alarms, its dashboard and the Logs Insights queries its runbooks use.

    other components ──observe()──> Targets (functions + timeouts, API stage, queues, consumers, state machines)
                                      │  components/observability_plan.py (pure)
                                      ▼
            MetricAlarm per failure mode ──alarm + OK actions──> the configured SNS topic
                                                                  or an encrypted topic of its own (+ email)
            Dashboard (one per stack) · QueryDefinition per runbook query

Everything is planned from the target list: a function added anywhere under an observed component gets its
alarms and its dashboard row on the next `pulumi up` without an edit here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from .alarm_topic import AlarmTopic, AlarmTopicArgs
from .function import PythonFunction
from .observability_plan import (
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
from .tokens import component_type

_DASHBOARD_NAME = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
ALARM_NAME_MAX = 255
@dataclass(frozen=True)
class ObservabilityArgs:
    project: str
    stage: str
    targets: Targets
    thresholds: AlarmThresholds = field(default_factory=AlarmThresholds)
    # The topic every alarm notifies (an AlarmTopic's arn, or an existing one); None: an AlarmTopic child.
    alarm_topic_arn: pulumi.Input[str] | None = None
    # Subscribed to that child topic only (AWS mails a confirmation link first).
    alarm_email: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    account_id: pulumi.Input[str] | None = None  # for the AlarmTopic child; None: looked up

    def __post_init__(self) -> None:
        if not _DASHBOARD_NAME.match(self.dashboard_name):
            raise ValueError(f"dashboard name {self.dashboard_name!r} must be 1..255 of A-Z a-z 0-9 - _")
        self.topic_args()  # the email and topic name are checked before any resource exists
        too_long = [p.name for p in plan_alarms(self.targets, self.thresholds)
                    if len(self.alarm_name(p.name)) > ALARM_NAME_MAX]
        if too_long:
            raise ValueError(f"alarm names longer than {ALARM_NAME_MAX} characters: {too_long}")

    def topic_args(self) -> AlarmTopicArgs:
        return AlarmTopicArgs(project=self.project, stage=self.stage, existing_topic_arn=self.alarm_topic_arn,
                              email=self.alarm_email, tags=self.tags, account_id=self.account_id)

    @property
    def dashboard_name(self) -> str:
        return f"{self.project}-{self.stage}"

    def alarm_name(self, plan_name: str) -> str:
        return f"{self.project}-{self.stage}-{plan_name}"


class Observability(pulumi.ComponentResource):
    topic_arn: pulumi.Output[str]
    alarms: dict[str, aws.cloudwatch.MetricAlarm]
    dashboard: aws.cloudwatch.Dashboard
    queries: dict[str, aws.cloudwatch.QueryDefinition]
    dashboard_name: pulumi.Output[str]

    def __init__(self, name: str, args: ObservabilityArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(component_type("Observability"), name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        invoke = pulumi.InvokeOutputOptions(parent=self)
        tags = dict(args.tags)
        region = aws.get_region_output(opts=invoke).region

        self.topic: AlarmTopic | None = None
        if args.alarm_topic_arn is not None:
            self.topic_arn = pulumi.Output.from_input(args.alarm_topic_arn)
        else:
            self.topic = AlarmTopic(f"{name}-alarms", args.topic_args(), opts=child)
            self.topic_arn = self.topic.arn

        actions = [self.topic_arn]
        self.alarms = {}
        for plan in plan_alarms(args.targets, args.thresholds):
            self.alarms[plan.name] = aws.cloudwatch.MetricAlarm(
                f"{name}-{plan.name}",
                name=args.alarm_name(plan.name),
                alarm_description=f"[{plan.severity}] {plan.description} Runbook: README 'When an alarm fires'.",
                namespace=plan.namespace,
                metric_name=plan.metric_name,
                dimensions=dict(plan.dimensions),
                statistic=plan.statistic,
                extended_statistic=plan.extended_statistic,
                threshold=plan.threshold,
                comparison_operator=plan.comparison,
                period=plan.period_seconds,
                evaluation_periods=plan.evaluation_periods,
                datapoints_to_alarm=plan.datapoints_to_alarm,
                treat_missing_data=plan.treat_missing_data,
                # OK actions too: on-call learns that an incident ended without opening the console.
                alarm_actions=actions,
                ok_actions=actions,
                tags=tags,
                opts=child,
            )

        body = plan_dashboard(args.targets, region=region, stage=args.stage, thresholds=args.thresholds,
                              alarm_arns=[alarm.arn for alarm in self.alarms.values()])
        self.dashboard = aws.cloudwatch.Dashboard(
            f"{name}-dashboard",
            dashboard_name=args.dashboard_name,
            dashboard_body=pulumi.Output.json_dumps(body),
            opts=child,
        )
        self.queries = {
            query.name: aws.cloudwatch.QueryDefinition(
                f"{name}-query-{query.name.rsplit('/', 1)[-1]}",
                name=query.name,
                log_group_names=list(query.log_groups),
                query_string=query.query,
                opts=child,
            )
            for query in plan_queries(args.targets, f"{args.project}-{args.stage}")
        }

        self.dashboard_name = self.dashboard.dashboard_name
        self.register_outputs({
            "topic_arn": self.topic_arn,
            "dashboard_name": self.dashboard_name,
            "alarm_names": [alarm.name for alarm in self.alarms.values()],
        })

# ----------------------------------------------------------------------------------------- discovery


def _resource_name(resource: pulumi.Resource) -> str:
    # The logical name the resource was registered under: PythonFunction keeps it public, the SDK as `_name`.
    return getattr(resource, "resource_name", None) or resource._name  # noqa: SLF001


def _members(component: Any) -> Iterable[tuple[str, Any]]:
    for attribute, value in sorted(vars(component).items()):
        if attribute.startswith("_"):
            continue
        if isinstance(value, (list, tuple)):
            yield from ((attribute, v) for v in value)
        elif isinstance(value, dict):
            yield from ((attribute, v) for _, v in sorted(value.items(), key=lambda kv: str(kv[0])))
        else:
            yield attribute, value


def observe(
    components: Sequence[pulumi.Resource],
    *,
    apis: Sequence[Any] = (),
    asynchronous: Iterable[str] = (),
    on_failure_destination: Iterable[str] = (),
    stream_consumers: Iterable[str] = (),
) -> Targets:
    """Targets from the program's components: every PythonFunction, SQS queue and Step Functions state machine
    reachable through their public attributes (nested components included), and each deployed SecureApi stage.

    How a function is invoked is not visible on the function: name the asynchronously invoked ones (and those
    with an on-failure destination, and the stream consumers) by key, or set the attribute of the same name
    (`asynchronous`, `on_failure_destination`, `stream_consumer`) on the PythonFunction.
    """
    functions: dict[int, FunctionTarget] = {}
    queues: dict[int, QueueTarget] = {}
    machines: dict[int, StateMachineTarget] = {}
    async_keys, destination_keys, consumer_keys = set(asynchronous), set(on_failure_destination), set(stream_consumers)
    seen: set[int] = set()

    def visit(attribute: str, value: Any) -> None:
        if id(value) in seen:
            return
        seen.add(id(value))
        if isinstance(value, PythonFunction):
            key = _resource_name(value)
            functions[id(value)] = FunctionTarget(
                key=key,
                function_name=value.function_name,
                timeout_seconds=value.timeout_seconds,
                asynchronous=key in async_keys or key in destination_keys or bool(getattr(value, "asynchronous", False)),
                on_failure_destination=key in destination_keys or bool(getattr(value, "on_failure_destination", False)),
                stream_consumer=key in consumer_keys or bool(getattr(value, "stream_consumer", False)),
                log_group_name=value.log_group.name,
            )
        elif isinstance(value, aws.sqs.Queue):
            key = _resource_name(value)
            dead = "dlq" in attribute or "failure" in attribute or key.endswith(("-dlq", "-failures"))
            queues[id(value)] = QueueTarget(key=key, queue_name=value.name, dead_letter=dead)
        elif isinstance(value, aws.sfn.StateMachine):
            machines[id(value)] = StateMachineTarget(key=_resource_name(value), state_machine_arn=value.arn)
        elif isinstance(value, pulumi.ComponentResource):
            for name, member in _members(value):
                visit(name, member)
            # An API's routes name functions that may live nowhere else (e.g. one defined in __main__.py).
            routes = getattr(value, "routes", None) or getattr(value, "_routes", None)
            for route in routes if isinstance(routes, (list, tuple)) else ():
                visit("route", getattr(route, "function", None))

    for component in components:
        visit("", component)
    api_targets = [
        ApiTarget(key=_resource_name(api), api_name=api.rest_api.name, stage_name=api.stage.stage_name,
                  access_log_group_name=api.access_logs.name)
        for api in apis
    ]
    found = {f.key for f in functions.values()}
    unknown = sorted((async_keys | destination_keys | consumer_keys) - found)
    if unknown:
        raise ValueError(f"observe(): no observed function is called {unknown}; observed: {sorted(found)}")
    return Targets(functions=list(functions.values()), apis=api_targets, queues=list(queues.values()),
                   state_machines=list(machines.values()))

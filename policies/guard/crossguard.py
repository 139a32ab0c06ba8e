"""Each rule as a pulumi_policy Policy: a resource policy for a resource rule, a stack policy for a graph rule,
and one more stack policy, `resource-rules-recheck`, for what the resource policies could not decide.

Unknown values go through the SDK's own reporting: a rule that meets one raises `UnknownValueError` after
reporting what it could decide, and the SDK turns that into its advisory "can't run policy ... during
preview" diagnostic. At `pulumi up` the engine calls Analyze again with resolved inputs and AnalyzeStack
with the final outputs, so the same rule decides what the preview could not, with its real enforcement level.

A resource policy does not rely on that alone: the CLI keeps one analyzer process for a whole preview or
update (Analyze per resource, then AnalyzeStack), so the pack remembers each (rule, URN) a blocking resource
rule could not judge, and `resource-rules-recheck` judges exactly those again on the stack's final state.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError

from .adapters import from_resource_args, from_stack_resources
from .model import Graph
from .rule import MANDATORY, RECHECK, Rule


def _unknown(paths: list[str]) -> UnknownValueError:
    error = UnknownValueError(UNKNOWN_STRING_VALUE, paths[0].split("."))
    if len(paths) > 1:
        error.message = f"{len(paths)} values can't be known during preview: {', '.join(paths[:5])}"
    return error


@dataclass(frozen=True)
class _Deferred:
    rule: Rule
    settings: Mapping[str, Any]
    reported: frozenset[str]  # already reported at Analyze: the re-check must not report them again


class Deferrals:
    """(rule id, URN) pairs a blocking resource rule could not judge at Analyze, kept for the stack re-check.

    The SDK serves Analyze from a thread pool, hence the lock. AnalyzeStack ends a run and takes them all, so
    an analyzer process that served a preview starts the next run from that run's own Analyze calls.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[tuple[str, str], _Deferred] = {}

    def drop(self, rule: Rule, urn: str) -> None:
        with self._lock:
            self._pending.pop((rule.id, urn), None)

    def defer(self, rule: Rule, urn: str, settings: Mapping[str, Any], reported: Iterable[str]) -> None:
        with self._lock:
            self._pending[(rule.id, urn)] = _Deferred(rule, settings, frozenset(reported))

    def take(self) -> dict[tuple[str, str], _Deferred]:
        with self._lock:
            pending, self._pending = self._pending, {}
        return pending


def _blocks(report: ReportViolation, rule: Rule) -> bool:
    """Whether the rule's findings block in this run, i.e. its configured level is mandatory (or remediate).

    The SDK passes no policy its configured level; it binds it into the reporter it builds for each call
    (remediate already turned into mandatory). If a future SDK stops doing so, the rule's declared level
    stands in, and the gRPC tests that configure a mandatory rule as advisory fail.
    """
    try:
        level = inspect.getclosurevars(report).nonlocals.get("enforcement_level")
    except TypeError:  # not a plain function
        level = None
    return (level.value if isinstance(level, EnforcementLevel) else rule.enforcement) in (MANDATORY, "remediate")


def _resource_policy(rule: Rule, deferrals: Deferrals, **metadata) -> Policy:
    def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
        if args.resource_type not in rule.types:
            return
        settings = rule.settings(args.get_config())
        verdict = rule.judge(from_resource_args(args), None, settings)
        for message in verdict.violations:
            report(message, None)
        if verdict.unknown is not None and _blocks(report, rule):
            deferrals.defer(rule, args.urn, settings, verdict.violations)
        else:
            # Known now (`up` re-sends resolved inputs) or not blocking: nothing left for the re-check to report.
            deferrals.drop(rule, args.urn)
        if verdict.unknown is not None:
            raise _unknown([verdict.unknown])

    return ResourceValidationPolicy(validate=validate, **metadata)


class _StackCall(threading.local):
    """The graph of the AnalyzeStack call being served on this thread, built by its first stack policy.

    The SDK hands each stack policy its own copy of the resources, so without this every policy rebuilt the
    whole graph (and its indexes) from them. `scope_stack_analysis` marks where one call starts and ends.
    """

    active = False
    graph: Graph | None = None


_CALL = _StackCall()


def stack_graph(resources: Iterable[Any]) -> Graph:
    """The graph of this AnalyzeStack call: built once per call when the call is scoped, else every time."""
    if not _CALL.active:
        return from_stack_resources(resources)
    if _CALL.graph is None:
        _CALL.graph = from_stack_resources(resources)
    return _CALL.graph


def scope_stack_analysis(servicer: type | None = None) -> None:
    """Wrap the SDK servicer's AnalyzeStack so that the stack policies of one call share one graph.

    Only `serve` (and tests) call this; importing the rules changes nothing in the SDK. If a future SDK renames
    the servicer, the policies fall back to building the graph per policy, as before.
    """
    if servicer is None:
        from pulumi_policy import policy as sdk

        servicer = getattr(sdk, "_PolicyAnalyzerServicer", None)
    analyze_stack = getattr(servicer, "AnalyzeStack", None)
    if analyze_stack is None or getattr(analyze_stack, "_graph_once", False):
        return

    def scoped(self, request, context):
        _CALL.active, _CALL.graph = True, None
        try:
            return analyze_stack(self, request, context)
        finally:
            _CALL.active, _CALL.graph = False, None

    scoped._graph_once = True  # type: ignore[attr-defined]
    servicer.AnalyzeStack = scoped


def report_version(version: str, servicer: type | None = None) -> None:
    """Make the SDK's servicer report the pack's own version (PulumiPolicy.yaml) instead of its fixed "0.0.1", so
    that GetAnalyzerInfo and every diagnostic ("...@v<version>") name the version the CLI installed."""
    if servicer is None:
        from pulumi_policy import policy as sdk

        servicer = getattr(sdk, "_PolicyAnalyzerServicer", None)
    if servicer is None:
        return
    original = getattr(servicer.__init__, "_original", servicer.__init__)

    def init(self, name, _sdk_version, *args, **kwargs):
        original(self, name, version, *args, **kwargs)

    init._original = original  # type: ignore[attr-defined]
    servicer.__init__ = init


def _stack_policy(rule: Rule, **metadata) -> Policy:
    def validate(args: StackValidationArgs, report: ReportViolation) -> None:
        graph = stack_graph(args.resources)
        settings = rule.settings(args.get_config())
        unknown = []
        for subject in graph.of_type(*rule.types):
            verdict = rule.judge(subject, graph, settings)
            for message in verdict.violations:
                report(message, subject.urn)
            if verdict.unknown is not None:
                unknown.append(verdict.unknown)
        if unknown:
            raise _unknown(unknown)

    return StackValidationPolicy(validate=validate, **metadata)


def _recheck_policy(deferrals: Deferrals, level: str = MANDATORY) -> Policy:
    """Judge the deferred (rule, URN) pairs on the stack's final state, each under its rule's id.

    Only rules whose configured level is mandatory are deferred, because every finding of this one policy
    carries this policy's level: re-checking an advisory rule here would turn its advice into a block. An
    advisory rule's unknown stays the preview's advisory "can't run" report, and the engine's Analyze at
    `up` judges it with the resolved inputs, still as advice.
    """

    def validate(args: StackValidationArgs, report: ReportViolation) -> None:
        pending = deferrals.take()
        if not pending:
            return
        graph = stack_graph(args.resources)
        unknown = []
        for (rule_id, urn), deferred in sorted(pending.items()):
            subject = graph.by_urn.get(urn)
            if subject is None:  # not in the final state: deleted, or never created
                continue
            verdict = deferred.rule.judge(subject, None, deferred.settings)
            for message in verdict.violations:
                if message not in deferred.reported:
                    report(f"{rule_id}: {message}", urn)
            if verdict.unknown is not None:
                unknown.append((rule_id, urn, verdict.unknown))
        if unknown:
            error = _unknown([path for _, _, path in unknown])
            listed = "; ".join(f"{rule_id} on {urn} at .{path}" for rule_id, urn, path in unknown[:5])
            error.message = f"deferred rule checks still can't be decided during preview ({len(unknown)}): {listed}"
            raise error

    return StackValidationPolicy(
        name=RECHECK,
        description=(
            "Resource rules that met an unknown value at Analyze are judged again on the stack's final state; "
            "each finding names the original rule."
        ),
        enforcement_level=EnforcementLevel(level),
        remediation_steps=(
            "Follow the remediation of the rule named at the start of the message, for the resource the finding "
            "names."
        ),
        validate=validate,
    )


def policy(rule: Rule, deferrals: Deferrals) -> Policy:
    metadata = {
        "name": rule.id,
        "description": rule.description,
        "enforcement_level": EnforcementLevel(rule.enforcement),
        "config_schema": PolicyConfigSchema(properties={k: dict(v) for k, v in rule.config_schema.items()})
        if rule.config_schema
        else None,
        "remediation_steps": rule.remediation,
    }
    return _stack_policy(rule, **metadata) if rule.needs_graph else _resource_policy(rule, deferrals, **metadata)


def policies(rules: Iterable[Rule], recheck_level: str = MANDATORY) -> list[Policy]:
    """One policy per rule, in order, then `resource-rules-recheck`."""
    deferrals = Deferrals()
    return [*(policy(r, deferrals) for r in rules), _recheck_policy(deferrals, recheck_level)]

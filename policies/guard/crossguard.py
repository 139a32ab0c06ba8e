"""Each rule as a pulumi_policy Policy: a resource policy for a resource rule, a stack policy for a graph rule.

Unknown values go through the SDK's own reporting: a rule that meets one raises `UnknownValueError` after
reporting what it could decide, and the SDK turns that into its advisory "can't run policy ... during
preview" diagnostic. At `pulumi up` the engine calls Analyze again with resolved inputs and AnalyzeStack
with the final outputs, so the same rule decides what the preview could not, with its real enforcement level.
"""

from __future__ import annotations

from collections.abc import Iterable

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
from .rule import Rule


def _unknown(paths: list[str]) -> UnknownValueError:
    error = UnknownValueError(UNKNOWN_STRING_VALUE, paths[0].split("."))
    if len(paths) > 1:
        error.message = f"{len(paths)} values can't be known during preview: {', '.join(paths[:5])}"
    return error


def _resource_policy(rule: Rule, **metadata) -> Policy:
    def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
        if args.resource_type not in rule.types:
            return
        verdict = rule.judge(from_resource_args(args), None, rule.settings(args.get_config()))
        for message in verdict.violations:
            report(message, None)
        if verdict.unknown is not None:
            raise _unknown([verdict.unknown])

    return ResourceValidationPolicy(validate=validate, **metadata)


def _stack_policy(rule: Rule, **metadata) -> Policy:
    def validate(args: StackValidationArgs, report: ReportViolation) -> None:
        graph = from_stack_resources(args.resources)
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


def policy(rule: Rule) -> Policy:
    metadata = {
        "name": rule.id,
        "description": rule.description,
        "enforcement_level": EnforcementLevel(rule.enforcement),
        "config_schema": PolicyConfigSchema(properties={k: dict(v) for k, v in rule.config_schema.items()})
        if rule.config_schema
        else None,
        "remediation_steps": rule.remediation,
    }
    return _stack_policy(rule, **metadata) if rule.needs_graph else _resource_policy(rule, **metadata)


def policies(rules: Iterable[Rule]) -> list[Policy]:
    return [policy(r) for r in rules]

"""Run rules over a graph: the offline checker's whole job, and what each CrossGuard policy does for its rule."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from .config import RuleConfig
from .model import Graph
from .rule import ADVISORY, MANDATORY, Rule


@dataclass(frozen=True)
class Finding:
    rule: str
    urn: str
    message: str
    enforcement: str
    verified: bool = True  # False: the rule could not judge the resource yet (an unknown value)


@dataclass(frozen=True)
class Report:
    findings: tuple[Finding, ...]
    resources: int

    def _select(self, enforcement: str | None, verified: bool) -> list[Finding]:
        return [
            f for f in self.findings if f.verified == verified and (enforcement is None or f.enforcement == enforcement)
        ]

    @property
    def mandatory(self) -> list[Finding]:
        return self._select(MANDATORY, True)

    @property
    def advisory(self) -> list[Finding]:
        return self._select(ADVISORY, True)

    @property
    def unverifiable(self) -> list[Finding]:
        return self._select(None, False)

    @property
    def passed(self) -> bool:
        return not self.mandatory


def effective_level(level: str) -> str:
    # The policy SDK reports a rule configured as "remediate" as mandatory when it still finds a violation.
    return MANDATORY if level == "remediate" else level


def check_rule(rule: Rule, graph: Graph, config: RuleConfig) -> Iterator[Finding]:
    level = effective_level(config.enforcement)
    if level == "disabled":
        return
    settings = rule.settings(config.properties)
    for subject in graph.of_type(*rule.types):
        # A resource rule gets no graph, exactly as in CrossGuard's per-resource Analyze.
        verdict = rule.judge(subject, graph if rule.needs_graph else None, settings)
        for message in verdict.violations:
            yield Finding(rule.id, subject.urn, message, level)
        if verdict.unknown is not None:
            yield Finding(rule.id, subject.urn, f"{verdict.unknown} is not known yet", level, verified=False)


def evaluate(graph: Graph, rules: Iterable[Rule], config: Mapping[str, RuleConfig]) -> Report:
    findings = [f for rule in rules for f in check_rule(rule, graph, config[rule.id])]
    return Report(tuple(findings), len(graph))

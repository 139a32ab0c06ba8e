"""What a rule is: metadata shared by the CrossGuard pack and the offline checker, and one check function."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

from .model import Graph, Malformed, Resource, Unverifiable

MANDATORY = "mandatory"
ADVISORY = "advisory"
# Policies that exist only in the CrossGuard pack (no rule of their own): a pack config may set their level,
# which the offline checker validates and otherwise ignores.
RECHECK = "resource-rules-recheck"
PACK_ONLY_POLICIES = (RECHECK,)

EXEMPT = "exemptResources"

# A check yields a message per violation, or an Unverifiable for a part it cannot judge yet and goes on.
Outcome = str | Unverifiable


@dataclass(frozen=True)
class Verdict:
    violations: tuple[str, ...]
    unknown: str | None  # the first value that kept part of the resource from being judged


@dataclass(frozen=True)
class Rule:
    id: str
    description: str
    remediation: str
    enforcement: str
    types: tuple[str, ...]  # sorted, so that findings come out in the same order on every run
    check: Callable[..., Iterable[Outcome]]
    # A graph rule sees the whole stack (CrossGuard: a stack policy); a resource rule sees one resource's own
    # props only (CrossGuard: a resource policy), so both runtimes can give it exactly the same input.
    needs_graph: bool = False
    config_schema: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def defaults(self) -> dict[str, Any]:
        return {k: v["default"] for k, v in self.config_schema.items() if "default" in v}

    def settings(self, given: Mapping[str, Any] | None) -> dict[str, Any]:
        """Schema defaults under the given properties: the CLI sends both, `pulumi policy publish` neither."""
        return {**self.defaults(), **(given or {})}

    def judge(self, subject: Resource, graph: Graph | None, settings: Mapping[str, Any]) -> Verdict:
        if any(fnmatchcase(subject.name, pattern) for pattern in settings.get(EXEMPT, ())):
            return Verdict((), None)
        violations: list[str] = []
        unknown: str | None = None
        args = (subject, graph, settings) if self.needs_graph else (subject, settings)
        try:
            for outcome in self.check(*args):
                if isinstance(outcome, Unverifiable):
                    unknown = unknown or outcome.path
                else:
                    violations.append(outcome)
        except Unverifiable as stopped:
            unknown = unknown or stopped.path
        except (Malformed, TypeError, ValueError, AttributeError, KeyError, IndexError) as error:
            # A value no provider writes (hand-edited or corrupted state): neither pass nor fail the resource, but
            # name what could not be read, as for an unknown value. Well-formed graphs never get here (the stack
            # tests assert that nothing is unverifiable on our own program).
            unknown = unknown or f"{subject.name}: unreadable value ({type(error).__name__}: {error})"
        return Verdict(tuple(violations), unknown)


def string_list(default: list[str], description: str, **items: Any) -> dict[str, Any]:
    """The config schema of a list-of-strings property."""
    return {"type": "array", "items": {"type": "string", **items}, "default": default, "description": description}


def rule(
    rule_id: str,
    *,
    description: str,
    remediation: str,
    types: Iterable[str],
    enforcement: str = MANDATORY,
    needs_graph: bool = False,
    config: Mapping[str, Mapping[str, Any]] | None = None,
) -> Callable[[Callable[..., Iterable[Outcome]]], Rule]:
    """Declare a check function as a rule (the decorated name becomes the Rule)."""

    schema = {
        **(config or {}),
        # Every rule takes acknowledged exceptions by name, so that they sit, reviewed, in the stack's pack config.
        EXEMPT: string_list([], "Resource names (globs) this rule does not judge: reviewed, acknowledged exceptions."),
    }

    def declare(check: Callable[..., Iterable[Outcome]]) -> Rule:
        return Rule(
            id=rule_id,
            description=description,
            remediation=remediation,
            enforcement=enforcement,
            types=tuple(sorted(set(types))),
            check=check,
            needs_graph=needs_graph,
            config_schema=schema,
        )

    return declare

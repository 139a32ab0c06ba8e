"""Least-privilege statements, and Links: what a function needs from a resource (its env vars and the exact
statements) as one object, so no consumer can get the variable without the grant or the grant without it."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi

_ENV_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Condition:
    test: str
    variable: str
    values: Sequence[pulumi.Input[str]]


@dataclass(frozen=True)
class Statement:
    """One least-privilege Allow statement; wildcard actions are refused at construction."""

    actions: Sequence[str]
    resources: Sequence[pulumi.Input[str]]
    conditions: Sequence[Condition] = ()
    sid: str | None = None

    def __post_init__(self) -> None:
        if not self.actions:
            raise ValueError("a statement needs at least one action")
        for action in self.actions:
            if "*" in action or ":" not in action:
                raise ValueError(f"action {action!r} must be a single service:Action without wildcards")
        if not self.resources:
            raise ValueError(f"statement for {list(self.actions)} needs at least one resource")

    def document(self) -> dict[str, Any]:
        body: dict[str, Any] = {"Effect": "Allow", "Action": sorted(self.actions), "Resource": list(self.resources)}
        if self.sid:
            body["Sid"] = self.sid
        if self.conditions:
            grouped: dict[str, dict[str, Any]] = {}
            for condition in self.conditions:
                grouped.setdefault(condition.test, {})[condition.variable] = list(condition.values)
            body["Condition"] = grouped
        return body


def policy_document(statements: Sequence[Statement]) -> pulumi.Output[str]:
    """The IAM JSON document for these statements (Output-aware: ARNs may still be unknown)."""
    return pulumi.Output.json_dumps({"Version": "2012-10-17", "Statement": [s.document() for s in statements]})


@dataclass(frozen=True)
class Link:
    """Environment variables + the exact statements that make them usable, e.g. `outbox.producer_link()`."""

    env: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    statements: Sequence[Statement] = ()

    def __post_init__(self) -> None:
        if not self.env and not self.statements:
            raise ValueError("a link carries at least one environment variable or statement")
        bad = [key for key in self.env if not _ENV_NAME.match(key)]
        if bad:
            raise ValueError(f"environment variable names {bad} must match {_ENV_NAME.pattern}")
        for statement in self.statements:
            if not isinstance(statement, Statement):
                raise ValueError(f"link statements must be Statement objects, got {statement!r}")


def merge_environment(*sources: Mapping[str, pulumi.Input[str]]) -> dict[str, pulumi.Input[str]]:
    """One environment from several sources; the same variable from two sources is a wiring error."""
    merged: dict[str, pulumi.Input[str]] = {}
    for source in sources:
        for key, value in source.items():
            if key in merged:
                raise ValueError(f"environment variable {key} is set twice (by a link and by another link or caller)")
            merged[key] = value
    return merged

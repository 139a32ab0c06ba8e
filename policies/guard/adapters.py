"""Adapters from every place a Pulumi resource graph can come from to the one model in `model.py`."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from pulumi_policy import PolicyResource, ResourceValidationArgs
from pulumi_policy.deserialize import SPECIAL_SECRET_SIG, SPECIAL_SIG_KEY, serialize_properties
from pulumi_policy.proxy import (
    UNKNOWN_ARCHIVE_VALUE,
    UNKNOWN_ARRAY_VALUE,
    UNKNOWN_ASSET_VALUE,
    UNKNOWN_BOOLEAN_VALUE,
    UNKNOWN_NUMBER_VALUE,
    UNKNOWN_OBJECT_VALUE,
    UNKNOWN_STRING_VALUE,
)

from .model import UNKNOWN, Graph, Resource

# The engine writes every computed value as the string sentinel (also `computedValuePlaceholder` in state
# files and `pulumi preview --json`); the policy SDK has one sentinel per type.
_SENTINELS = frozenset(
    {
        UNKNOWN_STRING_VALUE,
        UNKNOWN_BOOLEAN_VALUE,
        UNKNOWN_NUMBER_VALUE,
        UNKNOWN_ARRAY_VALUE,
        UNKNOWN_ASSET_VALUE,
        UNKNOWN_ARCHIVE_VALUE,
        UNKNOWN_OBJECT_VALUE,
    }
)
# offline.runtime records a preview's `pulumi.output.Unknown` by its repr.
_MOCK_UNKNOWN_PREFIX = "<pulumi.output.Unknown object"


def normalize(value: Any) -> Any:
    """Plain JSON-like values with every kind of unknown turned into UNKNOWN and secrets opened."""
    if isinstance(value, str):
        return UNKNOWN if value in _SENTINELS or value.startswith(_MOCK_UNKNOWN_PREFIX) else value
    if isinstance(value, Mapping):
        if value.get(SPECIAL_SIG_KEY) == SPECIAL_SECRET_SIG:
            if "value" in value:
                return normalize(value["value"])
            if "plaintext" in value:
                return normalize(json.loads(value["plaintext"]))
            # Only the stack's secrets provider can read a ciphertext: the rule cannot judge it.
            return UNKNOWN
        return {k: normalize(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [normalize(v) for v in value]
    return value


def _merge(inputs: Mapping[str, Any] | None, outputs: Mapping[str, Any] | None) -> dict[str, Any]:
    """Outputs (what exists, provider defaults included) over inputs, but never a known input hidden by an
    output that is still unknown."""
    merged = normalize(dict(inputs or {}))
    for key, value in normalize(dict(outputs or {})).items():
        if value is not UNKNOWN or key not in merged:
            merged[key] = value
    return merged


def _resource(raw: Mapping[str, Any]) -> Resource:
    """One resource in the shape shared by state files and preview steps (apitype.ResourceV3)."""
    return Resource(
        urn=raw["urn"],
        type=raw["type"],
        props=_merge(raw.get("inputs"), raw.get("outputs")),
        id=raw.get("id") or None,
        parent=raw.get("parent") or None,
        dependencies=tuple(raw.get("dependencies") or ()),
        property_dependencies={k: tuple(v) for k, v in (raw.get("propertyDependencies") or {}).items()},
    )


def from_stack_export(document: Mapping[str, Any]) -> Graph:
    """`pulumi stack export` (version 3: {"version": 3, "deployment": {"resources": [...]}})."""
    deployment = document.get("deployment", document)
    return Graph(_resource(r) for r in deployment.get("resources") or ())


# Steps whose resource will not exist once the update is done.
_GONE = frozenset({"delete", "delete-replaced", "discard", "discard-replaced", "remove-pending-replace"})


def from_preview_json(document: Mapping[str, Any]) -> Graph:
    """`pulumi preview --json`: the new state of every step (a replacement shows several steps per URN)."""
    states: dict[str, Mapping[str, Any]] = {}
    for step in document.get("steps") or ():
        if step.get("op") in _GONE or not step.get("newState"):
            continue
        states[step["newState"]["urn"]] = step["newState"]
    return Graph(_resource(s) for s in states.values())


def from_program_run(run: Any) -> Graph:
    """offline.runtime's ProgramRun: our program's registrations, recorded under mocks."""
    return Graph(
        Resource(
            urn=r.urn,
            type=r.type,
            props=_merge(r.inputs, r.outputs),
            id=r.id,
            parent=r.parent,
            dependencies=tuple(r.dependencies),
            property_dependencies={k: tuple(v) for k, v in r.property_dependencies.items()},
        )
        for r in run.resources
    )


def _plain(props: Mapping[str, Any]) -> dict[str, Any]:
    # serialize_properties unwraps the SDK's unknown-checking proxies and keeps the sentinels.
    return normalize(dict(serialize_properties(props)))


def from_resource_args(args: ResourceValidationArgs) -> Resource:
    """CrossGuard `Analyze`: one resource's inputs, nothing about the rest of the graph."""
    return Resource(urn=args.urn, type=args.resource_type, props=_plain(args.props), parent=args.opts.parent)


def from_stack_resources(resources: Iterable[PolicyResource]) -> Graph:
    """CrossGuard `AnalyzeStack`: every resource's outputs, parents and property dependencies."""
    return Graph(
        Resource(
            urn=r.urn,
            type=r.resource_type,
            props=_plain(r.props),
            parent=r.parent.urn if r.parent is not None else r.opts.parent,
            dependencies=tuple(d.urn for d in r.dependencies),
            property_dependencies={k: tuple(d.urn for d in v) for k, v in r.property_dependencies.items()},
        )
        for r in resources
    )

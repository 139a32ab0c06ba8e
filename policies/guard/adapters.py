"""Adapters from every place a Pulumi resource graph can come from to the one model in `model.py`."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
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


# `pulumi preview --json` and engine event logs print every secret as this literal: its value is not in the file.
MASKED_SECRET = "[secret]"


class InputError(ValueError):
    """A file the checker does not understand: refused with one line (exit 2), never checked partially."""


def normalize(value: Any, masked: bool = False) -> Any:
    """Plain JSON-like values with every kind of unknown turned into UNKNOWN and secrets opened.

    `masked`: the source prints secrets as "[secret]" (preview --json, event logs), which is then unknown too.
    """
    if isinstance(value, str):
        if value in _SENTINELS or value.startswith(_MOCK_UNKNOWN_PREFIX) or (masked and value == MASKED_SECRET):
            return UNKNOWN
        return value
    if isinstance(value, Mapping):
        if value.get(SPECIAL_SIG_KEY) == SPECIAL_SECRET_SIG:
            if "value" in value:
                return normalize(value["value"], masked)
            if isinstance(value.get("plaintext"), str):
                try:
                    return normalize(json.loads(value["plaintext"]), masked)
                except ValueError:
                    return UNKNOWN  # not the JSON the engine writes: unreadable, so unknown, never "absent"
            # Only the stack's secrets provider can read a ciphertext: the rule cannot judge it.
            return UNKNOWN
        return {str(k): normalize(v, masked) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [normalize(v, masked) for v in value]
    return value


def _merge(inputs: Any, outputs: Any, masked: bool = False) -> dict[str, Any]:
    """Outputs (what exists, provider defaults included) over inputs, but never a known input hidden by an
    output that is still unknown."""
    merged = normalize(dict(inputs), masked) if isinstance(inputs, Mapping) else {}
    for key, value in (normalize(dict(outputs), masked) if isinstance(outputs, Mapping) else {}).items():
        if value is not UNKNOWN or key not in merged:
            merged[key] = value
    return merged


def _urns(value: Any) -> tuple[str, ...]:
    """A list of URNs; null (exports from CLI 3.86-3.102 write `"prop": null`) is none."""
    return tuple(u for u in value if isinstance(u, str)) if isinstance(value, list) else ()


def _resource(raw: Any, where: str, masked: bool = False) -> Resource:
    """One resource in the shape shared by state files, preview steps and event metadata (apitype.ResourceV3)."""
    if not isinstance(raw, Mapping):
        raise InputError(f"{where} is not an object")
    urn, type_ = raw.get("urn"), raw.get("type")
    if not isinstance(urn, str) or not urn.startswith("urn:pulumi:") or not isinstance(type_, str) or not type_:
        raise InputError(f"{where} has no resource urn and type")
    inputs = raw.get("inputs")
    if isinstance(raw.get("defaults"), Mapping):  # deployment v1: provider defaults kept apart from the inputs
        inputs = {**raw["defaults"], **(inputs if isinstance(inputs, Mapping) else {})}
    dependencies = raw.get("propertyDependencies")
    return Resource(
        urn=urn,
        type=type_,
        props=_merge(inputs, raw.get("outputs"), masked),
        id=raw.get("id") if isinstance(raw.get("id"), str) and raw.get("id") else None,
        parent=raw.get("parent") if isinstance(raw.get("parent"), str) and raw.get("parent") else None,
        dependencies=_urns(raw.get("dependencies")),
        property_dependencies={str(k): _urns(v) for k, v in dependencies.items()}
        if isinstance(dependencies, Mapping)
        else {},
    )


# Deployment schema versions `pulumi stack export` and the backends write (apitype: 1-3; 4 adds `features`).
STATE_VERSIONS = (1, 2, 3, 4)
STATE_SHAPES = (
    "`pulumi stack export` ({version, deployment}), a backend checkpoint ({version, checkpoint: {latest}}), "
    "a v0 checkpoint ({latest}) or a deployment ({manifest, resources})"
)


def _version(document: Mapping[str, Any], what: str) -> None:
    version = document.get("version")
    if version is not None and (isinstance(version, bool) or version not in STATE_VERSIONS):
        raise InputError(f"{what} version {version!r} is not supported (versions {STATE_VERSIONS[0]}-{STATE_VERSIONS[-1]})")


def _is_preview(document: Mapping[str, Any]) -> bool:
    return "steps" in document or "changeSummary" in document


def _deployment(document: Any) -> Mapping[str, Any]:
    """The deployment (manifest + resources) of any state layout the CLI or a backend writes."""
    if not isinstance(document, Mapping):
        raise InputError(f"not a state file: expected a JSON object, {STATE_SHAPES}")
    if _is_preview(document):
        raise InputError("this is `pulumi preview --json` output, not a state: pass it with --preview-json")
    if "checkpoint" in document:  # a file backend's .pulumi/stacks/<project>/<stack>.json
        _version(document, "checkpoint")
        checkpoint = document["checkpoint"]
        if not isinstance(checkpoint, Mapping):
            raise InputError("checkpoint is not an object")
        latest = checkpoint.get("latest")
        if latest is None:
            raise InputError("the checkpoint has no deployment (checkpoint.latest is null): the stack was never updated")
    elif "deployment" in document:
        _version(document, "deployment")
        latest = document["deployment"]
    elif "latest" in document:  # version 0: the checkpoint itself, unversioned
        latest = document["latest"]
    elif "resources" in document:
        latest = document
    else:
        keys = ", ".join(repr(k) for k in sorted(map(str, document))[:8])  # repr: a key may hold a newline
        raise InputError(f"unknown state layout (keys: {keys}): expected {STATE_SHAPES}")
    if not isinstance(latest, Mapping):
        raise InputError("the deployment is not an object")
    return latest


def from_stack_export(document: Any) -> Graph:
    """Every state layout: `pulumi stack export` (v1-v4), backend checkpoints, v0 `{"latest": ...}`.

    Resources pending deletion (`delete: true`) are not live and are left out. Raises InputError for what it does
    not understand, and for a state with no live resource (a silent PASS on nothing is never an answer).
    """
    resources = _deployment(document).get("resources")
    if resources is not None and not isinstance(resources, list):
        raise InputError("deployment.resources is not a list")
    live = (r for r in enumerate(resources or ()) if not (isinstance(r[1], Mapping) and r[1].get("delete") is True))
    graph = Graph(_resource(r, f"resources[{i}]") for i, r in live)
    if not any(not r.type.startswith("pulumi:") for r in graph.resources):
        raise InputError("the state holds no live resource (only the stack and providers, or nothing): nothing to check")
    return graph


# Steps whose resource will not exist once the update is done.
_GONE = frozenset({"delete", "delete-replaced", "discard", "discard-replaced", "remove-pending-replace", "read-discard"})
SHOW_SAMES = (
    "unchanged resources are left out (pass --show-sames to `pulumi preview --json`, or give the state with "
    "--stack-export to merge it with the preview)"
)


@dataclass(frozen=True)
class Preview:
    """The new state of every resource a preview (or an event log) shows, and whether it shows all of them."""

    states: dict[str, Resource]  # urn -> new state
    gone: frozenset[str]  # urns the update deletes
    unchanged: int  # the summary's count of unchanged resources
    complete: bool  # every unchanged resource is in `states` (a `same` step for each)

    def graph(self, base: Graph | None = None) -> Graph:
        """The stack after the update: the preview's states over `base` (a state export), without deletions."""
        merged = {} if base is None else {r.urn: r for r in base.resources}
        merged.update(self.states)
        graph = Graph(r for urn, r in merged.items() if urn not in self.gone or urn in self.states)
        if not any(not r.type.startswith("pulumi:") for r in graph.resources):
            raise InputError("the preview shows no resource: nothing to check")
        return graph


def _unchanged(summary: Any) -> int:
    if summary is None:
        return 0
    if not isinstance(summary, Mapping):
        raise InputError("changeSummary is not an object")
    same = summary.get("same", 0)
    return same if isinstance(same, int) and not isinstance(same, bool) else 0


def read_preview(document: Any) -> Preview:
    """`pulumi preview --json`: the new state of every step (a replacement shows several steps per URN)."""
    if not isinstance(document, Mapping):
        raise InputError("not a preview: expected the JSON object `pulumi preview --json` prints")
    if not _is_preview(document):
        if {"deployment", "checkpoint", "latest", "resources"} & set(document):
            raise InputError("this is a state file, not `pulumi preview --json` output: pass it with --stack-export")
        raise InputError("not `pulumi preview --json` output: no steps and no changeSummary")
    steps = document.get("steps")
    if steps is not None and not isinstance(steps, list):
        raise InputError("steps is not a list")
    states: dict[str, Resource] = {}
    gone: set[str] = set()
    sames = 0
    for index, step in enumerate(steps or ()):
        if not isinstance(step, Mapping):
            raise InputError(f"steps[{index}] is not an object")
        op = step.get("op")
        if not isinstance(op, str):
            raise InputError(f"steps[{index}].op is not a step operation")
        sames += op == "same"
        if op in _GONE:
            if isinstance(step.get("urn"), str):
                gone.add(step["urn"])
            continue
        if step.get("newState") is None:
            continue
        resource = _resource(step["newState"], f"steps[{index}].newState", masked=True)
        states[resource.urn] = resource
    unchanged = _unchanged(document.get("changeSummary"))
    return Preview(states, frozenset(gone), unchanged, complete=not (unchanged > 0 and sames == 0))


def read_event_log(text: str) -> Preview:
    """The engine's event stream (`pulumi preview|up --event-log FILE`, one JSON event per line).

    Events carry each step's old and new state (no property dependencies: links are found by ids and ARNs);
    a `resOutputsEvent` carries the outputs once a step is done.
    """
    states: dict[str, Resource] = {}
    gone: set[str] = set()
    sames = unchanged = 0
    summary_seen = False
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            event = json.loads(line)
        except (ValueError, RecursionError) as error:
            raise InputError(f"event log line {number} is not JSON ({type(error).__name__})") from None
        if not isinstance(event, Mapping) or not isinstance(event.get("sequence", 0), int):
            raise InputError(f"event log line {number} is not an engine event")
        for kind in ("resourcePreEvent", "resOutputsEvent"):
            if kind not in event:
                continue
            metadata = event[kind].get("metadata") if isinstance(event[kind], Mapping) else None
            if not isinstance(metadata, Mapping):
                raise InputError(f"event log line {number}: {kind} has no metadata")
            op = metadata.get("op")
            if not isinstance(op, str):
                raise InputError(f"event log line {number}: {kind}.metadata.op is not a step operation")
            if kind == "resourcePreEvent":
                sames += op == "same"
            if op in _GONE:
                if isinstance(metadata.get("urn"), str):
                    gone.add(metadata["urn"])
            elif metadata.get("new") is not None:
                resource = _resource(metadata["new"], f"event log line {number} ({kind}.metadata.new)", masked=True)
                states[resource.urn] = resource
        if isinstance(event.get("summaryEvent"), Mapping):
            summary_seen = True
            unchanged = _unchanged(event["summaryEvent"].get("resourceChanges"))
    if not summary_seen and not states:
        raise InputError("not an engine event log: no resource events and no summary")
    return Preview(states, frozenset(gone), unchanged, complete=not (unchanged > 0 and sames == 0))


def from_preview_json(document: Any) -> Graph:
    """A complete preview as a graph; a partial one (without --show-sames) is refused, never half-checked."""
    preview = read_preview(document)
    if not preview.complete:
        raise InputError(f"partial preview: {preview.unchanged} {SHOW_SAMES}")
    return preview.graph()


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

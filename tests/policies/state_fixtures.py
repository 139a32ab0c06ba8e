"""Realistic Pulumi state and preview files, one per layout the checker must read, built from the reference app.

Each builder writes what the CLI or a backend writes for that layout (the manifest, the stack and provider
resources, secrets, pending deletions, old numbers-as-strings), so that the checker is proven on the shape,
not only on our own exports.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

from pulumi_policy.deserialize import SPECIAL_SECRET_SIG, SPECIAL_SIG_KEY

from policies.guard.model import Graph
from tests.policies.policy_builders import named, stack_export, with_props

OPEN_ROUTE = "api-get-orders"
STACK_URN = "urn:pulumi:test::secure-serverless::pulumi:pulumi:Stack::secure-serverless-test"
PROVIDER_URN = "urn:pulumi:test::secure-serverless::pulumi:providers:aws::default_6_66_0"
MANIFEST = {"time": "2026-11-30T09:00:00Z", "magic": "0f1e2d", "version": "v3.272.0", "plugins": [
    {"name": "aws", "path": "/root/.pulumi/plugins/resource-aws-v6.66.0", "type": "resource", "version": "6.66.0"}]}
SECRETS_PROVIDERS = {"type": "passphrase", "state": {"salt": "v1:abc:v1:def:ghi"}}


def open_route(graph: Graph) -> Graph:
    """The reference app with GET /orders open: one mandatory violation."""
    return with_props(graph, OPEN_ROUTE, authorization="NONE", authorizerId=None)


def _resources(graph: Graph) -> list[dict[str, Any]]:
    resources = copy.deepcopy(stack_export(graph)["deployment"]["resources"])
    for r in resources:
        r["parent"] = r["parent"] or STACK_URN
        if r["custom"]:
            r["provider"] = f"{PROVIDER_URN}::04da6b54-80e4-46f7-96ec-b56ff0331ba9"
    stack = {"urn": STACK_URN, "custom": False, "type": "pulumi:pulumi:Stack", "outputs": {"api_url": "https://x"}}
    provider = {"urn": PROVIDER_URN, "custom": True, "id": "04da6b54-80e4-46f7-96ec-b56ff0331ba9",
                "type": "pulumi:providers:aws", "inputs": {"region": "us-east-1", "version": "6.66.0"},
                "outputs": {"region": "us-east-1", "version": "6.66.0"}}
    return [stack, provider, *resources]


def deployment(graph: Graph) -> dict[str, Any]:
    return {"manifest": MANIFEST, "secrets_providers": SECRETS_PROVIDERS, "resources": _resources(graph)}


# --- state layouts ---------------------------------------------------------------------------------------------


def export_v3(graph: Graph) -> dict[str, Any]:
    return {"version": 3, "deployment": deployment(graph)}


def export_v1(graph: Graph) -> dict[str, Any]:
    """2017-era: deployment v1, provider defaults in `defaults`, no property dependencies, no provider resource."""
    resources = [r for r in _resources(graph) if not r["type"].startswith("pulumi:providers")]
    for r in resources:
        r.pop("propertyDependencies", None)
        r.pop("provider", None)
        r["defaults"] = {}
    return {"version": 1, "deployment": {"manifest": {"time": "2017-09-01T10:00:00Z", "magic": "", "version": ""},
                                         "resources": resources}}


def checkpoint_v3(graph: Graph) -> dict[str, Any]:
    """A file backend's .pulumi/stacks/<project>/<stack>.json."""
    return {"version": 3, "checkpoint": {"stack": "organization/secure-serverless/test", "config": {},
                                         "latest": deployment(graph)}}


def checkpoint_v4(graph: Graph) -> dict[str, Any]:
    state = checkpoint_v3(graph)
    state["version"] = 4
    state["features"] = ["refreshBeforeUpdate"]
    for r in state["checkpoint"]["latest"]["resources"]:
        r["refreshBeforeUpdate"] = False
    return state


def checkpoint_v0(graph: Graph) -> dict[str, Any]:
    """Unversioned checkpoints of the first engines: the checkpoint object itself."""
    return {"target": "test", "config": {}, "latest": deployment(graph)}


def null_property_dependencies(graph: Graph) -> dict[str, Any]:
    """Exports from CLI 3.86-3.102 write a property with no dependency as `null`."""
    state = export_v3(graph)
    for r in state["deployment"]["resources"]:
        if "propertyDependencies" in r:
            r["propertyDependencies"] = {**r["propertyDependencies"], "tags": None, "name": None}
    return state


def _secret(value: Any, *, ciphertext: bool) -> dict[str, Any]:
    if ciphertext:
        return {SPECIAL_SIG_KEY: SPECIAL_SECRET_SIG, "ciphertext": "v1:4VpT3nAq:Vvbnm8sGZs2kd0K3Dc+o+S2R"}
    return {SPECIAL_SIG_KEY: SPECIAL_SECRET_SIG, "plaintext": json.dumps(value)}


def with_secret(graph: Graph, name: str, *, ciphertext: bool) -> dict[str, Any]:
    """One resource's `policy` stored as a secret (ciphertext: only the stack's secrets provider can read it)."""
    state = export_v3(graph)
    for r in state["deployment"]["resources"]:
        if r["urn"].endswith(f"::{name}"):
            for side in ("inputs", "outputs"):
                r[side]["policy"] = _secret(r[side]["policy"], ciphertext=ciphertext)
    return state


def pending_delete(graph: Graph) -> dict[str, Any]:
    """A replaced method still in the state with `delete: true` (open), next to its live, authorized successor."""
    state = export_v3(graph)
    resources = state["deployment"]["resources"]
    (live,) = [r for r in resources if r["urn"].endswith(f"::{OPEN_ROUTE}")]
    old = copy.deepcopy(live)
    old.update(delete=True, id="old-method-id")
    old["inputs"].update(authorization="NONE")
    old["outputs"].update(authorization="NONE")
    resources.insert(resources.index(live), old)
    return state


def numbers_as_strings(graph: Graph, visibility: str, timeout: str) -> dict[str, Any]:
    """2017-era states keep numbers as strings; the worker's queue and timeout set as given."""
    state = export_v1(graph)
    for r in state["deployment"]["resources"]:
        for side in ("inputs", "outputs"):
            props = r.setdefault(side, {})
            for key in ("retentionInDays", "maximumRetryAttempts", "minimumLength"):
                if key in props:
                    props[key] = str(props[key])
            if r["urn"].endswith("::orders-queue"):
                props["visibilityTimeoutSeconds"] = visibility
            if r["urn"].endswith("::worker-function"):
                props["timeout"] = timeout
    return state


# --- previews --------------------------------------------------------------------------------------------------


def preview(graph: Graph, *, show_sames: bool, changed: Callable[[str], bool], masked: str | None = None) -> dict:
    """`pulumi preview --json`: `changed` resources are updated, the others unchanged (listed with --show-sames)."""
    steps, same = [], 0
    for r in _resources(graph):
        op = "update" if changed(r["urn"]) else "same"
        if op == "same":
            same += 1
            if not show_sames:
                continue
        state = copy.deepcopy(r)
        if masked and r["urn"].endswith(f"::{masked}"):
            state["inputs"]["policy"] = state["outputs"]["policy"] = "[secret]"
        step = {"op": op, "urn": r["urn"], "provider": r.get("provider", ""), "newState": state}
        if op == "update":
            step.update(oldState=r, diffReasons=["authorization"], detailedDiff={"authorization": {"kind": "update"}})
        steps.append(step)
    return {"config": {"aws:region": "us-east-1"}, "steps": steps, "diagnostics": [], "duration": 1200000000,
            "changeSummary": {"update": len(steps) - (same if show_sames else 0), "same": same}}


def event_log(graph: Graph, *, preview_only: bool = True) -> str:
    """The engine's event stream as `--event-log` writes it: one JSON event per line."""
    events: list[dict[str, Any]] = [{"sequence": 0, "timestamp": 1764493200, "preludeEvent": {"config": {}}}]
    for r in _resources(graph):
        metadata = {"op": "same", "urn": r["urn"], "type": r["type"], "provider": r.get("provider", ""),
                    "new": {k: r.get(k) for k in ("urn", "type", "custom", "id", "parent", "inputs", "outputs")},
                    "old": None, "keys": None, "diffs": None, "detailedDiff": None, "logical": True}
        events.append({"sequence": len(events), "timestamp": 1764493201, "resourcePreEvent": {
            "metadata": metadata, "planning": preview_only}})
        if not preview_only:
            events.append({"sequence": len(events), "timestamp": 1764493202, "resOutputsEvent": {
                "metadata": metadata, "planning": False}})
    events.append({"sequence": len(events), "timestamp": 1764493203, "summaryEvent": {
        "maybeCorrupt": False, "durationSeconds": 3, "resourceChanges": {"same": len(events) - 1},
        "PolicyPacks": {}}})
    return "\n".join(json.dumps(e) for e in events) + "\n"


def resource_urn(graph: Graph, name: str) -> str:
    return named(graph, name).urn

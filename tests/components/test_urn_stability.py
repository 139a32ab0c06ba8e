"""No replacement for deployed stacks: every URN the program had before the component refactor is either
still produced or is an alias of exactly one resource of today's program.

`tests/data/urns-<stack>.json` were recorded from the program as it stood before components took their own
Args (commit b0e9def), with `offline.runtime.run_stack`. Never regenerate them to make this test pass: a
missing URN is a resource `pulumi up` would delete and create again.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from offline.runtime import ProgramRun
from tests.evaluations import run_stack  # one evaluation per stack in a test run: the aliases are recorded in it

DATA = Path(__file__).resolve().parent.parent / "data"
STACKS = ("dev", "prod", "local")


def _qualified_urn(stack: str, project: str, parent: str | None, type_: str, name: str) -> str:
    # Same rule as the engine (and offline.runtime.RecordingMonitor.make_urn): a child's type is prefixed by
    # its parent's type chain, the root stack excluded.
    qualified = type_
    if parent:
        parent_type = parent.split("::")[2]
        if parent_type != "pulumi:pulumi:Stack":
            qualified = f"{parent_type}${type_}"
    return "urn:pulumi:" + "::".join([stack, project, qualified, name])


def resolve_aliases(run: ProgramRun) -> tuple[set[str], dict[str, str]]:
    """(URNs, {alias URN: URN of the resource claiming it}) as the engine resolves alias specs: unset fields default
    to the resource's own, a parent's aliases are inherited by its children."""
    urns = {resource.urn for resource in run.resources}
    aliases_of: dict[str, set[str]] = {}
    claimed: dict[str, str] = {}
    for resource in run.resources:  # registration order: a parent is resolved before its children
        parents = {resource.parent} | aliases_of.get(resource.parent, set())
        found: set[str] = set()
        for alias in resource.aliases:
            if "urn" in alias:
                found.add(alias["urn"])
                continue
            name, type_ = alias.get("name", resource.name), alias.get("type", resource.type)
            candidates = {None} if alias.get("noParent") else (
                {alias["parentUrn"]} if alias.get("parentUrn") else parents)
            found |= {_qualified_urn(alias.get("stack", run.stack), alias.get("project", run.project), p, type_, name)
                      for p in candidates}
        # Inherited: the same name and type under any former URN of the parent.
        for parent in parents - {resource.parent}:
            found.add(_qualified_urn(run.stack, run.project, parent, resource.type, resource.name))
        found |= set(resource.alias_urns)
        aliases_of[resource.urn] = found
        for alias_urn in found:
            assert alias_urn not in urns or alias_urn == resource.urn, (
                f"{resource.urn} claims {alias_urn}, which is a live resource")
            assert claimed.setdefault(alias_urn, resource.urn) == resource.urn, f"{alias_urn} is claimed twice"
    return urns, claimed


@pytest.mark.parametrize("stack", STACKS)
def test_every_deployed_urn_is_kept_or_aliased(stack: str) -> None:
    before = set(json.loads((DATA / f"urns-{stack}.json").read_text()))
    urns, claimed = resolve_aliases(run_stack(stack))
    lost = sorted(before - urns - set(claimed))
    assert not lost, f"{len(lost)} deployed resources of {stack} would be replaced: {lost[:5]}"
    # (pulumi-aws itself aliases its renamed types, e.g. BucketV2 -> Bucket: aliases beyond `before` are fine.)


def test_the_recorded_urns_are_not_empty() -> None:
    for stack in STACKS:
        assert len(json.loads((DATA / f"urns-{stack}.json").read_text())) > 190

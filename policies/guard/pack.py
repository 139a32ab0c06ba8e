"""The pack as a product: its policies built from a function that takes overrides, as awsguard's
`new AwsGuard({all: "mandatory", ...})`.

    from guard.pack import serve
    serve({"all": "mandatory", "apigateway-method-requires-authorizer": {"publicRoutes": ["GET /health"]}})

Overrides have the shape of a `--policy-pack-config` file and become the pack's own defaults (each policy's
enforcement level and config-schema defaults); a config file given to the CLI still applies on top. Facts about
one application (its public routes) belong in its config file (`policies/config/<stack>.json`), not in the rules.

Only `serve` constructs `PolicyPack`, which starts the analyzer's gRPC server and blocks: everything else here is
safe to import (the offline checker and the tests build the same policies without serving them).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from .config import reconcile
from .rule import MANDATORY, PACK_ONLY_POLICIES, RECHECK, Rule
from .rules import RULES

PACK_NAME = "secure-serverless"
PULUMI_POLICY_YAML = Path(__file__).resolve().parent.parent / "PulumiPolicy.yaml"


def pack_version(path: Path = PULUMI_POLICY_YAML) -> str | None:
    """The version in PulumiPolicy.yaml (what `pulumi policy publish` and the CLI use), if the file is there."""
    if not path.exists():
        return None
    import yaml  # a dependency of the pulumi SDK

    version = (yaml.safe_load(path.read_text()) or {}).get("version")
    return str(version) if version is not None else None
DESCRIPTION = "Authorizers on every route, least-privilege IAM and serverless hygiene for AWS programs."


def configured_rules(overrides: Mapping[str, Any] | None = None, rules: Iterable[Rule] = RULES) -> tuple[Rule, ...]:
    """The rules with the overrides as their defaults (validated as a pack config file is; ConfigError if not)."""
    rules = tuple(rules)
    given = {k: v for k, v in (overrides or {}).items() if k not in PACK_ONLY_POLICIES}
    reconcile(rules, overrides)  # validates every override, the pack-only policies' included
    config = reconcile(rules, given)
    result = []
    for r in rules:
        schema = copy.deepcopy({k: dict(v) for k, v in r.config_schema.items()})
        for key, value in config[r.id].properties.items():
            schema[key]["default"] = value
        result.append(replace(r, enforcement=config[r.id].enforcement, config_schema=schema))
    return tuple(result)


def recheck_level(overrides: Mapping[str, Any] | None = None) -> str:
    """`resource-rules-recheck`'s level: its own override, else "all", else mandatory."""
    given = dict(overrides or {})
    level = given.get(RECHECK, given.get("all", MANDATORY))
    return level.get("enforcementLevel", MANDATORY) if isinstance(level, Mapping) else level


def pack_policies(overrides: Mapping[str, Any] | None = None, rules: Iterable[Rule] = RULES) -> list:
    """The CrossGuard policies of the configured rules, then `resource-rules-recheck`."""
    from .crossguard import policies

    return policies(configured_rules(overrides, rules), recheck_level=recheck_level(overrides))


def serve(
    overrides: Mapping[str, Any] | None = None,
    *,
    name: str = PACK_NAME,
    description: str = DESCRIPTION,
    rules: Iterable[Rule] = RULES,
    version: str | None = None,
) -> None:
    """Serve the pack to the Pulumi CLI (blocks until the CLI is done with it)."""
    from pulumi_policy import PolicyPack

    from .crossguard import report_version, scope_stack_analysis

    scope_stack_analysis()
    if (version := version or pack_version()) is not None:
        report_version(version)
    PolicyPack(name=name, description=description, policies=pack_policies(overrides, rules))

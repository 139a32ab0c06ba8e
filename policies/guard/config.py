"""Policy pack config exactly as `pulumi preview --policy-pack-config FILE` reconciles it.

Mirrors the CLI's ReconcilePolicyPackConfig (pkg/resource/analyzer/config.go): schema defaults, then the
"all" enforcement level, then each policy's string level or {"enforcementLevel", ...properties} object, then
JSON-schema validation. The offline checker is stricter in one way: an unknown rule name or property is an
error here, because a mistyped override would otherwise be ignored silently.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema

from .rule import PACK_ONLY_POLICIES, Rule

LEVELS = ("advisory", "mandatory", "remediate", "disabled")


class ConfigError(ValueError):
    pass


@dataclass(frozen=True)
class RuleConfig:
    enforcement: str
    properties: dict[str, Any] = field(default_factory=dict)


def _split(name: str, given: Any) -> tuple[str | None, dict[str, Any]]:
    if isinstance(given, str):
        level, properties = given, {}
    elif isinstance(given, Mapping):
        properties = dict(given)
        level = properties.pop("enforcementLevel", None)
    else:
        raise ConfigError(f"{name}: {given!r} is neither an enforcement level nor an object")
    if level is not None and level not in LEVELS:
        raise ConfigError(f"{name}: {level!r} is not one of {', '.join(LEVELS)}")
    return level, properties


def reconcile(rules: Iterable[Rule], given: Mapping[str, Any] | None) -> dict[str, RuleConfig]:
    rules = list(rules)
    result = {r.id: RuleConfig(r.enforcement, r.defaults()) for r in rules}
    given = dict(given or {})
    if "all" in given:
        level, _ = _split("all", given.pop("all"))
        if level is not None:
            result = {k: RuleConfig(level, v.properties) for k, v in result.items()}
    for name, value in given.items():
        if name in PACK_ONLY_POLICIES:
            level, properties = _split(name, value)
            if properties:
                raise ConfigError(f"{name}: takes only an enforcement level, not {sorted(properties)}")
            continue
        if name not in result:
            raise ConfigError(f"{name}: no such rule (rules: {', '.join(sorted(result))})")
        level, properties = _split(name, value)
        current = result[name]
        result[name] = RuleConfig(level or current.enforcement, {**current.properties, **properties})
    for r in rules:
        schema = {"type": "object", "properties": dict(r.config_schema), "additionalProperties": False}
        error = jsonschema.exceptions.best_match(_validator(json.dumps(schema, sort_keys=True)).iter_errors(
            result[r.id].properties))
        if error is not None:
            raise ConfigError(f"{r.id}: {error.message}")
    return result


@functools.cache
def _validator(schema_json: str) -> jsonschema.protocols.Validator:
    """What `jsonschema.validate` builds on every call, built once per schema: checking the schema against its
    meta-schema took 17% of the policy and component tests' time (12k reconciles)."""
    schema = json.loads(schema_json)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def load(rules: Iterable[Rule], path: Path | None) -> dict[str, RuleConfig]:
    if path is None:
        return reconcile(rules, None)
    try:
        given = json.loads(path.read_text())
    except ValueError as error:
        raise ConfigError(f"{path} is not JSON ({error})") from None
    if not isinstance(given, Mapping):
        raise ConfigError(f"{path} is not a JSON object of policy names")
    return reconcile(rules, given)

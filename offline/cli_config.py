"""The Pulumi CLI's project/stack config merge, reproduced so offline runs refuse what `pulumi preview` refuses.

Source of the rules (pulumi/pulumi, sdk/go/common/workspace):
- project.go `Project.Validate`: a key cannot have both `default` and `value`; a project-namespaced `array`
  needs `items`; a typed `default` must match its type; a key of another namespace (`aws:region`) may not
  have a `type` or a `default` and must have a `value`. `RewriteShorthandConfigValues` turns `key: 1` into
  `{default: 1}` (project namespace) or `{value: 1}` (other namespaces).
- config.go `mergeConfig`: for every declared key (sorted), not set on the stack and with neither `value` nor
  `default` and in the project's namespace -> collected and reported as one error,
  "Stack '<stack>' is missing configuration value(s) ..."; otherwise `value`/`default` is written into the stack
  config. Keys set on the stack but not declared are accepted as they are.
- config.go `validateStackConfigValue` (then, for every explicitly typed key, with defaults applied): `secret`
  requires an encrypted (`secure:`) stack value ("... must be encrypted as it's secret"); the value must pass
  `ValidateConfigValue` ("... must be of type '<type>'"). Scalars in a stack file are strings to the CLI, so
  `integer` accepts any string `strconv.Atoi` parses, `boolean` only "true"/"false", `string` any scalar;
  lists/maps are JSON objects whose items are checked with their JSON types. There is no `object` type.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

_TYPES = ("string", "integer", "boolean", "array")
_ATOI = re.compile(r"^[+-]?[0-9]+$")


class StackConfigError(Exception):
    """What the CLI prints before it runs any program (project file or stack file refused)."""


def _namespaced_by_project(project: str, key: str) -> bool:
    return ":" not in key or key.startswith(project + ":")


def _full_key(project: str, key: str) -> str:
    return key if ":" in key else f"{project}:{key}"


def _type_name(spec: Mapping[str, Any]) -> str:
    items = spec.get("items")
    if items is not None:
        return f"array<{_type_name(items)}>"
    return str(spec.get("type"))


def validate_config_value(type_name: str, items: Mapping[str, Any] | None, value: Any) -> bool:
    """`workspace.ValidateConfigValue`: the CLI's type check of one (decoded) config value."""
    if type_name == "string":
        return isinstance(value, str)
    if type_name == "integer":
        if isinstance(value, bool):
            return False
        if isinstance(value, int):
            return True
        if isinstance(value, float):
            return math.isfinite(value) and value == math.trunc(value)
        if isinstance(value, str):
            return bool(_ATOI.match(value))
        return False
    if type_name == "boolean":
        return value in ("true", "false") or isinstance(value, bool)
    if not isinstance(value, list) or items is None:
        return False
    return all(validate_config_value(items.get("type", ""), items.get("items"), item) for item in value)


def normalize_project_config(project: str, declared: Mapping[str, Any] | None) -> dict[str, dict[str, Any]]:
    """`RewriteShorthandConfigValues` then `Project.Validate`'s config checks."""
    specs: dict[str, dict[str, Any]] = {}
    for key, spec in (declared or {}).items():
        if not isinstance(spec, dict):
            spec = {"default": spec} if _namespaced_by_project(project, key) else {"value": spec}
        specs[key] = dict(spec)
    for key, spec in specs.items():
        has_default = spec.get("default") is not None
        has_value = spec.get("value") is not None
        typed = spec.get("type") is not None
        if has_default and has_value:
            raise StackConfigError(f"project config '{key}' cannot have both a 'default' and 'value' attribute")
        if _namespaced_by_project(project, key):
            if typed and spec["type"] not in _TYPES:
                raise StackConfigError(f"config '{key}': type must be one of {', '.join(_TYPES)}")
            if typed and spec["type"] == "array" and spec.get("items") is None:
                raise StackConfigError(f"The configuration key '{key}' declares an array "
                                       "but does not specify the underlying type via the 'items' attribute")
            if typed and has_default and not validate_config_value(spec["type"], spec.get("items"), spec["default"]):
                raise StackConfigError(f"The default value specified for configuration key '{key}' is not of "
                                       f"the expected type '{_type_name(spec)}'")
        else:
            if typed:
                raise StackConfigError(f"Configuration key '{key}' is not namespaced by the project and "
                                       "should not define a type")
            if has_default:
                raise StackConfigError(f"Configuration key '{key}' is not namespaced by the project and should not "
                                       "define a default value. Did you mean to use the 'value' attribute instead "
                                       "of 'default'?")
            if not has_value:
                raise StackConfigError(f"Configuration key '{key}' is namespaced and must provide an attribute 'value'")
    return specs


def _format_missing(keys: list[str]) -> str:
    if len(keys) == 1:
        return f"'{keys[0]}'"
    keys = sorted(keys)
    return ", ".join(f"'{k}'" for k in keys[:-2]) + ("" if len(keys) == 2 else ", ") + \
        f"'{keys[-2]}' and '{keys[-1]}'"


def _is_secure(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"secure"}


def _decoded(value: Any) -> Any:
    """What `validateStackConfigValue` type-checks: a scalar stack value is the string the CLI stores."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)) or value is None:
        return "" if value is None else str(value)
    return json.loads(json.dumps(value))  # an object value: its JSON, decoded


def _default_value(value: Any) -> Any:
    """`createConfigValue`: string/int/bool defaults become strings, everything else a JSON object value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int)):
        return str(value)
    return value


def merge_stack_config(project: str, stack: str, declared: Mapping[str, Any] | None,
                       stack_values: Mapping[str, Any]) -> dict[str, Any]:
    """`ValidateStackConfigAndApplyProjectConfig`: the stack's values with project values/defaults applied.

    `stack_values` maps full keys (`ns:key`) to what `Pulumi.<stack>.yaml` holds. Raises StackConfigError with the
    CLI's wording when the CLI would stop before running the program.
    """
    specs = normalize_project_config(project, declared)
    merged = dict(stack_values)
    missing: list[str] = []
    for key in sorted(specs):
        spec = specs[key]
        full = _full_key(project, key)
        if full in merged:
            continue
        if spec.get("value") is not None:
            merged[full] = _default_value(spec["value"])
        elif spec.get("default") is not None:
            merged[full] = _default_value(spec["default"])
        elif full.split(":", 1)[0] == project:
            missing.append(key)
    if missing:
        noun = "value" if len(missing) == 1 else "values"
        raise StackConfigError(f"Stack '{stack}' is missing configuration {noun} {_format_missing(missing)}")
    for key in sorted(specs):
        spec = specs[key]
        if spec.get("type") is None:
            continue
        value = merged[_full_key(project, key)]
        if spec.get("secret") and not _is_secure(value):
            raise StackConfigError(f"Stack '{stack}' with configuration key '{key}' must be encrypted as it's secret")
        if _is_secure(value):
            continue  # offline runs hold no decryption key; the CLI checks the decrypted value
        if not validate_config_value(spec["type"], spec.get("items"), _decoded(value)):
            raise StackConfigError(f"Stack '{stack}' with configuration key '{key}' must be of type "
                                   f"'{_type_name(spec)}'")
    return merged

"""Request validation with the same JSON Schema files API Gateway uses as models.

Lambda code is boto3 + stdlib only, so this is a small validator for the draft-04 subset our schemas use.
A schema using any other keyword is refused when loaded, so the handler can never silently skip a rule
API Gateway enforces; tests check it agrees with the `jsonschema` library on generated documents.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from handlers.common.http import HttpError

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas"

SUPPORTED_KEYWORDS = frozenset(
    {
        "$schema", "title", "description", "type", "properties", "required", "additionalProperties",
        "minLength", "maxLength", "pattern", "format", "enum", "minimum", "maximum", "exclusiveMinimum",
        "exclusiveMaximum", "multipleOf", "items", "minItems", "maxItems", "uniqueItems",
        "minProperties", "maxProperties",
    }
)

# A deliberately strict address shape: one @, a dotted domain, no spaces or control characters.
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
EMAIL_PATTERN = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@" + _LABEL + r"(?:\." + _LABEL + r")+$")


@dataclass(frozen=True)
class Issue:
    path: str
    message: str


def _check_supported(schema: Any, where: str = "#") -> None:
    if not isinstance(schema, dict):
        raise ValueError(f"schema at {where} must be an object")
    unknown = set(schema) - SUPPORTED_KEYWORDS
    if unknown:
        raise ValueError(f"schema at {where} uses unsupported keywords: {sorted(unknown)}")
    if schema.get("format") not in (None, "email"):
        raise ValueError(f"schema at {where} uses unsupported format {schema['format']!r}")
    for name, sub in (schema.get("properties") or {}).items():
        _check_supported(sub, f"{where}/properties/{name}")
    if isinstance(schema.get("items"), dict):
        _check_supported(schema["items"], f"{where}/items")
    if isinstance(schema.get("additionalProperties"), dict):
        raise ValueError(f"schema at {where}: additionalProperties must be a boolean")


@cache
def load_schema(name: str) -> dict[str, Any]:
    """Load `handlers/schemas/<name>.json` (the file packaged with the function) and check it is supported."""
    schema = json.loads((SCHEMA_DIR / f"{name}.json").read_text())
    _check_supported(schema)
    return schema


def _type_ok(value: Any, expected: str) -> bool:
    if expected == "object":
        return isinstance(value, dict)
    if expected == "array":
        return isinstance(value, list)
    if expected == "string":
        return isinstance(value, str)
    if expected == "boolean":
        return isinstance(value, bool)
    if expected == "null":
        return value is None
    if expected == "integer":
        # draft-04: 1.0 is a number, not an integer.
        return isinstance(value, int) and not isinstance(value, bool)
    if expected == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    raise ValueError(f"unknown type {expected!r}")


def _numeric(value: Any, schema: dict[str, Any], path: str) -> list[Issue]:
    issues = []
    if "minimum" in schema:
        low = schema["minimum"]
        if value < low or (schema.get("exclusiveMinimum") and value == low):
            issues.append(Issue(path, f"must be {'>' if schema.get('exclusiveMinimum') else '>='} {low}"))
    if "maximum" in schema:
        high = schema["maximum"]
        if value > high or (schema.get("exclusiveMaximum") and value == high):
            issues.append(Issue(path, f"must be {'<' if schema.get('exclusiveMaximum') else '<='} {high}"))
    if "multipleOf" in schema:
        divisor = schema["multipleOf"]
        # Same arithmetic as the jsonschema library, so both sides agree on float edge cases.
        if isinstance(divisor, float):
            quotient = value / divisor
            try:
                failed = int(quotient) != quotient
            except OverflowError:
                failed = True
        else:
            failed = bool(value % divisor)
        if failed:
            issues.append(Issue(path, f"must be a multiple of {divisor}"))
    return issues


@cache
def ecma_pattern(pattern: str) -> re.Pattern[str]:
    """`pattern` with JSON Schema's (ECMA 262) meaning of `$`: the end of the string. Python's `$` also matches
    before a final newline, which would let "Ann\\n" through a pattern that forbids control characters."""
    out, in_class, i = [], False, 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            out.append(pattern[i : i + 2])
            i += 2
            continue
        if in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
            # A ']' right after '[' or '[^' is a literal, not the end of the class.
            start = i + 2 if pattern[i + 1 : i + 2] == "^" else i + 1
            if pattern[start : start + 1] == "]":
                out.append(pattern[i : start + 1])
                i = start + 1
                continue
        elif ch == "$":
            ch = r"\Z"
        out.append(ch)
        i += 1
    return re.compile("".join(out))


def _string(value: str, schema: dict[str, Any], path: str) -> list[Issue]:
    issues = []
    if "minLength" in schema and len(value) < schema["minLength"]:
        issues.append(Issue(path, f"must be at least {schema['minLength']} characters"))
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        issues.append(Issue(path, f"must be at most {schema['maxLength']} characters"))
    if "pattern" in schema and not ecma_pattern(schema["pattern"]).search(value):
        issues.append(Issue(path, "has an invalid format"))
    if schema.get("format") == "email" and not EMAIL_PATTERN.fullmatch(value):
        issues.append(Issue(path, "must be an email address"))
    return issues


def _array(value: list, schema: dict[str, Any], path: str) -> list[Issue]:
    issues = []
    if "minItems" in schema and len(value) < schema["minItems"]:
        issues.append(Issue(path, f"must have at least {schema['minItems']} items"))
    if "maxItems" in schema and len(value) > schema["maxItems"]:
        issues.append(Issue(path, f"must have at most {schema['maxItems']} items"))
    if schema.get("uniqueItems"):
        seen = [json.dumps(v, sort_keys=True) for v in value]
        if len(seen) != len(set(seen)):
            issues.append(Issue(path, "must not contain duplicate items"))
    if isinstance(schema.get("items"), dict):
        for index, item in enumerate(value):
            issues.extend(validate(item, schema["items"], f"{path}[{index}]"))
    return issues


def _object(value: dict, schema: dict[str, Any], path: str) -> list[Issue]:
    issues = []
    properties = schema.get("properties") or {}
    for name in schema.get("required") or []:
        if name not in value:
            issues.append(Issue(_join(path, name), "is required"))
    if schema.get("additionalProperties") is False:
        for name in value:
            if name not in properties:
                issues.append(Issue(_join(path, name), "is not allowed"))
    if "minProperties" in schema and len(value) < schema["minProperties"]:
        issues.append(Issue(path, f"must have at least {schema['minProperties']} properties"))
    if "maxProperties" in schema and len(value) > schema["maxProperties"]:
        issues.append(Issue(path, f"must have at most {schema['maxProperties']} properties"))
    for name, sub in properties.items():
        if name in value:
            issues.extend(validate(value[name], sub, _join(path, name)))
    return issues


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def validate(instance: Any, schema: dict[str, Any], path: str = "") -> list[Issue]:
    """Every way `instance` breaks `schema`; empty when valid."""
    expected = schema.get("type")
    if expected is not None:
        types = expected if isinstance(expected, list) else [expected]
        if not any(_type_ok(instance, t) for t in types):
            return [Issue(path or "body", f"must be of type {' or '.join(types)}")]
    issues: list[Issue] = []
    if "enum" in schema and instance not in schema["enum"]:
        issues.append(Issue(path or "body", f"must be one of {schema['enum']}"))
    if isinstance(instance, (int, float)) and not isinstance(instance, bool):
        issues.extend(_numeric(instance, schema, path or "body"))
    elif isinstance(instance, str):
        issues.extend(_string(instance, schema, path or "body"))
    elif isinstance(instance, list):
        issues.extend(_array(instance, schema, path or "body"))
    elif isinstance(instance, dict):
        issues.extend(_object(instance, schema, path))
    return issues


def require_valid(instance: Any, schema_name: str) -> Any:
    """400 naming the first offending field; the instance itself when valid."""
    issues = validate(instance, load_schema(schema_name))
    if issues:
        first = issues[0]
        raise HttpError(400, "validation_error", f"{first.path} {first.message}")
    return instance

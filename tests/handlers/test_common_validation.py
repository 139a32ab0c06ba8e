"""The stdlib validator in handlers/common agrees with the jsonschema library on every schema we ship."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema

from handlers.common.http import HttpError
from handlers.common.validation import _check_supported, load_schema, require_valid, validate
from tests.hypothesis_budget import examples

SCHEMAS = sorted(p.stem for p in (Path(__file__).resolve().parents[2] / "handlers" / "schemas").glob("*.json"))

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=12,
)


def test_there_are_schemas_and_each_is_draft_04() -> None:
    assert SCHEMAS
    for name in SCHEMAS:
        schema = load_schema(name)
        assert schema["$schema"] == "http://json-schema.org/draft-04/schema#", name
        jsonschema.Draft4Validator.check_schema(schema)


@pytest.mark.parametrize("name", SCHEMAS)
def test_generated_valid_documents_pass(name) -> None:
    schema = load_schema(name)

    # A budget of 40 valid documents per schema (x every schema we ship): from_schema draws cost ~50 ms each here.
    @settings(max_examples=examples(40), deadline=None, suppress_health_check=list(HealthCheck))
    @given(from_schema(schema))
    def check(document):
        assert validate(document, schema) == []

    check()


def _ecma_pattern(validator, pattern, instance, schema):
    """jsonschema's `pattern` uses Python's re.search, whose `$` also matches before a final newline; JSON Schema
    means ECMA 262, where `$` is the end of the string (outside character classes, our schemas use `$` only as
    the final anchor; the address grammar has a literal `$` inside a class)."""
    anchored = pattern[:-1] + r"\Z" if pattern.endswith("$") and not pattern.endswith(r"\$") else pattern
    if validator.is_type(instance, "string") and not re.search(anchored, instance):
        yield jsonschema.ValidationError(f"{instance!r} does not match {pattern!r}")


EcmaDraft4Validator = jsonschema.validators.extend(jsonschema.Draft4Validator, {"pattern": _ecma_pattern})


@pytest.mark.parametrize("name", SCHEMAS)
def test_arbitrary_documents_are_judged_like_jsonschema(name) -> None:
    schema = load_schema(name)
    reference = EcmaDraft4Validator(schema, format_checker=None)
    properties = schema.get("properties") or {}

    # Mutate valid-looking objects field by field so the interesting branches are reached, not only type errors.
    documents = st.one_of(
        json_values,
        st.fixed_dictionaries({k: json_values for k in properties}),
        from_schema(schema).flatmap(
            lambda valid: st.sampled_from(sorted(valid) or [""]).flatmap(
                lambda key: json_values.map(lambda v: {**valid, key: v} if key else valid)
            )
        ),
    )

    # A budget of 100 per schema (x every schema we ship), a third of them mutated valid documents.
    @settings(max_examples=examples(100), deadline=None, suppress_health_check=list(HealthCheck))
    @given(documents)
    def check(document):
        ours = validate(document, schema) == []
        theirs = reference.is_valid(document)
        if schema_uses_email(schema):
            # jsonschema does not check `format` without a checker; ours is stricter on purpose.
            assert not (ours and not theirs)
        else:
            assert ours == theirs, (document, validate(document, schema))

    check()


def schema_uses_email(schema) -> bool:
    return '"format": "email"' in json.dumps(schema)


def test_unsupported_keywords_are_refused_at_load() -> None:
    with pytest.raises(ValueError, match="unsupported keywords"):
        _check_supported({"type": "object", "properties": {"a": {"oneOf": []}}})
    with pytest.raises(ValueError, match="unsupported format"):
        _check_supported({"type": "string", "format": "uri"})


def test_require_valid_names_the_field() -> None:
    schema = SCHEMAS[0]
    with pytest.raises(HttpError) as error:
        require_valid([], schema)
    assert error.value.status == 400 and error.value.code == "validation_error"


def test_draft4_integers_and_booleans() -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer", "minimum": 1}}, "required": ["n"]}
    assert validate({"n": 1}, schema) == []
    assert validate({"n": 1.0}, schema) != []
    assert validate({"n": True}, schema) != []
    assert validate({}, schema)[0].path == "n"


@pytest.mark.parametrize(
    ("schema", "value"),
    [
        ("register_confirm", {"email": "ann@example.org", "code": "123456", "password": "Correct-Horse-9",
                              "name": "Ann\n"}),
        ("register", {"email": "ann@example.org\n"}),
        ("order", {"currency": "USD", "items": [{"sku": "A-1\n", "name": "x", "qty": 1, "unitPrice": "1.00"}]}),
        ("email_job", {"template": "WelcomeEmail\n", "to": ["ann@example.org"], "data": {}}),
    ],
    ids=["name", "email", "sku", "template"],
)
def test_a_trailing_newline_does_not_satisfy_a_pattern_anchored_with_dollar(schema, value) -> None:
    """JSON Schema patterns are ECMA 262: `$` is the end of the string, not "before a final newline" as in Python
    (which let "Ann\\n" through the name pattern that refuses control characters)."""
    assert [issue.message for issue in validate(value, load_schema(schema))] == ["has an invalid format"]


def test_dollar_is_translated_only_where_it_is_an_anchor() -> None:
    assert validate("a$", {"type": "string", "pattern": "^a\\$$"}) == []
    assert validate("$", {"type": "string", "pattern": "^[$]$"}) == []
    assert validate("]$", {"type": "string", "pattern": "^[]$]+$"}) == []
    assert validate("a$\n", {"type": "string", "pattern": "^a\\$$"}) != []

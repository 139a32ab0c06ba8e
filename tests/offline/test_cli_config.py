"""The CLI's config merge (pulumi/pulumi sdk/go/common/workspace config.go / project.go), applied offline.

`test_every_stack_file_passes_the_cli_config_rules` fails on the Pulumi.yaml of main before this change (16 keys
declared with a type and no default: "Stack 'dev' is missing configuration values ...").
"""

from __future__ import annotations

import pytest
import yaml

from offline.cli_config import StackConfigError, merge_stack_config, normalize_project_config, validate_config_value
from offline.runtime import REPO_ROOT, stack_config, stacks


@pytest.mark.parametrize("stack", stacks())
def test_every_stack_file_passes_the_cli_config_rules(stack: str) -> None:
    project, values = stack_config(stack)
    declared = yaml.safe_load((REPO_ROOT / "Pulumi.yaml").read_text())["config"]
    for key, spec in declared.items():
        assert spec.get("default") is not None, f"{key} is declared without a default: the CLI requires it"
        assert f"{project}:{key}" in values


def test_the_project_file_passes_the_cli_project_validation() -> None:
    project_file = yaml.safe_load((REPO_ROOT / "Pulumi.yaml").read_text())
    specs = normalize_project_config(project_file["name"], project_file["config"])
    assert all(spec.get("type") in {"string", "integer", "boolean", "array"} for spec in specs.values())


DECLARED = {
    "size": {"type": "integer"},
    "name": {"type": "string", "default": "x"},
    "flags": {"type": "array", "items": {"type": "string"}, "default": []},
    "token": {"type": "string", "secret": True, "default": "t"},
    "aws:region": {"value": "us-east-1"},
}


def test_a_declared_key_without_default_that_the_stack_does_not_set_stops_the_run() -> None:
    with pytest.raises(StackConfigError, match=r"^Stack 'dev' is missing configuration value 'size'$"):
        merge_stack_config("p", "dev", {"size": {"type": "integer"}}, {})
    with pytest.raises(StackConfigError, match=r"^Stack 'prod' is missing configuration values 'a', 'b' and 'c'$"):
        merge_stack_config("p", "prod", {k: {"type": "string"} for k in "cab"}, {})


def test_defaults_values_and_undeclared_keys_merge_like_the_cli() -> None:
    merged = merge_stack_config("p", "dev", {**DECLARED, "token": {"type": "string"}},
                                {"p:size": 3, "p:extra": "kept", "p:token": "s"})
    assert merged == {"p:size": 3, "p:extra": "kept", "p:token": "s", "p:name": "x", "p:flags": [],
                      "aws:region": "us-east-1"}


@pytest.mark.parametrize(("stack_value", "message"), [
    ("seven", "'size' must be of type 'integer'"),
    (7.5, "'size' must be of type 'integer'"),
    ([1], "'size' must be of type 'integer'"),
])
def test_stack_values_are_type_checked(stack_value, message) -> None:
    with pytest.raises(StackConfigError, match=f"Stack 'dev' with configuration key {message}"):
        merge_stack_config("p", "dev", {"size": {"type": "integer"}}, {"p:size": stack_value})


def test_type_rules_follow_validate_config_value() -> None:
    assert validate_config_value("integer", None, "42") and validate_config_value("integer", None, 3.0)
    assert not validate_config_value("integer", None, "4.2") and not validate_config_value("integer", None, True)
    assert validate_config_value("boolean", None, "true") and not validate_config_value("boolean", None, "yes")
    assert validate_config_value("string", None, "7")
    assert validate_config_value("array", {"type": "string"}, ["a"])
    assert not validate_config_value("array", {"type": "string"}, [1])
    assert not validate_config_value("object", None, {"a": "b"})  # the CLI has no object type


def test_secret_keys_need_an_encrypted_value() -> None:
    spec = {"token": {"type": "string", "secret": True}}
    with pytest.raises(StackConfigError, match="'token' must be encrypted as it's secret"):
        merge_stack_config("p", "dev", spec, {"p:token": "plain"})
    assert merge_stack_config("p", "dev", spec, {"p:token": {"secure": "v1:abc"}})["p:token"] == {"secure": "v1:abc"}


@pytest.mark.parametrize(("declared", "message"), [
    ({"a": {"type": "string", "default": "x", "value": "y"}}, "cannot have both a 'default' and 'value'"),
    ({"a": {"type": "array"}}, "declares an array but does not specify the underlying type"),
    ({"a": {"type": "integer", "default": "x"}}, "default value specified for configuration key 'a' is not of"),
    ({"aws:region": {"type": "string", "value": "x"}}, "not namespaced by the project and should not define a type"),
    ({"aws:region": {"default": "x"}}, "should not define a default value"),
])
def test_project_declarations_are_validated(declared, message) -> None:
    with pytest.raises(StackConfigError, match=message):
        normalize_project_config("p", declared)


def test_removing_a_key_with_a_default_falls_back_to_the_default() -> None:
    _, values = stack_config("prod", REPO_ROOT, {"logRetentionDays": None})
    assert values["secure-serverless:logRetentionDays"] == "14"

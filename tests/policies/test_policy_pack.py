"""The pack as a product: built from a function that takes overrides; the application's facts live in its config."""

from __future__ import annotations

import json

import pytest
from pulumi_policy import EnforcementLevel

from offline.runtime import REPO_ROOT
from policies.guard import RULES, RULES_BY_ID
from policies.guard.config import ConfigError, reconcile
from policies.guard.engine import evaluate
from policies.guard.pack import configured_rules, pack_policies, pack_version, recheck_level
from policies.guard.rule import RECHECK
from tests.policies.policy_builders import app_config, fired, reference_graph, with_props

AUTHORIZER = "apigateway-method-requires-authorizer"


def test_no_application_fact_in_rule_defaults():
    assert RULES_BY_ID[AUTHORIZER].defaults()["publicRoutes"] == []
    assert RULES_BY_ID["apigatewayv2-route-requires-authorizer"].defaults()["publicRoutes"] == []
    for path in sorted((REPO_ROOT / "policies" / "config").glob("*.json")):
        config = json.loads(path.read_text())
        assert config[AUTHORIZER]["publicRoutes"] == ["GET /health", "POST /register"], path.name
    # Without its config the app's public routes are just open routes.
    assert fired(reference_graph(), {AUTHORIZER: {"publicRoutes": []}})[AUTHORIZER] == {"api-get-health",
                                                                                     "api-post-register"}


def test_overrides_become_the_pack_defaults():
    overrides = {"all": "mandatory", "cognito-password-policy": {"minimumLength": 16},
                 AUTHORIZER: {"publicRoutes": ["GET /health"]}, "xray-tracing-enabled": "disabled"}
    rules = {r.id: r for r in configured_rules(overrides)}
    assert rules["sqs-queue-encrypted"].enforcement == "mandatory"
    assert rules["xray-tracing-enabled"].enforcement == "disabled"
    assert rules["cognito-password-policy"].defaults()["minimumLength"] == 16
    assert rules[AUTHORIZER].defaults()["publicRoutes"] == ["GET /health"]
    assert RULES_BY_ID[AUTHORIZER].defaults()["publicRoutes"] == []  # the shared rules are not changed
    policies = {p.name: p for p in pack_policies(overrides)}
    assert policies["sqs-queue-encrypted"].enforcement_level == EnforcementLevel.MANDATORY
    assert policies[AUTHORIZER].config_schema.properties["publicRoutes"]["default"] == ["GET /health"]
    assert policies[RECHECK].enforcement_level == EnforcementLevel.MANDATORY


def test_overrides_and_a_config_file_give_the_same_verdicts():
    graph = with_props(reference_graph(), "stream", encryptionType="NONE")
    overrides = app_config({"all": "mandatory"})
    by_overrides = evaluate(graph, configured_rules(overrides), reconcile(configured_rules(overrides), None))
    by_file = evaluate(graph, RULES, reconcile(RULES, overrides))
    assert by_overrides.findings == by_file.findings
    assert [f.rule for f in by_file.mandatory] == ["kinesis-stream-encrypted"]


@pytest.mark.parametrize("bad", [{"no-such-rule": "mandatory"}, {"all": "sometimes"},
                                 {AUTHORIZER: {"publicRoutes": ["health"]}}, {RECHECK: {"factor": 2}}])
def test_bad_overrides_are_refused(bad):
    with pytest.raises(ConfigError):
        configured_rules(bad)


def test_recheck_level():
    assert recheck_level(None) == "mandatory"
    assert recheck_level({"all": "advisory"}) == "advisory"
    assert recheck_level({"all": "advisory", RECHECK: "mandatory"}) == "mandatory"
    assert {p.name: p for p in pack_policies({"all": "advisory"})}[RECHECK].enforcement_level == EnforcementLevel.ADVISORY


def test_pack_version_is_read_from_pulumi_policy_yaml():
    assert pack_version() == "0.2.0"

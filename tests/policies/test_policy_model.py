"""One model from every source: state files, preview JSON, CrossGuard arguments and our program under mocks;
pack config reconciled as the CLI does; unknowns counted apart from verdicts."""

from __future__ import annotations

import asyncio
import json

import pulumi
import pulumi_aws as aws
import pytest
from pulumi_policy import PolicyResource, PolicyResourceOptions, ResourceValidationArgs
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, unknown_checking_proxy

from offline.runtime import REPO_ROOT, run_program
from policies.guard import RULES
from policies.guard.adapters import (
    from_preview_json,
    from_program_run,
    from_resource_args,
    from_stack_export,
    from_stack_resources,
)
from policies.guard.config import ConfigError, reconcile
from policies.guard.engine import evaluate
from policies.guard.model import UNKNOWN
from tests.policies.policy_builders import LAMBDA_TRUST, allow, app_config, document, fired

STACK = "urn:pulumi:dev::secure-serverless"
ROLE_URN = f"{STACK}::aws:iam/role:Role::worker"
POLICY_URN = f"{STACK}::aws:iam/rolePolicy:RolePolicy::worker-policy"
SECRET = "4dabf18193072939515e22adb298388d"


def state_resource(urn: str, type_: str, inputs: dict, outputs: dict | None = None, **extra) -> dict:
    return {"urn": urn, "type": type_, "custom": True, "inputs": inputs, "outputs": outputs or dict(inputs), **extra}


def worker_state(policy) -> list[dict]:
    return [
        state_resource(ROLE_URN, "aws:iam/role:Role", {"assumeRolePolicy": json.dumps(LAMBDA_TRUST), "name": "worker"},
                       id="worker"),
        state_resource(POLICY_URN, "aws:iam/rolePolicy:RolePolicy", {"role": "worker", "policy": policy},
                       dependencies=[ROLE_URN], propertyDependencies={"role": [ROLE_URN]}),
    ]


def test_stack_export_v3_with_and_without_the_wrapper():
    resources = worker_state(json.dumps(document(allow("s3:*", "arn:aws:s3:::bucket"))))
    for exported in ({"version": 3, "deployment": {"manifest": {}, "resources": resources}}, {"resources": resources}):
        graph = from_stack_export(exported)
        assert [r.type for r in graph.resources] == ["aws:iam/role:Role", "aws:iam/rolePolicy:RolePolicy"]
        assert graph.by_urn[POLICY_URN].property_dependencies == {"role": (ROLE_URN,)}
        assert fired(graph) == {"iam-no-wildcard-actions": {"worker-policy"}}


def test_outputs_win_over_inputs_unless_unknown():
    resource = state_resource(ROLE_URN, "aws:iam/role:Role", {"name": "worker", "path": "/"},
                              {"name": "worker", "path": UNKNOWN_STRING_VALUE, "arn": "arn:aws:iam::1:role/worker"})
    (role,) = from_stack_export({"resources": [resource]}).resources
    assert role.props == {"name": "worker", "path": "/", "arn": "arn:aws:iam::1:role/worker"}


def test_secrets_open_when_readable_and_are_unknown_otherwise():
    plain = {SECRET: "1b47061264138c4ac30d75fd1eb44270", "plaintext": json.dumps(json.dumps(document(allow("*", "*"))))}
    cipher = {SECRET: "1b47061264138c4ac30d75fd1eb44270", "ciphertext": "AAABA..."}
    assert fired(from_stack_export({"resources": worker_state(plain)})) == {
        "iam-no-wildcard-actions": {"worker-policy"}, "iam-no-wildcard-resources": {"worker-policy"},
        "iam-no-privilege-escalation": {"worker"}}
    report = evaluate(from_stack_export({"resources": worker_state(cipher)}), RULES, reconcile(RULES, app_config()))
    assert report.mandatory == [] and {f.rule for f in report.unverifiable} >= {"iam-no-wildcard-actions"}


def preview(*steps: dict) -> dict:
    return {"config": {}, "steps": list(steps), "diagnostics": [], "changeSummary": {"create": len(steps)}}


def test_preview_json_unknowns_are_counted_apart_not_passed():
    role, policy = worker_state(UNKNOWN_STRING_VALUE)
    document_ = preview(
        {"op": "create", "urn": ROLE_URN, "newState": role},
        {"op": "create", "urn": POLICY_URN, "newState": policy},
        {"op": "delete", "urn": f"{STACK}::aws:iam/role:Role::old", "oldState": role},
    )
    graph = from_preview_json(document_)
    assert [r.urn for r in graph.resources] == [ROLE_URN, POLICY_URN]
    assert graph.by_urn[POLICY_URN].props["policy"] is UNKNOWN
    report = evaluate(graph, RULES, reconcile(RULES, app_config()))
    assert report.passed and report.mandatory == []
    assert {(f.rule, f.urn) for f in report.unverifiable} == {
        ("iam-no-wildcard-actions", POLICY_URN), ("iam-no-wildcard-resources", POLICY_URN),
        ("iam-no-privilege-escalation", ROLE_URN)}


def test_preview_json_replacement_steps_count_once():
    role, _ = worker_state("{}")
    steps = [{"op": op, "urn": ROLE_URN, "newState": role} for op in ("create-replacement", "replace")]
    assert len(from_preview_json(preview(*steps))) == 1


def test_crossguard_arguments_are_read_through_the_sdk_proxies():
    raw = {"role": "worker", "policy": UNKNOWN_STRING_VALUE, "tags": {"team": UNKNOWN_STRING_VALUE}}
    options = PolicyResourceOptions(False, [], None, [], None, [], "urn:parent")
    args = ResourceValidationArgs("aws:iam/rolePolicy:RolePolicy", unknown_checking_proxy(raw), POLICY_URN,
                                  "worker-policy", options, None)
    resource = from_resource_args(args)
    assert resource.props == {"role": "worker", "policy": UNKNOWN, "tags": {"team": UNKNOWN}}
    assert resource.parent == "urn:parent" and resource.name == "worker-policy"

    role = PolicyResource("aws:iam/role:Role", unknown_checking_proxy({"name": "worker"}), ROLE_URN, "worker",
                          options, None, None, [], {})
    policy = PolicyResource("aws:iam/rolePolicy:RolePolicy", unknown_checking_proxy(raw), POLICY_URN, "worker-policy",
                            options, None, role, [role], {"role": [role]})
    graph = from_stack_resources([role, policy])
    assert graph.by_urn[POLICY_URN].property_dependencies == {"role": (ROLE_URN,)}
    assert graph.by_urn[POLICY_URN].parent == ROLE_URN


def _unknown_output() -> pulumi.Output:
    async def value():
        return None

    async def known():
        return False

    return pulumi.Output(set(), asyncio.ensure_future(value()), asyncio.ensure_future(known()))


@pytest.mark.parametrize("preview_run", [False, True])
def test_a_program_run_under_mocks(preview_run):
    def program():
        role = aws.iam.Role("worker", assume_role_policy=json.dumps(LAMBDA_TRUST))
        statements = [aws.iam.GetPolicyDocumentStatementArgs(actions=["sqs:*"], resources=["*"])]
        policy = _unknown_output() if preview_run else aws.iam.get_policy_document_output(statements=statements).json
        aws.iam.RolePolicy("worker-policy", role=role.id, policy=policy)

    graph = from_program_run(run_program(program, project="p", stack="dev", preview=preview_run))
    policy = next(r for r in graph.resources if r.type == "aws:iam/rolePolicy:RolePolicy")
    roles = graph.referenced(policy, "role", {"aws:iam/role:Role"})
    assert [r.urn for r in roles] == ["urn:pulumi:dev::p::aws:iam/role:Role::worker"]
    report = evaluate(graph, RULES, reconcile(RULES, app_config()))
    if preview_run:
        assert policy.props["policy"] is UNKNOWN
        assert report.mandatory == [] and report.unverifiable
    else:
        assert {f.rule for f in report.mandatory} == {"iam-no-wildcard-actions", "iam-no-wildcard-resources"}


# --- config, as `--policy-pack-config FILE` ------------------------------------------------------------------


def test_config_defaults_levels_and_properties():
    defaults = reconcile(RULES, app_config())
    assert defaults["apigateway-method-requires-authorizer"].enforcement == "mandatory"
    assert defaults["apigateway-method-requires-authorizer"].properties["publicRoutes"] == ["GET /health", "POST /register"]
    assert defaults["sqs-queue-has-dlq"].enforcement == "advisory"
    given = reconcile(RULES, {
        "all": "advisory",
        "iam-no-wildcard-actions": "mandatory",
        "cognito-password-policy": {"enforcementLevel": "mandatory", "minimumLength": 14},
        "lambda-permission-scoped": {"allowWholeApi": True},
    })
    assert given["iam-no-wildcard-resources"].enforcement == "advisory"
    assert given["iam-no-wildcard-actions"].enforcement == "mandatory"
    assert given["cognito-password-policy"].enforcement == "mandatory"
    assert given["cognito-password-policy"].properties == {"minimumLength": 14, "exemptResources": []}
    assert given["lambda-permission-scoped"].properties == {
        "allowWholeApi": True, "sourceAccountRequiredFor": ["s3.amazonaws.com"], "exemptResources": []}


@pytest.mark.parametrize(
    "bad",
    [{"no-such-rule": "mandatory"}, {"iam-trust-scoped": "sometimes"}, {"cognito-password-policy": {"minimumLength": 3}},
     {"apigateway-method-requires-authorizer": {"publicRoutes": ["health"]}}, {"iam-trust-scoped": {"typo": 1}}, {"all": 3}],
)
def test_config_errors(bad):
    with pytest.raises(ConfigError):
        reconcile(RULES, bad)


def test_disabled_and_remediate_levels(reference):
    from tests.policies.policy_builders import with_props

    graph = with_props(reference, "stream", encryptionType="NONE")
    assert evaluate(graph, RULES, reconcile(RULES, app_config({"kinesis-stream-encrypted": "disabled"}))).findings == ()
    (finding,) = evaluate(graph, RULES, reconcile(RULES, app_config({"kinesis-stream-encrypted": "remediate"}))).findings
    assert finding.enforcement == "mandatory"


def test_every_rule_is_documented_and_configurable():
    ids = [r.id for r in RULES]
    assert len(ids) == len(set(ids)) == 38
    readme = (REPO_ROOT / "policies" / "README.md").read_text()
    assert [i for i in ids if f"| `{i}` |" not in readme] == []
    for r in RULES:
        assert r.description and r.remediation and r.enforcement in ("mandatory", "advisory") and r.types
        for name, schema in r.config_schema.items():
            assert "default" in schema and "description" in schema, (r.id, name)


def test_every_rule_takes_named_exceptions(reference):
    from tests.policies.policy_builders import findings, with_props

    graph = with_props(with_props(reference, "stream", encryptionType="NONE"), "api-get-orders", authorization="NONE")
    assert {f.rule for f in findings(graph)} == {"kinesis-stream-encrypted", "apigateway-method-requires-authorizer"}
    exempt = {"kinesis-stream-encrypted": {"exemptResources": ["str*"]},
              "apigateway-method-requires-authorizer": {"exemptResources": ["api-get-orders"]}}
    assert findings(graph, config=exempt) == []

"""Provider-faithful mocks: pulumi-aws auto-names and the AWS API constraints of botocore's service models.

`test_an_old_style_permission_is_refused_like_aws_refuses_it` is finding 2 of issue 9: on the code before the fix
(no explicit statement id) every stack evaluation fails with the same refusal.
"""

from __future__ import annotations

import re

import pulumi
import pulumi_aws as aws
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pulumi.runtime import rpc

from components.naming import STATEMENT_ID_MAX, statement_id
from offline.autonaming import AUTO_NAMED, AutoNameError, auto_name, random_hex
from offline.aws_constraints import (
    DOCUMENTED,
    NOTHING_TO_CHECK,
    TABLE,
    _compiled,
    _session,
    constraints,
    load_models,
    operation_input,
    resolve,
    violations,
)
from offline.runtime import stacks
from tests.evaluations import run_stack  # shared, read-only evaluations

STATEMENT_ID = re.compile(r"^[a-zA-Z0-9-_]+$")


@pytest.fixture(scope="module")
def runs():
    return {stack: run_stack(stack) for stack in stacks()}


# --------------------------------------------------------------------------------------------- the table


@pytest.mark.parametrize(("type_", "param"), [(t, p) for t, params in TABLE.items() for p in params],
                         ids=lambda v: getattr(v, "prop", v))
def test_every_table_entry_resolves_to_a_real_botocore_shape(type_, param) -> None:
    shape = resolve(param)
    found = constraints(shape)
    for key in ("pattern", "item pattern"):
        if key in found:
            _compiled(found[key])  # every AWS pattern compiles (Java classes such as \p{L} included)


def test_every_resource_type_the_stacks_create_is_covered_or_listed(runs) -> None:
    created = {r.type for run in runs.values() for r in run.resources if r.custom}
    assert not set(TABLE) & set(NOTHING_TO_CHECK)
    assert created <= set(TABLE) | set(NOTHING_TO_CHECK), created - set(TABLE) - set(NOTHING_TO_CHECK)
    assert len(created) >= 35
    # every auto-named property is checked too
    for type_, rule in AUTO_NAMED.items():
        assert rule.prop in {p.prop for p in TABLE[type_]}, type_


def test_name_like_enum_and_numeric_properties_the_stacks_set_are_checked(runs) -> None:
    """Every recorded name/id/path, enum-valued and numeric input of the stacks maps to a constrained parameter,
    unless botocore publishes no constraint for it (then it is still mapped)."""
    mapped = {(t, p.prop.split("[]")[0].split(".")[0]) for t, params in TABLE.items() for p in params}
    unmapped = set()
    name_like = re.compile(r"(name|Name|Id|id|path|Path|Type|type|mode|Mode|Policy|Source|Units|statement)")
    for run in runs.values():
        for r in run.resources:
            if not r.custom or r.type in NOTHING_TO_CHECK:
                continue
            for key, value in r.inputs.items():
                if isinstance(value, (bool, dict)):
                    continue  # flags and nested blocks: their leaves are mapped one by one
                numeric = isinstance(value, (int, float))
                if (numeric or name_like.search(key)) and (r.type, key) not in mapped:
                    unmapped.add((r.type, key))
    # Ids/ARNs of other resources of this program (checked where those are created); properties the provider
    # sends inside maps or documents that botocore does not constrain (SQS queue attributes, policies).
    allowed = {"restApi", "restApiId", "resourceId", "parentId", "authorizerId", "requestValidatorId", "keyId",
               "usagePlanId", "deployment", "userPoolId", "role", "function", "functionName", "bucket", "queueUrl",
               "configurationSetName", "requestModels", "requestParameters", "responseParameters",
               "responseTemplates", "requestTemplates", "stageName", "methodPath", "redriveAllowPolicy",
               "redrivePolicy", "sqsManagedSseEnabled", "messageRetentionSeconds", "receiveWaitTimeSeconds",
               "visibilityTimeoutSeconds", "assumeRolePolicy", "policy", "sourceArn", "eventSourceArn"}
    assert {(t, k) for t, k in unmapped if k not in allowed} == set()


# ------------------------------------------------------------------------------------- the validation


def test_an_old_style_permission_is_refused_like_aws_refuses_it(run_pulumi) -> None:
    def program():
        aws.lambda_.Permission("api-GET-/orders/{orderId}-permission", action="lambda:InvokeFunction",
                               function="fn", principal="apigateway.amazonaws.com")

    with pytest.raises(Exception, match=r"'statementId' = 'api-GET-/orders/\{orderId\}-permission-[0-9a-f]{7}' "
                                        r"violates lambda:AddPermission StatementId: pattern"):
        run_pulumi(program)


@pytest.mark.parametrize(("type_", "inputs", "message"), [
    ("aws:lambda/function:Function", {"name": "f", "role": "arn:aws:iam::123456789012:role/r", "memorySize": 64},
     "'memorySize' = 64 violates lambda:CreateFunction MemorySize: >= 128"),
    ("aws:lambda/function:Function", {"name": "my.fn", "role": "arn:aws:iam::123456789012:role/r"},
     "'name' = 'my.fn' violates lambda:CreateFunction FunctionName: pattern"),
    ("aws:apigateway/integration:Integration", {"type": "LAMBDA", "httpMethod": "GET"},
     "'type' = 'LAMBDA' violates apigateway:PutIntegration type: one of HTTP, AWS, MOCK"),
    ("aws:cognito/userPool:UserPool", {"name": "p", "passwordPolicy": {"minimumLength": 5}},
     "'passwordPolicy.minimumLength' = 5 violates cognito-idp:CreateUserPool Policies.PasswordPolicy.MinimumLength"),
    ("aws:lambda/function:Function", {"name": "f", "role": "arn:aws:iam::123456789012:role/r",
                                      "architectures": ["arm64", "x86_64"]}, "at most 1 item"),
    ("aws:iam/rolePolicy:RolePolicy", {"name": "p" * 129, "role": "r", "policy": "{}"},
     "violates iam:PutRolePolicy PolicyName: length <= 128"),
    ("aws:apigateway/restApi:RestApi", {"name": "a", "endpointConfiguration": {"types": "GLOBAL"}},
     "endpointConfiguration.types"),
    ("aws:lambda/permission:Permission", {"function": "f", "principal": "s3.amazonaws.com", "statementId": "s"},
     "property 'action' is missing; AWS requires lambda:AddPermission Action"),
])
def test_violations_name_the_resource_property_value_and_constraint(type_, inputs, message) -> None:
    found = violations(type_, "res", inputs)
    assert found and any(message in v and "'res'" in v for v in found), found


def test_unknown_preview_values_are_skipped() -> None:
    assert violations("aws:lambda/permission:Permission", "p", {
        "statementId": rpc.UNKNOWN, "function": "f", "action": "lambda:InvokeFunction", "principal": "x",
    }) == []


def test_the_stacks_pass_the_checks_and_their_values_are_really_checked(runs) -> None:
    checked = 0
    for run in runs.values():
        for r in run.resources:
            if r.custom:
                assert violations(r.type, r.name, r.outputs) == []
                checked += sum(1 for p in TABLE.get(r.type, ()) if constraints(resolve(p)) and
                               p.prop.split(".")[0].split("[]")[0] in r.outputs)
    assert checked > 1000


# --------------------------------------------------------------------------------------------- auto-names


def test_load_models_leaves_nothing_for_a_registration_to_read_or_compile(runs) -> None:
    """`make preview` reads the models before forking a child per stack (preload_program): checking every resource
    of every stack afterwards reads no operation model and compiles no pattern."""
    for cached in (_session, operation_input, _compiled):
        cached.cache_clear()
    assert load_models() == len({(p.service, p.operation) for params in TABLE.values() for p in params})
    reads, compiles = operation_input.cache_info().misses, _compiled.cache_info().misses
    checked = 0
    for run in runs.values():
        for resource in run.resources:
            if resource.custom and resource.type in TABLE:
                violations(resource.type, resource.name, resource.inputs)
                checked += 1
    assert checked > 300
    assert (operation_input.cache_info().misses, _compiled.cache_info().misses) == (reads, compiles)


def test_auto_names_follow_pulumi_aws() -> None:
    assert auto_name("aws:iam/role:Role", "health-role", {}) == {"name": f"health-role-{random_hex('health-role')}"}
    assert auto_name("aws:s3/bucket:Bucket", "Uploads", {})["bucket"].startswith("uploads-")
    assert auto_name("aws:sqs/queue:Queue", "jobs", {"fifoQueue": True})["name"].endswith(".fifo")
    assert auto_name("aws:sqs/queue:Queue", "jobs", {"name": "given"}) == {}
    assert auto_name("aws:lambda/permission:Permission", "p", {})["statementId"].startswith("p-")
    assert auto_name("aws:apigateway/deployment:Deployment", "d", {}) == {}  # no name property at all
    assert auto_name("aws:iam/rolePolicy:RolePolicy", "x", {"namePrefix": "pre-"})["name"].startswith("pre-")
    assert len(random_hex("x")) == 7


def test_a_logical_name_too_long_for_the_field_fails_like_the_bridge() -> None:
    assert len(auto_name("aws:iam/role:Role", "r" * 56, {})["name"]) == 64
    with pytest.raises(AutoNameError, match=r"name 'r{57}-' plus 7 random chars is longer than maximum length 64"):
        auto_name("aws:iam/role:Role", "r" * 57, {})


def test_recorded_outputs_carry_the_auto_name(run_pulumi) -> None:
    def program():
        aws.iam.Role("worker-role", assume_role_policy="{}")
        aws.sqs.Queue("jobs", fifo_queue=True, opts=pulumi.ResourceOptions())

    run = run_pulumi(program)
    assert re.fullmatch(r"worker-role-[0-9a-f]{7}", run.named("worker-role").outputs["name"])
    assert re.fullmatch(r"jobs-[0-9a-f]{7}\.fifo", run.named("jobs").outputs["name"])


# ------------------------------------------------------------------------------------ statement ids (finding 2)


@given(st.text(min_size=1, max_size=300))
def test_statement_ids_are_valid_and_deterministic(label: str) -> None:
    sid = statement_id(label)
    assert STATEMENT_ID.match(sid) and len(sid) <= STATEMENT_ID_MAX
    assert statement_id(label) == sid


@given(st.text(min_size=1, max_size=120), st.text(min_size=1, max_size=120))
def test_different_labels_get_different_statement_ids(a: str, b: str) -> None:
    if a != b:
        assert statement_id(a) != statement_id(b)


def test_every_stack_permission_has_an_explicit_unique_valid_statement_id(runs) -> None:
    for run in runs.values():
        permissions = run.of_type("aws:lambda/permission:Permission")
        assert permissions
        ids = [p.inputs["statementId"] for p in permissions]  # set by the program, not the provider
        assert all(STATEMENT_ID.match(i) and len(i) <= 100 for i in ids)
        assert len(set(ids)) == len(ids)


# ------------------------------------------------------------------------ limits stated only in the API docs


@pytest.mark.parametrize("doc", [d for docs in DOCUMENTED.values() for d in docs], ids=lambda d: d.prop)
def test_documented_limits_quote_the_botocore_documentation(doc) -> None:
    shape = operation_input(doc.service, doc.operation).members[doc.member]
    text = " ".join(re.sub(r"<[^>]+>", " ", shape.documentation).split())
    assert doc.evidence in text


@pytest.mark.parametrize(("type_", "inputs", "message"), [
    ("aws:sqs/queue:Queue", {"name": "q", "visibilityTimeoutSeconds": 43201}, "'visibilityTimeoutSeconds' = 43201"),
    ("aws:sqs/queue:Queue", {"name": "q" * 76 + ".fifo"}, "A queue name can have up to 80 characters"),
    ("aws:cloudwatch/logGroup:LogGroup", {"name": "g", "retentionInDays": 10}, "'retentionInDays' = 10"),
    ("aws:lambda/function:Function", {"name": "f" * 65, "role": "arn:aws:iam::123456789012:role/r"},
     "limited to 64 characters"),
    ("aws:apigateway/stage:Stage", {"stageName": "v1.0"}, "'stageName' = 'v1.0'"),
])
def test_documented_limits_are_enforced(type_, inputs, message) -> None:
    found = violations(type_, "res", inputs)
    assert any(message in v for v in found), found


def test_a_long_fifo_auto_name_is_refused_like_aws_would() -> None:
    """pulumi-aws appends .fifo after its 80-character limit: a 72-character logical name makes an 85-char name."""
    inputs = {"fifoQueue": True, **auto_name("aws:sqs/queue:Queue", "q" * 72, {"fifoQueue": True})}
    assert len(inputs["name"]) == 85
    assert any("up to 80 characters" in v for v in violations("aws:sqs/queue:Queue", "q", inputs))

"""The pack on our own program: every stack passes, and breaking one thing in the real graph fires exactly
the rule that guards it."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from offline.runtime import REPO_ROOT, stacks
from policies.check import stack_config_path
from policies.guard import RULES
from policies.guard.adapters import from_program_run
from policies.guard.config import load
from policies.guard.engine import evaluate
from policies.guard.iam import Statement, parse_document, resource_scopable
from policies.guard.model import Graph, Resource
from tests.evaluations import run_stack  # shared, read-only evaluations
from tests.policies.policy_builders import with_props, with_resource

if not (REPO_ROOT / "__main__.py").exists():
    pytest.skip("the Pulumi program (__main__.py) is not written yet", allow_module_level=True)

STACKS = stacks()
METHOD = "aws:apigateway/method:Method"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"


@pytest.fixture(scope="module")
def graphs() -> dict[str, Graph]:
    return {stack: from_program_run(run_stack(stack)) for stack in STACKS}


def mandatory(graph: Graph, stack: str = "dev") -> set[tuple[str, str]]:
    report = evaluate(graph, RULES, load(RULES, stack_config_path(stack)))
    return {(f.rule, f.urn) for f in report.mandatory}


def test_every_stack_has_a_pack_config():
    assert STACKS, "no Pulumi.<stack>.yaml"
    for stack in STACKS:
        assert stack_config_path(stack).exists(), stack
        load(RULES, stack_config_path(stack))


@pytest.mark.parametrize("stack", STACKS)
def test_stack_has_no_mandatory_violation_and_nothing_unverified(graphs, stack):
    report = evaluate(graphs[stack], RULES, load(RULES, stack_config_path(stack)))
    assert report.mandatory == [], "\n".join(f"{f.rule} {f.urn}: {f.message}" for f in report.mandatory)
    # Under mocks every value is known: an unverifiable finding would be a rule that cannot read our graph.
    assert report.unverifiable == []
    assert {r.type for r in graphs[stack].resources} >= {METHOD, ROLE_POLICY, "aws:lambda/permission:Permission"}


def test_prod_makes_hygiene_mandatory():
    prod = load(RULES, stack_config_path("prod"))
    # Only the review of ordinary AWS-managed policies stays advice, as the issue asks.
    assert {r.id for r in RULES if prod[r.id].enforcement != "mandatory"} == {"iam-aws-managed-policy-review"}


# --- mutations of the real dev graph -------------------------------------------------------------------------


def first(graph: Graph, predicate) -> Resource:
    return next(r for r in graph.resources if predicate(r))


def rewrite_policy(graph: Graph, policy: Resource, change) -> Graph:
    document = json.loads(policy.props["policy"])
    statements = document["Statement"] if isinstance(document["Statement"], list) else [document["Statement"]]
    change(statements)
    document["Statement"] = statements
    return with_props(graph, policy.name, policy=json.dumps(document))


def test_dropping_one_authorizer(graphs):
    graph = graphs["dev"]
    method = first(graph, lambda r: r.type == METHOD and r.props.get("authorization") == "COGNITO_USER_POOLS")
    mutated = with_props(graph, method.name, authorization="NONE", authorizerId=None)
    assert mandatory(mutated) - mandatory(graph) == {("apigateway-method-requires-authorizer", method.urn)}


def test_widening_one_resource(graphs):
    graph = graphs["dev"]
    policy = first(graph, lambda r: r.type == ROLE_POLICY)
    (statement, *_) = [s for s in parse_document(policy.props["policy"], policy.name) if isinstance(s, Statement)]
    actions = [statement.action] if isinstance(statement.action, str) else list(statement.action)
    assert all(resource_scopable(a) for a in actions) and "iam:PassRole" not in actions

    def widen(statements):
        resources = statements[0]["Resource"]
        statements[0]["Resource"] = ["*", *resources[1:]] if isinstance(resources, list) else "*"

    mutated = rewrite_policy(graph, policy, widen)
    assert mandatory(mutated) - mandatory(graph) == {("iam-no-wildcard-resources", policy.urn)}


def test_adding_s3_star(graphs):
    graph = graphs["dev"]
    policy = first(graph, lambda r: r.type == ROLE_POLICY)
    mutated = rewrite_policy(graph, policy, lambda statements: statements.append(
        {"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::uploads-bucket/*"}))
    assert mandatory(mutated) - mandatory(graph) == {("iam-no-wildcard-actions", policy.urn)}


def test_attaching_administrator_access(graphs):
    graph = graphs["dev"]
    role = first(graph, lambda r: r.type == "aws:iam/role:Role")
    attachment = Resource(
        urn=role.urn.replace("aws:iam/role:Role::", "aws:iam/rolePolicyAttachment:RolePolicyAttachment::") + "-admin",
        type="aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        props={"role": role.props["name"], "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"},
        parent=role.parent,
        property_dependencies={"role": (role.urn,)},
    )
    mutated = with_resource(graph, attachment)
    assert mandatory(mutated) - mandatory(graph) == {("iam-no-privileged-managed-policies", attachment.urn)}


def test_opening_a_trust_policy_and_a_permission(graphs):
    graph = graphs["dev"]
    role = first(graph, lambda r: r.type == "aws:iam/role:Role")
    trust = json.loads(role.props["assumeRolePolicy"])
    trust["Statement"][0]["Principal"] = {"AWS": "*"}
    permission = first(graph, lambda r: r.type == "aws:lambda/permission:Permission")
    api_arn = permission.props["sourceArn"].split("/")[0]
    mutated = with_props(with_props(graph, role.name, assumeRolePolicy=json.dumps(trust)), permission.name,
                         sourceArn=f"{api_arn}/*/*")
    assert mandatory(mutated) - mandatory(graph) == {
        ("iam-trust-scoped", role.urn),
        ("lambda-permission-scoped", permission.urn),
    }


def test_a_route_whose_path_is_lost_is_not_public(graphs):
    graph = graphs["dev"]
    health = first(graph, lambda r: r.type == METHOD and r.props.get("httpMethod") == "GET"
                   and r.props.get("authorization") == "NONE")
    assert mandatory(graph) == set()
    lost = Graph(replace(r, property_dependencies={}, props={**r.props, "resourceId": "elsewhere"}) if r is health else r
                 for r in graph.resources)
    assert mandatory(lost) == {("apigateway-method-requires-authorizer", health.urn)}

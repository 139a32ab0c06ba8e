"""Authorizer rules: route paths resolved through the graph, public routes, and scoped Lambda permissions."""

from __future__ import annotations

from dataclasses import replace

import pytest

from policies.guard.model import UNKNOWN, Graph
from tests.policies.policy_builders import ACCOUNT, StackBuilder, arn, findings, fired, judge, named, with_props

METHOD_RULE = "apigateway-method-requires-authorizer"
GET_ORDERS = "api-get-orders"


def method_findings(graph: Graph, config=None) -> dict[str, list[str]]:
    result: dict[str, list[str]] = {}
    for f in findings(graph, METHOD_RULE, {METHOD_RULE: config} if config else None):
        result.setdefault(f.urn.rsplit("::", 1)[-1], []).append(f.message if f.verified else "UNVERIFIABLE")
    return result


def test_reference_app_passes_every_rule(reference):
    assert findings(reference) == []


def test_dropping_an_authorizer_fires_on_that_method_only(reference):
    graph = with_props(reference, GET_ORDERS, authorization="NONE", authorizerId=None)
    assert list(method_findings(graph)) == [GET_ORDERS]
    assert "GET /orders has authorization NONE" in method_findings(graph)[GET_ORDERS][0]


def test_public_routes_are_method_and_path(reference):
    assert method_findings(reference) == {}
    as_post = with_props(reference, "api-get-health", httpMethod="POST")
    assert "POST /health" in method_findings(as_post)["api-get-health"][0]
    assert method_findings(reference, {"publicRoutes": []}).keys() == {"api-get-health", "api-post-register"}
    assert method_findings(as_post, {"publicRoutes": ["ANY /health", "POST /register"]}) == {}


def test_options_preflight_needs_no_authorizer(reference):
    assert "api-options-orders" not in method_findings(reference, {"publicRoutes": []})


def test_nested_paths_are_resolved_through_parents(reference):
    graph = with_props(reference, "api-get-orders-{id}", authorization="NONE", authorizerId=None)
    assert "GET /orders/{id}" in method_findings(graph)["api-get-orders-{id}"][0]
    assert method_findings(graph, {"publicRoutes": ["GET /health", "POST /register", "GET /orders/{id}"]}) == {}


def test_paths_resolve_from_ids_when_property_dependencies_are_lost(reference):
    stripped = Graph(replace(r, property_dependencies={}) for r in reference.resources)
    assert method_findings(stripped) == {}
    graph = with_props(stripped, GET_ORDERS, authorization="NONE", authorizerId=None)
    assert "GET /orders has" in method_findings(graph)[GET_ORDERS][0]


def test_paths_resolve_from_the_providers_path_output():
    b = StackBuilder()
    health = b.add("aws:apigateway/resource:Resource", "health", {"pathPart": "health", "parentId": "gone", "path": "/health"})
    b.add("aws:apigateway/method:Method", "get-health", {"httpMethod": "GET", "authorization": "NONE", "resourceId": health.id},
          deps={"resourceId": health})
    assert method_findings(b.graph()) == {}


def test_an_unresolvable_route_is_not_silently_public(reference):
    # The health method, moved to a resource id no one in the graph has: it may be any path.
    lost = Graph(replace(r, property_dependencies={}) if r.name == "api-get-health" else r for r in reference.resources)
    lost = with_props(lost, "api-get-health", resourceId="not-in-this-stack")
    (message,) = method_findings(lost)["api-get-health"]
    assert "cannot be resolved" in message
    # ... while an authorized method needs no path at all.
    authorized = with_props(lost, "api-get-health", authorization="COGNITO_USER_POOLS", authorizerId="api-authorizer-id")
    assert method_findings(authorized) == {}


def test_an_ambiguous_route_is_not_public(reference):
    health = named(reference, "api-get-health")
    register = named(reference, "api-register")
    both = (register.urn, *health.property_dependencies["resourceId"])
    ambiguous = replace(health, property_dependencies={"resourceId": both})
    graph = Graph(ambiguous if r is health else r for r in reference.resources)
    assert "cannot be resolved" in method_findings(graph)["api-get-health"][0]


def test_authorizer_types_and_binding(reference):
    custom = with_props(reference, GET_ORDERS, authorization="CUSTOM")
    assert GET_ORDERS in method_findings(custom)
    assert method_findings(custom, {"allowedAuthorizationTypes": ["COGNITO_USER_POOLS", "CUSTOM"]}) == {}
    unbound = with_props(reference, GET_ORDERS, authorizerId=None)
    assert "no authorizerId" in method_findings(unbound)[GET_ORDERS][0]
    wrong_type = with_props(reference, "api-authorizer", type="TOKEN")
    assert "of type TOKEN" in method_findings(wrong_type)[GET_ORDERS][0]


def test_an_authorizer_id_unknown_in_preview(reference):
    # Computed from the authorizer being created: bound, by its property dependency.
    assert method_findings(with_props(reference, GET_ORDERS, authorizerId=UNKNOWN)) == {}
    # Computed from something unknown to the graph: neither passed nor failed.
    orphan = Graph(replace(r, property_dependencies={}) if r.name == GET_ORDERS else r for r in reference.resources)
    assert method_findings(with_props(orphan, GET_ORDERS, authorizerId=UNKNOWN)) == {GET_ORDERS: ["UNVERIFIABLE"]}


# --- apigateway-cognito-authorizer-bound ---------------------------------------------------------------------

POOL = arn("cognito-idp", "userpool/us-east-1_abc123")
AUTHORIZER = "aws:apigateway/authorizer:Authorizer"


@pytest.mark.parametrize(
    ("props", "expected"),
    [
        ({"type": "COGNITO_USER_POOLS", "providerArns": [POOL]}, False),
        ({"type": "COGNITO_USER_POOLS", "providerArns": [POOL], "identitySource": "method.request.header.Authorization"}, False),
        ({"type": "COGNITO_USER_POOLS", "providerArns": []}, True),
        ({"type": "COGNITO_USER_POOLS"}, True),
        ({"type": "COGNITO_USER_POOLS", "providerArns": [arn("cognito-idp", "userpool/*")]}, True),
        ({"type": "COGNITO_USER_POOLS", "providerArns": [POOL], "identitySource": "method.request.querystring.token"}, True),
        ({"type": "TOKEN", "authorizerUri": "arn:aws:apigateway:..."}, False),
    ],
    ids=["bound", "explicit-header", "no-pools", "pools-missing", "wildcard-pool", "query-string-token", "not-cognito"],
)
def test_cognito_authorizer_bound(props, expected):
    assert bool(judge("apigateway-cognito-authorizer-bound", AUTHORIZER, props).violations) is expected


def test_cognito_authorizer_unknown_pool_is_unverifiable():
    verdict = judge("apigateway-cognito-authorizer-bound", AUTHORIZER, {"type": "COGNITO_USER_POOLS", "providerArns": [UNKNOWN]})
    assert verdict.violations == () and verdict.unknown


# --- apigatewayv2-route-requires-authorizer ------------------------------------------------------------------


def http_api(*routes: dict) -> Graph:
    b = StackBuilder()
    authorizer = b.add("aws:apigatewayv2/authorizer:Authorizer", "jwt", {"authorizerType": "JWT"})
    for index, props in enumerate(routes):
        deps = {"authorizerId": authorizer} if props.get("authorizerId") else {}
        b.add("aws:apigatewayv2/route:Route", f"route{index}", props, deps=deps)
    return b.graph()


@pytest.mark.parametrize(
    ("route", "expected"),
    [
        ({"routeKey": "GET /health"}, False),
        ({"routeKey": "POST /register", "authorizationType": "NONE"}, False),
        ({"routeKey": "POST /uploads", "authorizationType": "JWT", "authorizerId": "jwt-id"}, False),
        ({"routeKey": "POST /uploads", "authorizationType": "AWS_IAM"}, False),
        ({"routeKey": "OPTIONS /uploads"}, False),
        ({"routeKey": "POST /uploads"}, True),
        ({"routeKey": "POST /uploads", "authorizationType": "JWT"}, True),
        ({"routeKey": "$default"}, True),
        ({"routeKey": "DELETE /health"}, True),
    ],
    ids=["public-health", "public-register", "jwt", "iam", "preflight", "open", "jwt-without-authorizer", "default-route",
         "other-method-on-public-path"],
)
def test_http_api_routes(route, expected):
    assert ("apigatewayv2-route-requires-authorizer" in fired(http_api(route))) is expected


# --- lambda-permission-scoped --------------------------------------------------------------------------------

EXECUTION = arn("execute-api", "abc123")
PERMISSION = "aws:lambda/permission:Permission"


def permission(principal: str, **props) -> dict:
    return {"action": "lambda:InvokeFunction", "function": "orders-fn", "principal": principal, **props}


@pytest.mark.parametrize(
    ("props", "expected"),
    [
        (permission("apigateway.amazonaws.com", sourceArn=f"{EXECUTION}/*/GET/orders"), False),
        (permission("apigateway.amazonaws.com", sourceArn=f"{EXECUTION}/prod/POST/orders/*"), False),
        (permission("apigateway.amazonaws.com", sourceArn=f"{EXECUTION}/*/*"), True),
        (permission("apigateway.amazonaws.com", sourceArn=f"{EXECUTION}/*"), True),
        (permission("apigateway.amazonaws.com", sourceArn=arn("execute-api", "*/*/GET/orders")), True),
        (permission("apigateway.amazonaws.com", sourceArn=arn("execute-api", "abc123/*/GET/orders", account="*")), True),
        (permission("apigateway.amazonaws.com", sourceArn=arn("sns", "topic")), True),
        (permission("apigateway.amazonaws.com"), True),
        (permission("*"), True),
        (permission("*", action="lambda:InvokeFunctionUrl", functionUrlAuthType="AWS_IAM"), True),
        (permission("*", action="lambda:InvokeFunctionUrl", functionUrlAuthType="NONE"), False),
        (permission("s3.amazonaws.com", sourceArn="arn:aws:s3:::uploads-bucket"), True),
        (permission("s3.amazonaws.com", sourceArn="arn:aws:s3:::uploads-bucket", sourceAccount=ACCOUNT), False),
        (permission("s3.amazonaws.com", sourceArn="arn:aws:s3:::*", sourceAccount=ACCOUNT), True),
        (permission("events.amazonaws.com", sourceArn=arn("events", "rule/nightly")), False),
        (permission(ACCOUNT), False),
    ],
    ids=["route", "stage-route", "whole-api", "whole-api-short", "any-api", "any-account", "not-execute-api",
         "no-source-arn", "anyone", "url-iam-anyone",
         "url-none-judged-on-the-url", "s3-without-account", "s3-scoped", "s3-any-bucket", "events-rule", "account"],
)
def test_lambda_permission_scoped(props, expected):
    assert bool(judge("lambda-permission-scoped", PERMISSION, props).violations) is expected


def test_whole_api_permission_by_config_only():
    props = permission("apigateway.amazonaws.com", sourceArn=f"{EXECUTION}/*/*")
    assert not judge("lambda-permission-scoped", PERMISSION, props, {"allowWholeApi": True}).violations


def test_reference_permissions_are_route_scoped(reference):
    permissions = [r for r in reference.resources if r.type == PERMISSION]
    assert len(permissions) == 5
    assert all("/*/" in p.props["sourceArn"] for p in permissions)
    widened = with_props(reference, named(reference, "api-get-orders-permission").name, sourceArn=f"{EXECUTION}/*/*")
    assert fired(widened) == {"lambda-permission-scoped": {"api-get-orders-permission"}}

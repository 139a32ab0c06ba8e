"""Properties of the pure route planner: deny by default, exact permissions, one preflight per path."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from components.api_plan import (
    COGNITO,
    HTTP_METHODS,
    NONE,
    RouteSpec,
    deployment_fingerprint,
    model_name,
    permission_path,
    plan_routes,
    preflight_response_template,
    source_arn,
    split_path,
    with_scopes,
)
from tests.hypothesis_budget import examples

EXECUTION_ARN = "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5"

static_segment = st.sampled_from(["orders", "uploads", "url", "hello", "health", "v1", "items", "me"])
param_segment = st.sampled_from(["{orderId}", "{id}", "{itemId}"])


@st.composite
def paths(draw) -> str:
    segments = draw(st.lists(st.one_of(static_segment, param_segment), min_size=0, max_size=4))
    # API Gateway allows one parameter name per position: keep names positional so tables stay valid.
    fixed = [f"{{p{i}}}" if s.startswith("{") else s for i, s in enumerate(segments)]
    return "/" + "/".join(fixed)


routes_strategy = st.lists(
    st.builds(
        RouteSpec,
        method=st.sampled_from(HTTP_METHODS),
        path=paths(),
        public=st.booleans(),
        request_schema=st.sampled_from([None, "order", "register"]),
        api_key_required=st.booleans(),
    ),
    max_size=12,
    unique_by=lambda r: r.key,
)


@settings(max_examples=examples(200), deadline=None)
@given(routes_strategy)
def test_each_route_is_one_method_authorized_unless_explicitly_public(routes) -> None:
    plan = plan_routes(routes)
    assert len(plan.methods) == len(routes)
    for route, planned in zip(routes, plan.methods, strict=True):
        assert planned.route == route
        assert planned.authorization == (NONE if route.public else COGNITO)


@settings(max_examples=examples(200), deadline=None)
@given(routes_strategy)
def test_every_path_gets_exactly_one_preflight_listing_its_methods(routes) -> None:
    plan = plan_routes(routes)
    by_path: dict[str, set[str]] = {}
    for r in routes:
        by_path.setdefault(r.path, set()).add(r.method)
    assert {p.path for p in plan.preflights} == set(by_path)
    assert len(plan.preflights) == len(by_path)
    for preflight in plan.preflights:
        assert set(preflight.allowed_methods) == by_path[preflight.path] | {"OPTIONS"}


@settings(max_examples=examples(200), deadline=None)
@given(routes_strategy)
def test_permission_arn_is_exactly_method_and_path_with_params_as_wildcards(routes) -> None:
    plan = plan_routes(routes)
    for planned in plan.methods:
        arn = planned.source_arn(EXECUTION_ARN)
        expected_path = re.sub(r"\{[^}]+\}", "*", planned.route.path)
        assert arn == f"{EXECUTION_ARN}/*/{planned.route.method}{expected_path}"
        assert not arn.endswith("/*/*") or planned.route.path.count("/") > 1


@settings(max_examples=examples(200), deadline=None)
@given(routes_strategy)
def test_every_parent_resource_exists_before_its_children(routes) -> None:
    plan = plan_routes(routes)
    seen = {"/"}
    for path in plan.resource_paths:
        parent = path.rpartition("/")[0] or "/"
        assert parent in seen
        seen.add(path)
    for r in routes:
        assert r.path in seen


@given(routes_strategy.filter(lambda rs: len(rs) > 0), st.data())
def test_duplicate_routes_are_rejected(routes, data) -> None:
    duplicate = data.draw(st.sampled_from(routes))
    with pytest.raises(ValueError, match="duplicate route"):
        plan_routes([*routes, RouteSpec(duplicate.method, duplicate.path, not duplicate.public)])


@pytest.mark.parametrize(
    "path",
    ["orders", "/orders/", "//orders", "/orders/{id}/{id}", "/a/{rest+}/b", "/or ders", "/orders/{1id}"],
)
def test_malformed_paths_are_rejected(path) -> None:
    with pytest.raises(ValueError):
        split_path(path)


def test_sibling_parameters_with_different_names_are_rejected() -> None:
    with pytest.raises(ValueError, match="conflicts"):
        plan_routes([RouteSpec("GET", "/orders/{orderId}"), RouteSpec("DELETE", "/orders/{id}")])


def test_unknown_methods_and_schema_names_are_rejected() -> None:
    with pytest.raises(ValueError, match="method"):
        plan_routes([RouteSpec("TRACE", "/x")])
    with pytest.raises(ValueError, match="schema"):
        plan_routes([RouteSpec("POST", "/x", request_schema="../etc/passwd")])


def test_api_key_routes_need_the_usage_plan() -> None:
    with pytest.raises(ValueError, match="usage plan"):
        plan_routes([RouteSpec("GET", "/x", api_key_required=True)], api_keys_enabled=False)


def test_permission_paths_for_root_greedy_and_nested_params() -> None:
    assert permission_path("/") == "/"
    assert permission_path("/files/{proxy+}") == "/files/*"
    assert source_arn(EXECUTION_ARN, "GET", "/orders/{orderId}") == f"{EXECUTION_ARN}/*/GET/orders/*"


@settings(max_examples=examples(100), deadline=None)
@given(routes_strategy.filter(lambda rs: len(rs) > 0), st.data())
def test_fingerprint_changes_iff_a_route_changes(routes, data) -> None:
    functions = {r.key: f"fn-{i}" for i, r in enumerate(routes)}
    base = deployment_fingerprint(plan_routes(routes), functions, {"cors": ["http://localhost:3000"]})
    assert base == deployment_fingerprint(plan_routes(list(routes)), dict(functions), {"cors": ["http://localhost:3000"]})
    # Order of the table is not a change.
    assert base == deployment_fingerprint(plan_routes(list(reversed(routes))), functions, {"cors": ["http://localhost:3000"]})
    index = data.draw(st.integers(0, len(routes) - 1))
    flipped = [*routes]
    target = flipped[index]
    flipped[index] = RouteSpec(target.method, target.path, not target.public, target.request_schema,
                               target.api_key_required)
    assert base != deployment_fingerprint(plan_routes(flipped), functions, {"cors": ["http://localhost:3000"]})
    retargeted = {**functions, target.key: "another-function"}
    assert base != deployment_fingerprint(plan_routes(routes), retargeted, {"cors": ["http://localhost:3000"]})
    assert base != deployment_fingerprint(plan_routes(routes), functions, {"cors": ["https://app.example.com"]})


def test_model_names_are_alphanumeric() -> None:
    assert model_name("order") == "OrderModel"
    assert model_name("upload_url") == "UploadUrlModel"


def test_preflight_template_lists_only_allowed_origins() -> None:
    template = preflight_response_template(["https://app.example.com", "http://localhost:3000"])
    assert '#set($allowed = ["https://app.example.com", "http://localhost:3000"])' in template
    assert "responseOverride.header.Access-Control-Allow-Origin = $origin" in template
    assert "*" not in template


SCOPE = "secure-serverless/orders.read"


@settings(max_examples=examples(150), deadline=None)
@given(routes_strategy, st.data())
def test_scopes_are_part_of_what_the_stage_serves(routes, data) -> None:
    protected = [r for r in routes if not r.public]
    if not protected:
        return
    target = data.draw(st.sampled_from(protected))
    functions = {r.key: "fn" for r in routes}
    scoped = with_scopes(routes, {target.key: [SCOPE]})
    assert [r.scopes for r in scoped] == [(SCOPE,) if r.key == target.key else () for r in routes]
    # Requiring a scope changes which tokens a Method takes: the stage must be redeployed.
    assert deployment_fingerprint(plan_routes(routes), functions, {}) != deployment_fingerprint(
        plan_routes(scoped), functions, {})


def test_scopes_need_an_authorized_route_and_full_names() -> None:
    with pytest.raises(ValueError, match="public"):
        plan_routes([RouteSpec("GET", "/health", public=True, scopes=(SCOPE,))])
    with pytest.raises(ValueError, match="<resource server>/<scope>"):
        plan_routes([RouteSpec("GET", "/orders", scopes=("orders.read",))])
    with pytest.raises(ValueError, match="twice"):
        plan_routes([RouteSpec("GET", "/orders", scopes=(SCOPE, SCOPE))])


def test_with_scopes_refuses_keys_that_name_no_route_and_keeps_declared_scopes() -> None:
    routes = [RouteSpec("GET", "/orders/{orderId}", scopes=("secure-serverless/orders.write",))]
    with pytest.raises(ValueError, match="GET /orders/{orderid}"):
        with_scopes(routes, {"GET /orders/{orderid}": [SCOPE]})
    (route,) = with_scopes(routes, {"GET /orders/{orderId}": [SCOPE]})
    assert route.scopes == ("secure-serverless/orders.write", SCOPE)

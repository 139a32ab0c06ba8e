"""The OpenAPI generator: valid OpenAPI 3.0 for any route table, one operation per route, auth as deployed."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openapi_spec_validator import OpenAPIV30SpecValidator, validate

from components.api_plan import HTTP_METHODS, RouteSpec, model_name
from components.openapi import (
    API_KEY_SCHEME,
    ID_TOKEN_SCHEME,
    OAUTH_SCHEME,
    OAuthSettings,
    RouteExample,
    build_document,
    load_examples,
    load_schemas,
    openapi_path,
    operations,
    to_schema_object,
)
from components.secure_api import GONE_TEMPLATE
from tests.components.test_api_plan import paths
from tests.hypothesis_budget import examples

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "handlers" / "schemas"
ALL_SCHEMAS = load_schemas([p.stem for p in SCHEMA_DIR.glob("*.json")], SCHEMA_DIR)
SCOPES = {
    "https://api.example.com/orders.read": "Read orders",
    "https://api.example.com/orders.write": "Place orders",
    "https://api.example.com/uploads.write": "Upload files",
}
OAUTH = OAuthSettings(
    authorization_url="https://dev-app.auth.us-east-1.amazoncognito.com/oauth2/authorize",
    token_url="https://dev-app.auth.us-east-1.amazoncognito.com/oauth2/token",
    scopes=SCOPES,
)


@dataclass(frozen=True)
class ScopedRoute(RouteSpec):
    """A RouteSpec that declares required scopes (the shape routes take once scopes are wired)."""

    scopes: tuple[str, ...] = ()


routes_strategy = st.lists(
    st.builds(
        ScopedRoute,
        method=st.sampled_from(HTTP_METHODS),
        path=paths() | st.sampled_from(["/files/{proxy+}", "/a/{p1}/{rest+}"]),
        public=st.booleans(),
        request_schema=st.sampled_from([None, *sorted(ALL_SCHEMAS)]),
        api_key_required=st.booleans(),
        scopes=st.lists(st.sampled_from(sorted(SCOPES)), max_size=2, unique=True).map(tuple),
        retired=st.booleans(),
    ),
    max_size=12,
    unique_by=lambda r: r.key,
).map(lambda routes: [r if not r.public else ScopedRoute(**{**r.__dict__, "scopes": ()}) for r in routes])


def document_for(routes, **kwargs):
    return build_document(routes, ALL_SCHEMAS, title="secure-serverless", version="dev", oauth=OAUTH, **kwargs)


@settings(max_examples=examples(150), deadline=None)
@given(routes_strategy)
def test_any_route_table_gives_a_valid_openapi_3_document_with_exactly_its_routes(routes) -> None:
    document = document_for(routes, servers=["https://abc123.execute-api.us-east-1.amazonaws.com/dev"])
    validate(document, cls=OpenAPIV30SpecValidator)
    assert operations(document) == {f"{r.method} {openapi_path(r.path)}" for r in routes}
    ids = [op["operationId"] for item in document["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids))
    # The validator does not resolve security requirement names: every one must be a declared scheme.
    schemes = document["components"]["securitySchemes"]
    for item in document["paths"].values():
        for op in item.values():
            assert all(name in schemes for requirement in op["security"] for name in requirement)


@settings(max_examples=examples(150), deadline=None)
@given(routes_strategy)
def test_each_operation_states_the_auth_the_method_is_deployed_with(routes) -> None:
    document = document_for(routes)
    for route in routes:
        op = document["paths"][openapi_path(route.path)][route.method.lower()]
        api_key = {API_KEY_SCHEME: []} if route.api_key_required else {}
        if route.public:
            # `[]` overrides nothing and means "no auth": only public, key-less routes may say it.
            expected = [api_key] if api_key else []
        elif route.scopes:
            # API Gateway takes an access token with ANY of the scopes; OpenAPI ORs requirement entries.
            expected = [{OAUTH_SCHEME: [scope], **api_key} for scope in route.scopes]
        else:
            expected = [{ID_TOKEN_SCHEME: [], **api_key}]
        assert op["security"] == expected
        assert ("401" in op["responses"]) == (not route.public)
        assert ("403" in op["responses"]) == bool(route.scopes or route.api_key_required)
        assert op["responses"]["429"] == {"$ref": "#/components/responses/TooManyRequests"}
        assert op["responses"]["5XX"] == {"$ref": "#/components/responses/ServerError"}


@settings(max_examples=examples(150), deadline=None)
@given(routes_strategy)
def test_a_request_body_is_documented_exactly_when_the_method_validates_one(routes) -> None:
    document = document_for(routes)
    for route in routes:
        op = document["paths"][openapi_path(route.path)][route.method.lower()]
        if route.request_schema is None or route.retired:
            assert "requestBody" not in op
            continue
        ref = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        assert ref == f"#/components/schemas/{model_name(route.request_schema)}"
        assert op["requestBody"]["required"] is True
        assert "400" in op["responses"]
    used = {model_name(r.request_schema) for r in routes if r.request_schema and not r.retired}
    assert set(document["components"]["schemas"]) == used | {"ApiError"}


@settings(max_examples=examples(100), deadline=None)
@given(routes_strategy)
def test_a_retired_route_is_documented_as_deprecated_and_answering_410(routes) -> None:
    document = document_for(routes)
    for route in routes:
        op = document["paths"][openapi_path(route.path)][route.method.lower()]
        assert op.get("deprecated", False) is route.retired
        success = {status for status in op["responses"] if status.startswith("2")}
        if route.retired:
            assert op["responses"]["410"] == {"$ref": "#/components/responses/Gone"}
            assert not success and "400" not in op["responses"]
        else:
            assert "410" not in op["responses"] and len(success) == 1
    assert ("Gone" in document["components"]["responses"]) is any(r.retired for r in routes)


def test_the_gone_response_is_the_body_the_gateway_answers_a_retired_route_with() -> None:
    document = document_for([ScopedRoute("DELETE", "/orders/{orderId}", retired=True)])
    example = document["components"]["responses"]["Gone"]["content"]["application/json"]["example"]
    assert example == json.loads(GONE_TEMPLATE)


def test_error_responses_share_the_handlers_error_body() -> None:
    document = document_for([ScopedRoute("POST", "/orders", request_schema="order")])
    error_schema = document["components"]["schemas"]["ApiError"]
    handler_error = {"error": {"code": "invalid_body", "message": "items: required"}}
    jsonschema.validate(handler_error, error_schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"message": "Unauthorized"}, error_schema)  # API Gateway's default shape
    for response in document["components"]["responses"].values():
        jsonschema.validate(response["content"]["application/json"]["example"], error_schema)


def test_schemas_are_published_as_the_gateway_validates_them() -> None:
    converted = to_schema_object(ALL_SCHEMAS["order"], where="order")
    assert "$schema" not in converted
    original = dict(ALL_SCHEMAS["order"])
    original.pop("$schema")
    assert converted == original


@pytest.mark.parametrize(
    "schema, message",
    [
        ({"type": ["string", "null"]}, "one type"),
        ({"type": "object", "patternProperties": {"^x": {"type": "string"}}}, "patternProperties"),
        ({"type": "object", "properties": {"a": {"type": "string", "dependencies": {}}}}, "dependencies"),
    ],
)
def test_keywords_openapi_3_0_lacks_are_refused_not_silently_published(schema, message) -> None:
    with pytest.raises(ValueError, match=message):
        to_schema_object(schema, where="x")


def test_scoped_routes_need_the_oauth_scheme_and_declared_scopes() -> None:
    route = ScopedRoute("GET", "/orders/{orderId}", scopes=("https://api.example.com/orders.read",))
    with pytest.raises(ValueError, match="no OAuth settings"):
        build_document([route], ALL_SCHEMAS, title="t", version="1")
    with pytest.raises(ValueError, match="not offered"):
        build_document([route], ALL_SCHEMAS, title="t", version="1",
                       oauth=OAuthSettings("https://a/authorize", "https://a/token", {}))
    flows = document_for([route])["components"]["securitySchemes"][OAUTH_SCHEME]["flows"]
    assert flows["authorizationCode"]["scopes"] == SCOPES


def test_examples_must_name_existing_routes() -> None:
    with pytest.raises(ValueError, match="GET /nope"):
        document_for([ScopedRoute("GET", "/hello")], examples={"GET /nope": RouteExample()})


def test_the_published_examples_are_valid_requests_of_their_routes() -> None:
    # Every example body the docs show must pass the very schema API Gateway validates the route with.
    examples = load_examples()
    schema_of = {"POST /register": "register", "POST /register/confirm": "register_confirm", "POST /orders": "order",
                 "POST /uploads": "upload", "POST /uploads/url": "upload_url", "POST /profiles": "profile"}
    assert {k for k, e in examples.items() if e.request is not None} == set(schema_of)
    for key, schema in schema_of.items():
        jsonschema.Draft4Validator(ALL_SCHEMAS[schema]).validate(examples[key].request)
    document = document_for(
        [ScopedRoute(*key.split(" "), request_schema=schema_of.get(key), public=key in
                     {"GET /health", "POST /register", "POST /register/confirm"}) for key in examples],
        examples=examples,
    )
    validate(document, cls=OpenAPIV30SpecValidator)
    assert document["paths"]["/orders"]["post"]["responses"]["202"]["content"]["application/json"]["example"] == {
        "orderId": "01J9Z6X8Q4M2V7T3K5N1R8B0CD", "status": "QUEUED"}
    assert json.dumps(document)  # plain JSON: publishable as openapi.json as is


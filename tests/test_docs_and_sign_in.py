"""The whole program per stack: the docs site publishes exactly the deployed API, sign-in and scoped routes."""

from __future__ import annotations

import json

import pytest
from openapi_spec_validator import OpenAPIV30SpecValidator, validate

from components.settings import ConfigError
from tests.evaluations import run_stack  # one evaluation per configuration: these tests only read
from tests.graph import routes as deployed_routes

OBJECT = "aws:s3/bucketObjectv2:BucketObjectv2"
CLIENT = "aws:cognito/userPoolClient:UserPoolClient"


def published(run, key: str) -> str:
    (obj,) = [o for o in run.of_type(OBJECT) if o.inputs["key"] == key]
    return obj.inputs["content"]


@pytest.fixture(scope="module", params=["dev", "prod"])
def run(request):
    return run_stack(request.param)


def test_published_openapi_is_valid_and_matches_the_deployed_methods(run) -> None:
    document = json.loads(published(run, "docs/openapi.json"))
    validate(document, cls=OpenAPIV30SpecValidator)
    methods = {k: v for k, v in deployed_routes(run).items() if v.method != "OPTIONS"}
    documented = {f"{m.upper()} {p}" for p, item in document["paths"].items() for m in item}
    assert documented == set(methods)  # no route missing, none extra
    models = {m.outputs["name"]: m for m in run.of_type("aws:apigateway/model:Model")}
    for key, view in methods.items():
        op = document["paths"][view.path][view.method.lower()]
        # What each operation requires is what its Method enforces: the token (unless public) and the API key.
        user_schemes = [{k: v for k, v in entry.items() if k != "apiKey"} for entry in op["security"]]
        assert (not any(user_schemes)) == (view.authorization == "NONE"), key
        key_required = bool(view.resource.inputs.get("apiKeyRequired"))
        assert all(("apiKey" in entry) == key_required for entry in op["security"]), key
        assert bool(op["security"]) == (key_required or view.authorization != "NONE"), key
        ref = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {}).get("$ref")
        gateway_models = view.resource.inputs.get("requestModels") or {}
        assert (ref is None) == (not gateway_models), key
        if ref is not None:
            # The published schema is the very one API Gateway validates the body with (as an OpenAPI 3.0 schema).
            model = models[gateway_models["application/json"]]
            assert ref == f"#/components/schemas/{model.inputs['name']}"
            expected = json.loads(model.inputs["schema"])
            expected.pop("$schema", None)
            assert document["components"]["schemas"][model.inputs["name"]] == expected, key
    stage_url = run.stack_outputs["api_url"]
    assert document["servers"] == [{"url": stage_url}, {"url": "/api"}]


def test_the_sign_in_client_returns_to_the_docs_page(run) -> None:
    (client,) = [c for c in run.of_type(CLIENT) if c.name == "sign-in-web-client"]
    docs_url = run.stack_outputs["docs_url"]
    assert docs_url == f"https://{run.stack_outputs['docs_distribution_domain']}/docs/"
    expected = [docs_url, "http://localhost:3000/"] if run.stack == "dev" else [docs_url]
    assert client.inputs["callbackUrls"] == expected
    assert client.inputs["logoutUrls"] == expected
    assert client.inputs["userPoolId"] == run.stack_outputs["user_pool_id"]
    assert (client.inputs["readAttributes"], client.inputs["writeAttributes"]) == (
        ["email", "email_verified", "name"], ["name"])
    config = json.loads(published(run, "docs/config.json"))
    assert config["hostedUi"]["clientId"] == client.id == run.stack_outputs["hosted_ui_client_id"]
    assert config["hostedUi"]["domain"] == run.stack_outputs["hosted_ui_url"]
    assert config["apiUrl"] == run.stack_outputs["docs_api_url"]
    csp = run.named("docs-security-headers").inputs["securityHeadersConfig"]["contentSecurityPolicy"]
    assert f"connect-src 'self' {run.stack_outputs['hosted_ui_url']};" in csp["contentSecurityPolicy"]
    assert run.named("sign-in-domain").inputs["domain"] == f"secure-serverless-{run.stack}"


def test_a_route_given_scopes_requires_them_and_is_documented_so() -> None:
    run = run_stack("dev", overrides={"routeScopes": {"GET /orders/{orderId}": ["orders.read"]}})
    table = deployed_routes(run)
    assert table["GET /orders/{orderId}"].resource.inputs["authorizationScopes"] == ["secure-serverless/orders.read"]
    assert all("authorizationScopes" not in v.resource.inputs for k, v in table.items() if k != "GET /orders/{orderId}")
    document = json.loads(published(run, "docs/openapi.json"))
    assert document["paths"]["/orders/{orderId}"]["get"]["security"] == [
        {"cognitoOAuth": ["secure-serverless/orders.read"], "apiKey": []}]  # dev's usage plan: the key too
    # Scopes change what the stage enforces: the deployment is re-created.
    plain = run_stack("dev")
    assert (run.named("api-deployment").inputs["triggers"] != plain.named("api-deployment").inputs["triggers"])


def test_local_has_sign_in_but_no_cloudfront() -> None:
    run = run_stack("local")
    assert not [r for r in run.resources if r.type.startswith("aws:cloudfront")]
    assert run.of_type("aws:cognito/resourceServer:ResourceServer")
    assert "docs_url" not in run.stack_outputs


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"routeScopes": {"GET /nope": ["orders.read"]}}, "do not exist: GET /nope"),
        ({"routeScopes": {"GET /hello": ["orders.delete"]}}, "routeScopes"),
        ({"routeScopes": {"GET /health": ["orders.read"]}}, "public"),
        ({"hostedUiDomainPrefix": "my-cognito"}, "hostedUiDomainPrefix"),
        ({"docsDomain": "docs.example.com"}, "docsCertificateArn"),
        ({"docsPriceClass": "PriceClass_1"}, "docsPriceClass"),
    ],
)
def test_bad_docs_and_sign_in_settings_stop_the_program(overrides, message) -> None:
    with pytest.raises((ConfigError, ValueError), match=message):
        run_stack("dev", overrides=overrides)


def test_prod_refuses_localhost_callbacks() -> None:
    with pytest.raises(ConfigError, match="oauthCallbackUrls"):
        run_stack("prod", overrides={"oauthCallbackUrls": ["http://localhost:3000/"]})


@pytest.mark.parametrize("project, stack", [("secure-serverless", "dev"), ("Shop_App" + "x" * 60, "production-eu")])
def test_the_default_hosted_ui_prefix_is_a_valid_cognito_prefix(project, stack) -> None:
    from components.hosted_ui import HostedUiArgs
    from components.settings import _default_prefix

    prefix = _default_prefix(project, stack)
    assert len(prefix) <= 63
    HostedUiArgs(resource_server_identifier="api", domain_prefix=prefix)  # Cognito's prefix rules hold
    assert prefix == "secure-serverless-dev" or prefix != _default_prefix(project, "production-us")

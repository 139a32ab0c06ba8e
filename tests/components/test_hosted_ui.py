"""HostedUi alone: the pool's domain, the resource server's scopes and a public code+PKCE app client."""

from __future__ import annotations

import boto3
import pytest

from components.hosted_ui import DEFAULT_SCOPES, STANDARD_SCOPES, HostedUi, HostedUiArgs, check_redirect_url

POOL_ID = "us-east-1_AbCdEfGhI"
IDENTIFIER = "https://api.secure-serverless.dev"
CERT = "arn:aws:acm:us-east-1:123456789012:certificate/0f0e0d0c-1b2a-4c3d-8e9f-a0b1c2d3e4f5"


def hosted_program(**overrides):
    values = {"user_pool_id": POOL_ID, "resource_server_identifier": IDENTIFIER, "domain_prefix": "dev-orders-7f3a",
              **overrides}

    def program():
        ui = HostedUi("sign-in", HostedUiArgs(**values))
        ui.app_client("docs", callback_urls=["https://d1a2b3c4.cloudfront.net/docs/", "http://localhost:3000/"],
                      logout_urls=["https://d1a2b3c4.cloudfront.net/docs/"],
                      static_urls=["http://localhost:3000/"])

    return program


def test_prefix_domain_and_its_hosted_ui_urls(run_pulumi) -> None:
    run = run_pulumi(hosted_program())
    domain = run.named("sign-in-domain").inputs
    assert domain == {"domain": "dev-orders-7f3a", "userPoolId": POOL_ID}
    outputs = run.component_outputs[run.named("sign-in").urn]
    assert outputs["base_url"] == "https://dev-orders-7f3a.auth.us-east-1.amazoncognito.com"


def test_custom_domain_uses_its_us_east_1_certificate(run_pulumi) -> None:
    run = run_pulumi(hosted_program(domain_prefix=None, custom_domain="auth.example.com", certificate_arn=CERT))
    assert run.named("sign-in-domain").inputs["certificateArn"] == CERT
    assert run.component_outputs[run.named("sign-in").urn]["base_url"] == "https://auth.example.com"


def test_resource_server_offers_our_scopes(run_pulumi) -> None:
    run = run_pulumi(hosted_program())
    server = run.named("sign-in-resource-server")
    assert server.inputs["identifier"] == IDENTIFIER
    assert {s["scopeName"] for s in server.inputs["scopes"]} == {"orders.read", "orders.write", "uploads.write"}
    assert server.outputs["scopeIdentifiers"] == [f"{IDENTIFIER}/{s}" for s in DEFAULT_SCOPES]


def test_app_client_is_public_code_flow_only_with_standard_and_custom_scopes(run_pulumi) -> None:
    run = run_pulumi(hosted_program())
    client = run.named("sign-in-docs-client")
    inputs = client.inputs
    assert inputs["generateSecret"] is False
    assert inputs["allowedOauthFlowsUserPoolClient"] is True
    assert inputs["allowedOauthFlows"] == ["code"]
    assert inputs["allowedOauthScopes"] == [*STANDARD_SCOPES, *(f"{IDENTIFIER}/{s}" for s in DEFAULT_SCOPES)]
    assert inputs["callbackUrls"] == ["https://d1a2b3c4.cloudfront.net/docs/", "http://localhost:3000/"]
    assert inputs["logoutUrls"] == ["https://d1a2b3c4.cloudfront.net/docs/"]
    assert inputs["supportedIdentityProviders"] == ["COGNITO"]
    assert inputs["explicitAuthFlows"] == ["ALLOW_REFRESH_TOKEN_AUTH"]
    assert inputs["userPoolId"] == POOL_ID
    # Created after the scopes it names exist.
    assert run.named("sign-in-resource-server").urn in client.dependencies


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"domain_prefix": "my-cognito-app"}, "without 'aws'"),
        ({"domain_prefix": "Dev_App"}, "lowercase"),
        ({"domain_prefix": None}, "exactly one"),
        ({"custom_domain": "auth.example.com"}, "exactly one"),
        ({"domain_prefix": None, "custom_domain": "auth.example.com",
          "certificate_arn": CERT.replace("us-east-1", "eu-west-1")}, "us-east-1"),
        ({"scopes": {"openid": "x"}}, "not a valid custom scope"),
        ({"scopes": {"orders read": "x"}}, "not a valid custom scope"),
        ({"scopes": {"orders/read": "x"}}, "not a valid custom scope"),
        ({"access_token_minutes": 2}, "5 minutes"),
        ({"resource_server_identifier": "orders api"}, "resource_server_identifier"),
    ],
)
def test_args_refuse_what_cognito_would(overrides, message) -> None:
    values = {"user_pool_id": POOL_ID, "resource_server_identifier": IDENTIFIER, "domain_prefix": "dev-orders",
              **overrides}
    with pytest.raises(ValueError, match=message):
        HostedUiArgs(**values)


@pytest.mark.parametrize("url", ["http://example.com/cb", "https://example.com/cb#frag", "http://localhost.evil.com/"])
def test_redirect_urls_follow_cognitos_rules(url) -> None:
    with pytest.raises(ValueError):
        check_redirect_url(url)
    check_redirect_url("http://localhost:5173/")
    check_redirect_url("https://docs.example.com/docs/")


def test_scope_names_are_the_full_names_tokens_carry() -> None:
    args = HostedUiArgs(user_pool_id=POOL_ID, resource_server_identifier=IDENTIFIER, domain_prefix="dev-orders")
    assert args.scope("orders.read") == f"{IDENTIFIER}/orders.read"
    with pytest.raises(ValueError, match="unknown scope"):
        args.scope("orders.delete")


def test_cognito_takes_the_resource_server_and_client_as_declared(aws) -> None:
    # moto's Cognito: the resource server's scopes and a client allowed to request them (what the mocked
    # program declares); moto does not run the Hosted UI, so the scope claim itself needs a real pool.
    args = HostedUiArgs(user_pool_id=POOL_ID, resource_server_identifier=IDENTIFIER, domain_prefix="dev-orders")
    idp = boto3.client("cognito-idp", region_name="us-east-1")
    pool = idp.create_user_pool(PoolName="users")["UserPool"]["Id"]
    idp.create_resource_server(
        UserPoolId=pool, Identifier=IDENTIFIER, Name="api",
        Scopes=[{"ScopeName": s, "ScopeDescription": d} for s, d in args.scopes.items()],
    )
    idp.create_user_pool_domain(UserPoolId=pool, Domain=args.domain_prefix)
    client = idp.create_user_pool_client(
        UserPoolId=pool, ClientName="docs", GenerateSecret=False, AllowedOAuthFlowsUserPoolClient=True,
        AllowedOAuthFlows=["code"], AllowedOAuthScopes=[*STANDARD_SCOPES, args.scope("orders.read")],
        CallbackURLs=["https://d1a2b3c4.cloudfront.net/docs/"], SupportedIdentityProviders=["COGNITO"],
    )["UserPoolClient"]
    server = idp.describe_resource_server(UserPoolId=pool, Identifier=IDENTIFIER)["ResourceServer"]
    assert {s["ScopeName"] for s in server["Scopes"]} == set(DEFAULT_SCOPES)
    assert "ClientSecret" not in client
    assert f"{IDENTIFIER}/orders.read" in client["AllowedOAuthScopes"]
    assert idp.describe_user_pool_domain(Domain="dev-orders")["DomainDescription"]["UserPoolId"] == pool


def test_client_args_adjust_every_app_client(run_pulumi) -> None:
    run = run_pulumi(hosted_program(client_args={"auth_session_validity": 5}))
    inputs = run.named("sign-in-docs-client").inputs
    assert inputs["authSessionValidity"] == 5
    assert inputs["allowedOauthFlows"] == ["code"]

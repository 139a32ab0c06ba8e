"""The local runtime's Cognito authorizer with a Method's authorizationScopes, against moto's real JWKS:
without scopes it takes ID tokens; with scopes only access tokens whose `scope` claim holds one (else 401)."""

from __future__ import annotations

import boto3
import pytest

from offline.local.apigw import CognitoVerifier, GatewayError

READ = "secure-serverless/orders.read"
WRITE = "secure-serverless/orders.write"


def test_scoped_methods_take_only_access_tokens_carrying_one_of_their_scopes(moto_endpoint) -> None:
    from moto.cognitoidp.models import cognitoidp_backends

    idp = boto3.client("cognito-idp", region_name="us-east-1", endpoint_url=moto_endpoint)
    pool = idp.create_user_pool(PoolName="users", UsernameAttributes=["email"])["UserPool"]["Id"]
    idp.create_resource_server(UserPoolId=pool, Identifier="secure-serverless", Name="api", Scopes=[
        {"ScopeName": "orders.read", "ScopeDescription": "Read"},
        {"ScopeName": "orders.write", "ScopeDescription": "Write"}])
    client = idp.create_user_pool_client(
        UserPoolId=pool, ClientName="web", GenerateSecret=False,
        ExplicitAuthFlows=["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        AllowedOAuthFlowsUserPoolClient=True, AllowedOAuthFlows=["code"], AllowedOAuthScopes=["openid", READ, WRITE],
        CallbackURLs=["https://d111111abcdef8.cloudfront.net/docs/"], SupportedIdentityProviders=["COGNITO"],
    )["UserPoolClient"]["ClientId"]
    user = idp.admin_create_user(UserPoolId=pool, Username="ann@example.com", MessageAction="SUPPRESS")["User"]
    idp.admin_set_user_password(UserPoolId=pool, Username="ann@example.com", Password="Correct-Horse-9", Permanent=True)
    tokens = idp.admin_initiate_auth(UserPoolId=pool, ClientId=client, AuthFlow="ADMIN_USER_PASSWORD_AUTH",
                                     AuthParameters={"USERNAME": "ann@example.com", "PASSWORD": "Correct-Horse-9"},
                                     )["AuthenticationResult"]
    # moto's sign-in issues access tokens with only `aws.cognito.signin.user.admin`; the Hosted UI's code flow
    # (which moto does not run) issues them with the granted scopes: minted here by moto's own issuer and key.
    issuer = cognitoidp_backends["123456789012"]["us-east-1"].user_pools[pool]

    def access_token(scope: str) -> str:
        return issuer.create_jwt(client, user["Username"], "access", extra_data={"scope": scope})[0]

    verifier = CognitoVerifier(moto_endpoint, "us-east-1", {pool: [client]})
    assert verifier.verify(tokens["IdToken"], [pool])["token_use"] == "id"  # unscoped routes: unchanged
    with pytest.raises(GatewayError):
        verifier.verify(tokens["IdToken"], [pool], [READ])  # an ID token never passes a scoped Method
    with pytest.raises(GatewayError):
        verifier.verify(tokens["AccessToken"], [pool], [READ])  # an access token without the scope
    with pytest.raises(GatewayError):
        verifier.verify(access_token(f"openid {WRITE}"), [pool], [READ])
    claims = verifier.verify(access_token(f"openid {READ}"), [pool], [READ, "secure-serverless/uploads.write"])
    assert claims["token_use"] == "access" and claims["client_id"] == client
    with pytest.raises(GatewayError):
        CognitoVerifier(moto_endpoint, "us-east-1", {pool: ["another-client"]}).verify(
            access_token(READ), [pool], [READ])  # an access token of another app client

"""Seed 001 (secure-api-cognito-lab) offline: the user pool the component declares, a real sign-in on
moto_server, the IdToken verified against the pool's JWKS, and /hello called with the authorizer's claims.

The pool and client are created from the inputs our program registers (read back from the mocked dev
stack), so this checks the component's actual settings, not a copy of them.
"""

from __future__ import annotations

import base64
import json
import urllib.request

import boto3
import pytest
from joserfc import jwt
from joserfc.errors import BadSignatureError, InvalidClaimError, MissingClaimError
from joserfc.jwk import KeySet

from tests.evaluations import run_stack  # shared, read-only evaluations
from tests.events import api_event

PASSWORD = "MySecurePass123!"  # noqa: S105 - the seed's test password


def user_pool_request(inputs: dict) -> dict:
    """Translate the registered aws:cognito UserPool inputs into the CreateUserPool API call."""
    policy = inputs["passwordPolicy"]
    return {
        "PoolName": inputs["name"],
        "UsernameAttributes": inputs["usernameAttributes"],
        "AutoVerifiedAttributes": inputs["autoVerifiedAttributes"],
        "UsernameConfiguration": {"CaseSensitive": inputs["usernameConfiguration"]["caseSensitive"]},
        "AdminCreateUserConfig": {"AllowAdminCreateUserOnly": inputs["adminCreateUserConfig"]["allowAdminCreateUserOnly"]},
        "MfaConfiguration": inputs["mfaConfiguration"],
        "DeletionProtection": inputs["deletionProtection"],
        "Policies": {
            "PasswordPolicy": {
                "MinimumLength": policy["minimumLength"],
                "RequireUppercase": policy["requireUppercase"],
                "RequireLowercase": policy["requireLowercase"],
                "RequireNumbers": policy["requireNumbers"],
                "RequireSymbols": policy["requireSymbols"],
                "TemporaryPasswordValidityDays": policy["temporaryPasswordValidityDays"],
            }
        },
        "AccountRecoverySetting": {
            "RecoveryMechanisms": [
                {"Name": m["name"], "Priority": m["priority"]} for m in inputs["accountRecoverySetting"]["recoveryMechanisms"]
            ]
        },
    }


def user_pool_client_request(inputs: dict, pool_id: str) -> dict:
    units = inputs["tokenValidityUnits"]
    return {
        "UserPoolId": pool_id,
        "ClientName": inputs["name"],
        "GenerateSecret": inputs["generateSecret"],
        "ExplicitAuthFlows": inputs["explicitAuthFlows"],
        "PreventUserExistenceErrors": inputs["preventUserExistenceErrors"],
        "AccessTokenValidity": inputs["accessTokenValidity"],
        "IdTokenValidity": inputs["idTokenValidity"],
        "RefreshTokenValidity": inputs["refreshTokenValidity"],
        "TokenValidityUnits": {"AccessToken": units["accessToken"], "IdToken": units["idToken"],
                               "RefreshToken": units["refreshToken"]},
        "EnableTokenRevocation": inputs["enableTokenRevocation"],
    }


@pytest.fixture(scope="module")
def declared():
    run = run_stack("dev")
    return (run.of_type("aws:cognito/userPool:UserPool")[0].inputs,
            run.of_type("aws:cognito/userPoolClient:UserPoolClient")[0].inputs)


@pytest.fixture
def signed_in(moto_endpoint, declared):
    pool_inputs, client_inputs = declared
    idp = boto3.client("cognito-idp", endpoint_url=moto_endpoint)
    pool_id = idp.create_user_pool(**user_pool_request(pool_inputs))["UserPool"]["Id"]
    client_id = idp.create_user_pool_client(**user_pool_client_request(client_inputs, pool_id))["UserPoolClient"]["ClientId"]
    email = "testuser@example.com"
    idp.admin_create_user(UserPoolId=pool_id, Username=email, TemporaryPassword="TempPass123!",  # noqa: S106
                          MessageAction="SUPPRESS",
                          UserAttributes=[{"Name": "email", "Value": email}, {"Name": "email_verified", "Value": "true"}])
    idp.admin_set_user_password(UserPoolId=pool_id, Username=email, Password=PASSWORD, Permanent=True)
    result = idp.initiate_auth(AuthFlow="USER_PASSWORD_AUTH", ClientId=client_id,
                               AuthParameters={"USERNAME": email, "PASSWORD": PASSWORD})["AuthenticationResult"]
    with urllib.request.urlopen(f"{moto_endpoint}/{pool_id}/.well-known/jwks.json") as response:  # noqa: S310
        jwks = KeySet.import_key_set(json.loads(response.read()))
    return {"pool_id": pool_id, "client_id": client_id, "email": email, "tokens": result, "jwks": jwks, "idp": idp}


def verify_id_token(token: str, jwks: KeySet, pool_id: str, client_id: str) -> dict:
    """What API Gateway's Cognito authorizer does: signature, issuer, audience, token use, expiry."""
    decoded = jwt.decode(token, jwks, algorithms=["RS256"])
    registry = jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": f"https://cognito-idp.us-east-1.amazonaws.com/{pool_id}"},
        aud={"essential": True, "value": client_id},
        token_use={"essential": True, "value": "id"},
        exp={"essential": True},
    )
    registry.validate(decoded.claims)
    return decoded.claims


def authorizer_claims(claims: dict) -> dict[str, str]:
    """REST API authorizers hand the integration every claim as a string."""
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in claims.items()}


def test_sign_in_verify_and_call_hello(signed_in, load_handler, lambda_context, monkeypatch) -> None:
    claims = verify_id_token(signed_in["tokens"]["IdToken"], signed_in["jwks"], signed_in["pool_id"],
                             signed_in["client_id"])
    assert claims["email"] == signed_in["email"]
    monkeypatch.setenv("ALLOWED_ORIGINS", "http://localhost:3000")
    hello = load_handler("hello")
    response = hello.handler(api_event("GET", "/hello", claims=authorizer_claims(claims)), lambda_context)
    assert response["statusCode"] == 200
    assert json.loads(response["body"]) == {"message": "Hello from secured API!", "user": claims["cognito:username"]}


def test_access_token_is_not_an_id_token(signed_in) -> None:
    # Access tokens carry client_id instead of aud and token_use "access": the authorizer refuses them.
    with pytest.raises((InvalidClaimError, MissingClaimError)):
        verify_id_token(signed_in["tokens"]["AccessToken"], signed_in["jwks"], signed_in["pool_id"],
                        signed_in["client_id"])


def test_token_for_another_client_is_rejected(signed_in) -> None:
    with pytest.raises(InvalidClaimError):
        verify_id_token(signed_in["tokens"]["IdToken"], signed_in["jwks"], signed_in["pool_id"], "another-client")


def test_tampered_token_is_rejected(signed_in) -> None:
    header, payload, signature = signed_in["tokens"]["IdToken"].split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["cognito:username"] = "admin"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    with pytest.raises(BadSignatureError):
        verify_id_token(f"{header}.{forged}.{signature}", signed_in["jwks"], signed_in["pool_id"],
                        signed_in["client_id"])


def test_wrong_password_and_unknown_user_fail_alike(signed_in) -> None:
    idp = signed_in["idp"]
    errors = []
    for username, password in ((signed_in["email"], "WrongPass123!"), ("nobody@example.com", PASSWORD)):
        with pytest.raises(idp.exceptions.ClientError) as error:
            idp.initiate_auth(AuthFlow="USER_PASSWORD_AUTH", ClientId=signed_in["client_id"],
                              AuthParameters={"USERNAME": username, "PASSWORD": password})
        errors.append(error.value.response["Error"]["Code"])
    # prevent_user_existence_errors=ENABLED: an attacker cannot tell which usernames exist.
    assert errors[0] == "NotAuthorizedException"
    assert errors[1] in ("NotAuthorizedException", "UserNotFoundException")

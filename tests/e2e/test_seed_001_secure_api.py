"""Seed 001 (secure-api-cognito-lab) offline: the user pool the component declares, the app's own sign-up on
moto_server (POST /register mails a code, the code is read from the email moto's SES recorded, POST
/register/confirm creates the account), a real sign-in, the IdToken verified against the pool's JWKS, and
/hello called with the authorizer's claims.

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

from components.email_templates import ses_template_input
from tests.evaluations import run_stack  # shared, read-only evaluations
from tests.events import ACCOUNT_ID, REGION, api_event, sqs_event_from_messages
from tests.handlers.test_send_email import CONFIGURATION_SET, SENDER, TEMPLATES, physical_names, sender_env

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


def sign_up_infrastructure(pool_id: str) -> dict[str, str]:
    """What the sign-up functions use besides the pool: the sign-up table, the email outbox and SES."""
    ddb, sqs, ses = (boto3.client(s) for s in ("dynamodb", "sqs", "ses"))
    ddb.create_table(TableName="signup", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
    outbox = sqs.create_queue(QueueName="email-outbox")["QueueUrl"]
    ses.verify_email_identity(EmailAddress=SENDER)
    ses.create_configuration_set(ConfigurationSet={"Name": CONFIGURATION_SET})
    for template in TEMPLATES:
        ses.create_template(Template=ses_template_input(template, physical_names()[template.name]))
    return {"USER_POOL_ID": pool_id, "SIGNUP_TABLE": "signup", "EMAIL_QUEUE_URL": outbox, **sender_env()}


def post(module, path: str, body: dict, context) -> tuple[int, dict]:
    response = module.handler(api_event("POST", path, body=body), context)
    return response["statusCode"], json.loads(response["body"])


def send_outbox(sender, queue_url: str, context) -> None:
    """The email sender's event source mapping, once: every job on the outbox becomes an SES email."""
    sqs = boto3.client("sqs")
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, AttributeNames=["All"])["Messages"]
    assert sender.handler(sqs_event_from_messages(messages, "arn:aws:sqs:us-east-1:123456789012:email-outbox"),
                          context) == {"batchItemFailures": []}
    for m in messages:
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])


def code_from_moto(email: str) -> str:
    """The verification code as the mailbox owner reads it: from the VerifyEmail moto's SES sent to that address."""
    from moto.ses.models import ses_backends

    for message in reversed(ses_backends[ACCOUNT_ID][REGION].sent_messages):
        if message.destinations == {"ToAddresses": [email]} and message.template == physical_names()["VerifyEmail"]:
            return json.loads(message.template_data)["code"]
    raise AssertionError(f"no verification email was sent to {email}")


@pytest.fixture
def signed_in(moto_endpoint, declared, load_handler, lambda_context):
    pool_inputs, client_inputs = declared
    idp = boto3.client("cognito-idp", endpoint_url=moto_endpoint)
    pool_id = idp.create_user_pool(**user_pool_request(pool_inputs))["UserPool"]["Id"]
    client_id = idp.create_user_pool_client(**user_pool_client_request(client_inputs, pool_id))["UserPoolClient"]["ClientId"]
    env = sign_up_infrastructure(pool_id)
    register, confirm, sender = (load_handler(h, env=env) for h in ("register_user", "register_confirm", "send_email"))
    email = "testuser@example.com"

    # 1. Sign up: only the address; the answer is the same whether or not it has an account.
    assert post(register, "/register", {"email": email}, lambda_context) == (202, register.ACCEPTED)
    with pytest.raises(idp.exceptions.ClientError):  # no account exists before the mailbox is proven
        idp.initiate_auth(AuthFlow="USER_PASSWORD_AUTH", ClientId=client_id,
                          AuthParameters={"USERNAME": email, "PASSWORD": PASSWORD})
    send_outbox(sender, env["EMAIL_QUEUE_URL"], lambda_context)

    # 2. Confirm with the emailed code, choosing name and password.
    status, created = post(confirm, "/register/confirm",
                           {"email": email, "code": code_from_moto(email), "name": "Test User", "password": PASSWORD},
                           lambda_context)
    assert status == 201, created
    send_outbox(sender, env["EMAIL_QUEUE_URL"], lambda_context)  # the welcome email

    # 3. Sign in.
    result = idp.initiate_auth(AuthFlow="USER_PASSWORD_AUTH", ClientId=client_id,
                               AuthParameters={"USERNAME": email, "PASSWORD": PASSWORD})["AuthenticationResult"]
    with urllib.request.urlopen(f"{moto_endpoint}/{pool_id}/.well-known/jwks.json") as response:  # noqa: S310
        jwks = KeySet.import_key_set(json.loads(response.read()))
    return {"pool_id": pool_id, "client_id": client_id, "email": email, "tokens": result, "jwks": jwks, "idp": idp,
            "user_id": created["userId"]}


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
    assert claims["email"] == signed_in["email"] and claims["sub"] == signed_in["user_id"]
    user = signed_in["idp"].admin_get_user(UserPoolId=signed_in["pool_id"], Username=signed_in["email"])
    attributes = {a["Name"]: a["Value"] for a in user["UserAttributes"]}
    # Proven by the code, so order confirmations may go there (moto's IdToken omits this claim; Cognito's has it).
    assert user["UserStatus"] == "CONFIRMED" and attributes["email_verified"] == "true"
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

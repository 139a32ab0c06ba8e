"""POST /register against moto: user created and confirmed, welcome email queued then sent, failures rolled back."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from types import ModuleType
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema

from components.settings import settings_from
from handlers.common.validation import load_schema
from tests.events import REGION, LambdaContext, api_event
from tests.handlers import test_send_email as email_tests
from tests.handlers.test_send_email import Outbox, deliver, physical_names, sender_env, sent_messages

# The outbox queue (+ DLQ) and the SES setup (verified sender, templates from the repository files).
outbox = email_tests.outbox
ses = email_tests.ses

SCHEMA = load_schema("register")
DEV_POLICY = settings_from(lambda key: None, project="secure-serverless", stack="dev").cognito.password_policy
BODY = {"email": "Ann.Lee@Example.org", "password": "Correct-Horse-9", "name": "Ann Lee"}


def create_pool(strict: bool = True) -> tuple[str, str]:
    """A pool shaped like SecureApi's (email is the username); `strict` = the dev stack's password policy."""
    idp = boto3.client("cognito-idp", region_name=REGION)
    policy = {
        "MinimumLength": DEV_POLICY.min_length,
        "RequireUppercase": DEV_POLICY.require_uppercase,
        "RequireLowercase": DEV_POLICY.require_lowercase,
        "RequireNumbers": DEV_POLICY.require_numbers,
        "RequireSymbols": DEV_POLICY.require_symbols,
    } if strict else {
        "MinimumLength": SCHEMA["properties"]["password"]["minLength"],
        "RequireUppercase": False, "RequireLowercase": False, "RequireNumbers": False, "RequireSymbols": False,
    }
    pool_id = idp.create_user_pool(
        PoolName="users", UsernameAttributes=["email"], Policies={"PasswordPolicy": policy}
    )["UserPool"]["Id"]
    client_id = idp.create_user_pool_client(
        UserPoolId=pool_id, ClientName="web", ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
    )["UserPoolClient"]["ClientId"]
    return pool_id, client_id


def users(pool_id: str) -> list[dict[str, Any]]:
    return boto3.client("cognito-idp", region_name=REGION).list_users(UserPoolId=pool_id)["Users"]


def queued(outbox: Outbox) -> int:
    attributes = boto3.client("sqs", region_name=REGION).get_queue_attributes(
        QueueUrl=outbox.url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"])


def post(module: ModuleType, body: Any = None, raw_body: str | None = None) -> tuple[int, dict[str, str], Any]:
    response = module.handler(api_event("POST", "/register", body=body, raw_body=raw_body), LambdaContext())
    return response["statusCode"], response["headers"], json.loads(response["body"])


@pytest.fixture
def pool(aws: None) -> tuple[str, str]:
    return create_pool()


@pytest.fixture
def register(pool: tuple[str, str], outbox: Outbox, load_handler: Callable[..., ModuleType]) -> ModuleType:
    return load_handler("register_user", env={"USER_POOL_ID": pool[0], "EMAIL_QUEUE_URL": outbox.url})


def jwt_claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def test_registration_confirms_the_user_who_can_sign_in_and_is_sent_the_welcome_email(
    register: ModuleType, pool: tuple[str, str], outbox: Outbox, ses: Any, load_handler: Callable[..., ModuleType]
) -> None:
    status, _, body = post(register, BODY)

    assert status == 201
    email = BODY["email"].lower()
    assert body == {"userId": body["userId"], "email": email, "welcomeEmail": "queued"}
    idp = boto3.client("cognito-idp", region_name=REGION)
    user = idp.admin_get_user(UserPoolId=pool[0], Username=email)
    attributes = {a["Name"]: a["Value"] for a in user["UserAttributes"]}
    assert user["UserStatus"] == "CONFIRMED"
    assert attributes["email"] == email and attributes["email_verified"] == "true" and attributes["name"] == "Ann Lee"
    assert attributes["sub"] == body["userId"]

    tokens = idp.initiate_auth(
        ClientId=pool[1], AuthFlow="USER_PASSWORD_AUTH", AuthParameters={"USERNAME": email, "PASSWORD": BODY["password"]}
    )["AuthenticationResult"]
    assert jwt_claims(tokens["IdToken"])["sub"] == body["userId"]

    sender = load_handler("send_email", env=sender_env())
    received, result = deliver(outbox, sender.handler)
    assert len(received) == 1 and result == {"batchItemFailures": []}
    [message] = sent_messages()
    assert message.destinations == {"ToAddresses": [email]}
    assert message.template == physical_names()["WelcomeEmail"]
    assert json.loads(message.template_data) == {"name": "Ann Lee", "accountId": body["userId"]}


@pytest.mark.parametrize("second_email", [BODY["email"], BODY["email"].upper()], ids=["same", "other-case"])
def test_duplicate_registration_is_409_and_sends_no_second_email(
    register: ModuleType, pool: tuple[str, str], outbox: Outbox, ses: Any, second_email: str,
    load_handler: Callable[..., ModuleType],
) -> None:
    assert post(register, BODY)[0] == 201

    status, _, body = post(register, {**BODY, "email": second_email, "name": "Mallory"})

    assert status == 409 and body["error"]["code"] == "user_exists"
    [user] = users(pool[0])
    assert {a["Name"]: a["Value"] for a in user["Attributes"]}["name"] == "Ann Lee"
    deliver(outbox, load_handler("send_email", env=sender_env()).handler)
    [message] = sent_messages()
    assert json.loads(message.template_data)["name"] == "Ann Lee"
    assert queued(outbox) == 0


def test_password_outside_the_pool_policy_is_400_with_the_policy_message_and_leaves_nothing(
    register: ModuleType, pool: tuple[str, str], outbox: Outbox
) -> None:
    status, _, body = post(register, {**BODY, "password": "alllowercase"})

    assert status == 400 and body["error"]["code"] == "invalid_password"
    assert "password policy" in body["error"]["message"] and "no account was created" in body["error"]["message"]
    assert users(pool[0]) == [] and queued(outbox) == 0


BAD_BODIES = {
    "name missing": ({"email": BODY["email"], "password": BODY["password"]}, "name is required"),
    "email not a string": ({**BODY, "email": 42}, "email must be of type string"),
    "email malformed": ({**BODY, "email": "ann@example"}, "email has an invalid format"),
    "name too long": ({**BODY, "name": "A" * 101}, "name must be at most 100 characters"),
    "name with markup": ({**BODY, "name": "<script>"}, "name has an invalid format"),
    # Python's `$` matches before a final newline; the schema's (ECMA) `$` does not, and names have no control chars.
    "name with a trailing newline": ({**BODY, "name": "Ann Lee\n"}, "name has an invalid format"),
    "email with a trailing newline": ({**BODY, "email": "ann@example.org\n"}, "email has an invalid format"),
    "password too long": ({**BODY, "password": "Aa1!" * 17}, "password must be at most 64 characters"),
    "unknown field": ({**BODY, "groups": ["admins"]}, "groups is not allowed"),
    "not an object": ([BODY], "body must be of type object"),
}


@pytest.mark.parametrize(("body", "message"), BAD_BODIES.values(), ids=BAD_BODIES.keys())
def test_bad_body_is_400_naming_the_field_and_creates_nothing(
    register: ModuleType, pool: tuple[str, str], outbox: Outbox, body: Any, message: str
) -> None:
    status, _, response = post(register, body)

    assert (status, response["error"]) == (400, {"code": "validation_error", "message": message})
    assert users(pool[0]) == [] and queued(outbox) == 0


@pytest.mark.parametrize("raw", ["", "{\"email\": ", "bnVsbA=="], ids=["empty", "truncated", "base64-ish"])
def test_unparsable_body_is_400(register: ModuleType, raw: str) -> None:
    status, _, response = post(register, raw_body=raw)

    assert status == 400 and response["error"]["code"] in {"invalid_body", "invalid_json", "validation_error"}


def client_error(stubber: Stubber, method: str, code: str, status: int = 400) -> None:
    stubber.add_client_error(method, service_error_code=code, service_message=f"{code} (stubbed)",
                             http_status_code=status)


CREATED = {"User": {"Username": "0f6c-sub", "Attributes": [{"Name": "sub", "Value": "0f6c-sub"}]}}


def test_cognito_throttling_is_503_with_retry_after(register: ModuleType, pool: tuple[str, str]) -> None:
    with Stubber(register.cognito) as stub:
        client_error(stub, "admin_create_user", "TooManyRequestsException", 429)
        status, headers, body = post(register, BODY)
        stub.assert_no_pending_responses()

    assert status == 503 and body["error"]["code"] == "service_unavailable"
    assert int(headers["Retry-After"]) > 0


def test_throttled_password_step_deletes_the_new_user_and_says_so(register: ModuleType, pool: tuple[str, str]) -> None:
    with Stubber(register.cognito) as stub:
        stub.add_response("admin_create_user", CREATED)
        client_error(stub, "admin_set_user_password", "TooManyRequestsException", 429)
        stub.add_response("admin_delete_user", {}, {"UserPoolId": pool[0], "Username": "0f6c-sub"})
        status, headers, body = post(register, BODY)
        stub.assert_no_pending_responses()

    assert status == 503 and "Retry-After" in headers
    assert body["error"]["message"].endswith("no account was created")


def test_unqueueable_welcome_email_rolls_the_user_back(
    pool: tuple[str, str], outbox: Outbox, load_handler: Callable[..., ModuleType]
) -> None:
    missing_queue = outbox.url.rsplit("/", 1)[0] + "/no-such-queue"
    register = load_handler("register_user", env={"USER_POOL_ID": pool[0], "EMAIL_QUEUE_URL": missing_queue})

    status, headers, body = post(register, BODY)

    assert status == 503 and "Retry-After" in headers
    assert "welcome email could not be queued" in body["error"]["message"]
    assert "no account was created" in body["error"]["message"]
    assert users(pool[0]) == []


@pytest.mark.parametrize(("code", "http_status", "expected"), [
    ("InvalidParameterException", 400, (400, "invalid_password")),
    ("InternalErrorException", 500, (500, "registration_failed")),
])
def test_a_refused_password_step_is_rolled_back_and_the_password_never_logged(
    register: ModuleType, pool: tuple[str, str], capsys: pytest.CaptureFixture[str],
    code: str, http_status: int, expected: tuple[int, str],
) -> None:
    """Cognito's own password pattern differs from Python's in places (e.g. "." and U+2028): its refusal is the
    client's mistake, not a 500. No error message of that step (it may quote the password) is returned or logged."""
    password = "Correct\u2028Horse-9"
    with Stubber(register.cognito) as stub:
        stub.add_response("admin_create_user", CREATED)
        stub.add_client_error("admin_set_user_password", service_error_code=code,
                              service_message=f"Value '{password}' at 'password' failed to satisfy constraint",
                              http_status_code=http_status)
        stub.add_response("admin_delete_user", {}, {"UserPoolId": pool[0], "Username": "0f6c-sub"})
        status, _, body = post(register, {**BODY, "password": password})
        stub.assert_no_pending_responses()

    assert (status, body["error"]["code"]) == expected
    assert body["error"]["message"].endswith("no account was created")
    logs = capsys.readouterr().out
    assert password not in logs and password not in json.dumps(body)
    assert json.dumps(password)[1:-1] not in logs  # nor its JSON-escaped form


def test_a_failed_rollback_is_reported_not_hidden(register: ModuleType, pool: tuple[str, str]) -> None:
    with Stubber(register.cognito) as stub:
        stub.add_response("admin_create_user", CREATED)
        client_error(stub, "admin_set_user_password", "InternalErrorException", 500)
        client_error(stub, "admin_delete_user", "InternalErrorException", 500)
        status, _, body = post(register, BODY)
        stub.assert_no_pending_responses()

    assert status == 500 and body["error"]["code"] == "registration_incomplete"
    assert "could not be completed or removed" in body["error"]["message"]


# hypothesis-jsonschema 0.23 cannot draw objects under this Hypothesis (its `many()` API changed), so the body is
# assembled from the schema's own property schemas: every field is still drawn from the schema.
FIELDS = {name: from_schema(sub) for name, sub in SCHEMA["properties"].items()}
VALID_BODIES = st.fixed_dictionaries(FIELDS)
WRONG_TYPES = st.one_of(st.integers(), st.booleans(), st.none(), st.lists(st.text(max_size=3), max_size=2),
                        st.dictionaries(st.text(max_size=3), st.text(max_size=3), max_size=2))


@st.composite
def mutated_bodies(draw: st.DrawFn) -> dict[str, Any]:
    body = dict(draw(VALID_BODIES))
    field = draw(st.sampled_from(sorted(SCHEMA["properties"])))
    mutation = draw(st.sampled_from(["missing", "wrong type", "oversized", "extra field"]))
    if mutation == "missing":
        del body[field]
    elif mutation == "wrong type":
        body[field] = draw(WRONG_TYPES)
    elif mutation == "oversized":
        limit = SCHEMA["properties"][field]["maxLength"]
        body[field] = body[field] + "a" * (limit + 1 - len(body[field]) + draw(st.integers(0, 50)))
    else:
        body[draw(st.text(min_size=1, max_size=10).filter(lambda k: k not in SCHEMA["properties"]))] = "x"
    return body


@pytest.fixture
def lax_register(aws: None, outbox: Outbox, load_handler: Callable[..., ModuleType]) -> tuple[ModuleType, str]:
    """A pool whose password policy is exactly the schema's bounds: every schema-valid body must succeed."""
    pool_id, _ = create_pool(strict=False)
    return load_handler("register_user", env={"USER_POOL_ID": pool_id, "EMAIL_QUEUE_URL": outbox.url}), pool_id


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=VALID_BODIES)
def test_bodies_drawn_from_the_schema_are_accepted(lax_register: tuple[ModuleType, str], body: dict[str, str]) -> None:
    register, pool_id = lax_register
    already = {u["Username"] for u in users(pool_id)}

    status, _, response = post(register, body)

    idp = boto3.client("cognito-idp", region_name=REGION)
    exists = idp.admin_get_user(UserPoolId=pool_id, Username=body["email"].lower())
    if exists["Username"] in already:  # Hypothesis drew an address it had registered before
        assert status == 409
    else:
        assert status == 201, response
        assert exists["UserStatus"] == "CONFIRMED" and response["userId"] == exists["Username"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=mutated_bodies())
def test_mutated_bodies_are_400_and_create_nothing(
    lax_register: tuple[ModuleType, str], outbox: Outbox, body: dict[str, Any]
) -> None:
    register, pool_id = lax_register

    status, _, response = post(register, body)

    assert (status, response["error"]["code"]) == (400, "validation_error")
    assert users(pool_id) == [] and queued(outbox) == 0

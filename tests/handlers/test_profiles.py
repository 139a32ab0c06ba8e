"""POST /profiles and GET /profiles/{id} against moto DynamoDB: own profile only, admins read any, IDOR → 404
(or 400) with nothing written."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from components.order_states import profiles_table
from tests.events import REGION, LambdaContext, api_event, cognito_claims

TABLE = "profiles-test"
ALICE, BOB = "0b7e8f4a-1111-4c3d-9e2f-aaaaaaaaaaaa", "0b7e8f4a-2222-4c3d-9e2f-bbbbbbbbbbbb"


def create_table() -> None:
    plan = profiles_table(TABLE, protect=False)
    boto3.client("dynamodb", region_name=REGION).create_table(
        TableName=plan.name, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": k, "AttributeType": t} for k, t in plan.attributes.items()],
        KeySchema=[{"AttributeName": plan.hash_key, "KeyType": "HASH"}],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": plan.stream_view_type})


def items() -> list[dict[str, Any]]:
    return boto3.resource("dynamodb", region_name=REGION).Table(TABLE).scan()["Items"]


@pytest.fixture
def handlers(aws, load_handler):
    create_table()
    env = {"PROFILES_TABLE": TABLE, "ADMIN_GROUP": "admins"}
    return load_handler("profiles_upsert", env), load_handler("profiles_get", env)


def post(upsert, body: Any, claims: dict[str, str], request_time: int = 1_764_489_600_000, raw: str | None = None):
    event = api_event("POST", "/profiles", body=body, raw_body=raw, claims=claims)
    event["requestContext"]["requestTimeEpoch"] = request_time
    response = upsert.handler(event, LambdaContext())
    return response["statusCode"], json.loads(response["body"])


def get(getter, user_id: str, claims: dict[str, str]):
    event = api_event("GET", "/profiles/{id}", path=f"/profiles/{user_id}", path_parameters={"id": user_id},
                      claims=claims)
    response = getter.handler(event, LambdaContext())
    return response["statusCode"], json.loads(response["body"])


def test_upsert_creates_then_updates_the_callers_own_profile(handlers) -> None:
    upsert, _ = handlers
    claims = cognito_claims(sub=ALICE, email="alice@example.com")

    status, body = post(upsert, {"name": "Aisalkyn Aidarova"}, claims, request_time=1000)
    assert status == 201
    assert body["profile"] == {"userId": ALICE, "email": "alice@example.com", "name": "Aisalkyn Aidarova",
                               "createdAt": 1000, "updatedAt": 1000}

    status, body = post(upsert, {"name": "Aisalkyn", "locale": "en-US"}, claims, request_time=2000)
    assert status == 200
    assert body["profile"]["createdAt"] == 1000 and body["profile"]["updatedAt"] == 2000
    assert body["profile"]["locale"] == "en-US"
    assert len(items()) == 1


@pytest.mark.parametrize("body", [
    {"name": "Mallory", "userId": BOB},           # someone else's id in the body
    {"name": "Mallory", "email": "bob@example.com"},  # an address the token does not carry
    {"name": ""},
    {"name": "x\ny"},
    {},
])
def test_idor_and_invalid_bodies_are_refused_with_nothing_written(handlers, body) -> None:
    upsert, _ = handlers
    status, response = post(upsert, body, cognito_claims(sub=ALICE))
    assert status == 400 and set(response["error"]) == {"code", "message"}
    assert items() == []


def test_upsert_without_identity_is_401_and_writes_nothing(handlers) -> None:
    upsert, _ = handlers
    status, _ = post(upsert, {"name": "x"}, {})
    assert status == 401 and items() == []


def test_get_answers_own_profile_and_404_for_anyone_elses(handlers) -> None:
    upsert, getter = handlers
    post(upsert, {"name": "Alice"}, cognito_claims(sub=ALICE, email="alice@example.com"))
    post(upsert, {"name": "Bob"}, cognito_claims(sub=BOB, email="bob@example.com"))

    status, body = get(getter, ALICE, cognito_claims(sub=ALICE))
    assert status == 200 and body["profile"]["name"] == "Alice"

    # Bob's profile exists; Alice still gets exactly the 404 of an unknown id.
    other = get(getter, BOB, cognito_claims(sub=ALICE))
    unknown = get(getter, "0b7e8f4a-3333-4c3d-9e2f-cccccccccccc", cognito_claims(sub=ALICE))
    assert other == unknown
    assert other[0] == 404 and other[1]["error"]["code"] == "not_found"
    # A group she is not in, or a look-alike group name, grants nothing.
    assert get(getter, BOB, cognito_claims(sub=ALICE, groups=["users", "admins-lite"]))[0] == 404


def test_admins_read_any_profile(handlers) -> None:
    upsert, getter = handlers
    post(upsert, {"name": "Bob"}, cognito_claims(sub=BOB, email="bob@example.com"))
    status, body = get(getter, BOB, cognito_claims(sub=ALICE, groups=["admins"]))
    assert status == 200 and body["profile"]["userId"] == BOB
    assert get(getter, ALICE, cognito_claims(sub=BOB, groups=["admins"]))[0] == 404  # admins: unknown is 404


def test_internal_markers_are_not_returned(handlers) -> None:
    upsert, getter = handlers
    post(upsert, {"name": "Alice"}, cognito_claims(sub=ALICE))
    boto3.resource("dynamodb", region_name=REGION).Table(TABLE).update_item(
        Key={"userId": ALICE}, UpdateExpression="SET welcomeQueued = :m", ExpressionAttributeValues={":m": "id"})
    _, body = get(getter, ALICE, cognito_claims(sub=ALICE))
    assert "welcomeQueued" not in body["profile"]
    # ...and an update keeps the marker (UpdateItem, not PutItem): no second welcome later.
    post(upsert, {"name": "Alice B"}, cognito_claims(sub=ALICE), request_time=9_999_999_999_999)
    assert items()[0]["welcomeQueued"] == "id"


def test_an_unverified_address_is_not_stored(handlers) -> None:
    upsert, _ = handlers
    claims = cognito_claims(sub=ALICE, email="alice@example.com") | {"email_verified": "false"}
    status, body = post(upsert, {"name": "Alice"}, claims)
    assert status == 201 and body["profile"]["email"] == ""

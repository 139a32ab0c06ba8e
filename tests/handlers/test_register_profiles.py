"""One welcome per user: with the profiles table linked, POST /register/confirm creates the user's profile row
(conditional put) and queues no email; the table's stream INSERT is what sends the one WelcomeEmail, and no
replay (of the confirm, of the stream batch, of a later POST /profiles) sends a second one."""

from __future__ import annotations

import json
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest

from tests.events import LambdaContext, api_event, cognito_claims
from tests.handlers.test_profiles import TABLE, create_table, items, post
from tests.handlers.test_profiles_welcome import stream_event
from tests.handlers.test_register_user import (
    EMAIL,
    PASSWORD,
    SignUp,
    create_pool,
    outbox,  # noqa: F401 - fixture
    outbox_jobs,
    users,
)
from tests.handlers.test_register_user import create_table as create_signup_table

REQUEST_TIME = 1_764_489_600_000


@pytest.fixture
def flow(aws: None, outbox, load_handler: Callable[..., ModuleType],  # noqa: F811
         monkeypatch: pytest.MonkeyPatch) -> SignUp:
    pool_id, client_id = create_pool()
    create_table()
    env = {"USER_POOL_ID": pool_id, "SIGNUP_TABLE": create_signup_table()}
    register = load_handler("register_user", env={**env, "EMAIL_QUEUE_URL": outbox.url})
    # As UserRegistration links it: confirm gets the profiles table and not the outbox.
    monkeypatch.delenv("EMAIL_QUEUE_URL")
    confirm = load_handler("register_confirm", env={**env, "PROFILES_TABLE": TABLE})
    return SignUp(pool_id, client_id, outbox, register, confirm)


def finish(flow: SignUp, code: str) -> tuple[int, Any]:
    event = api_event("POST", "/register/confirm", body={"email": EMAIL, "code": code, "name": "Ann Lee",
                                                          "password": PASSWORD}, source_ip="203.0.113.10")
    event["requestContext"]["requestTimeEpoch"] = REQUEST_TIME
    response = flow.confirm.handler(event, LambdaContext())
    return response["statusCode"], json.loads(response["body"])


def welcome_jobs(flow: SignUp) -> list[dict[str, Any]]:
    return [j for j in outbox_jobs(flow.outbox) if j["template"] == "WelcomeEmail"]


def test_confirm_creates_the_profile_row_and_queues_no_email(flow: SignUp) -> None:
    flow.start()
    status, body = finish(flow, flow.code_for())

    assert status == 201 and body["welcomeEmail"] == "pending"
    assert items() == [{"userId": body["userId"], "email": EMAIL.lower(), "name": "Ann Lee",
                        "createdAt": REQUEST_TIME, "updatedAt": REQUEST_TIME}]
    assert [j["template"] for j in outbox_jobs(flow.outbox)] == ["VerifyEmail"]


def test_the_stream_sends_exactly_one_welcome_across_replays_and_a_later_profile_update(
        flow: SignUp, load_handler: Callable[..., ModuleType]) -> None:
    flow.start()
    code = flow.code_for()
    status, body = finish(flow, code)
    assert status == 201
    sub = body["userId"]
    # The same confirm again (a client retry): the code is spent, nothing is written.
    assert finish(flow, code)[0] == 400
    welcome = load_handler("profiles_welcome", {"PROFILES_TABLE": TABLE, "EMAIL_QUEUE_URL": flow.outbox.url})
    first = stream_event()
    assert [r["eventName"] for r in first["Records"]] == ["INSERT"]
    assert welcome.handler(first, LambdaContext()) == {"batchItemFailures": []}
    # The user then saves their profile (a MODIFY), and the stream redelivers everything it holds.
    upsert = load_handler("profiles_upsert", {"PROFILES_TABLE": TABLE})
    assert post(upsert, {"name": "Ann L."}, cognito_claims(sub=sub, email=EMAIL.lower()),
                request_time=REQUEST_TIME + 60_000)[0] == 200
    again = stream_event()
    # The welcome's claim and mark, then the user's update.
    assert [r["eventName"] for r in again["Records"]] == ["INSERT", "MODIFY", "MODIFY", "MODIFY"]
    assert welcome.handler(again, LambdaContext()) == {"batchItemFailures": []}

    assert welcome_jobs(flow) == [{"template": "WelcomeEmail", "to": [EMAIL.lower()],
                                   "data": {"name": "Ann Lee", "accountId": sub}}]


def test_a_replayed_profile_creation_writes_nothing(flow: SignUp) -> None:
    assert flow.confirm.create_profile("sub-1", "a@example.org", "A", 1) is True
    assert flow.confirm.create_profile("sub-1", "b@example.org", "B", 2) is False
    assert items() == [{"userId": "sub-1", "email": "a@example.org", "name": "A", "createdAt": 1, "updatedAt": 1}]
    assert [r["eventName"] for r in stream_event()["Records"]] == ["INSERT"]


def test_an_unwritable_profile_rolls_the_account_back(flow: SignUp) -> None:
    flow.start()
    code = flow.code_for()
    real_put = flow.confirm.dynamodb.put_item

    def refuse(**kwargs: Any) -> Any:
        if kwargs.get("TableName") == TABLE:
            raise flow.confirm.dynamodb.exceptions.InternalServerError(
                {"Error": {"Code": "InternalServerError", "Message": "boom"}}, "PutItem")
        return real_put(**kwargs)

    flow.confirm.dynamodb.put_item = refuse
    try:
        status, body = finish(flow, code)
    finally:
        flow.confirm.dynamodb.put_item = real_put
    assert status == 500 and body["error"]["code"] == "registration_failed"
    assert users(flow.pool_id) == [] and items() == []
    # The code stays valid: the retry creates the account and its profile.
    assert finish(flow, code)[0] == 201 and len(items()) == 1

"""Sign-up on moto: POST /register mails a code (or an "account exists" notice), POST /register/confirm creates
the verified account from that code, then the welcome email; limits per address and per IP on both routes."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from components.settings import settings_from
from handlers.common import signup
from handlers.common.addresses import ADDRESS_PATTERN
from tests.events import ACCOUNT_ID, REGION, LambdaContext, api_event
from tests.handlers import test_send_email as email_tests
from tests.handlers.test_send_email import Outbox, deliver, physical_names, sender_env, sent_messages

outbox = email_tests.outbox
ses = email_tests.ses

DEV_POLICY = settings_from(lambda key: None, project="secure-serverless", stack="dev").cognito.password_policy
EMAIL = "Ann.Lee@Example.org"
PASSWORD = "Correct-Horse-9"  # noqa: S105
TABLE = "signup"


def create_pool() -> tuple[str, str]:
    """A pool shaped like SecureApi's (email is the username) with the dev stack's password policy."""
    idp = boto3.client("cognito-idp", region_name=REGION)
    policy = {"MinimumLength": DEV_POLICY.min_length, "RequireUppercase": DEV_POLICY.require_uppercase,
              "RequireLowercase": DEV_POLICY.require_lowercase, "RequireNumbers": DEV_POLICY.require_numbers,
              "RequireSymbols": DEV_POLICY.require_symbols}
    pool_id = idp.create_user_pool(PoolName="users", UsernameAttributes=["email"],
                                   Policies={"PasswordPolicy": policy})["UserPool"]["Id"]
    client_id = idp.create_user_pool_client(
        UserPoolId=pool_id, ClientName="web", ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
    )["UserPoolClient"]["ClientId"]
    return pool_id, client_id


def create_table(name: str = TABLE) -> str:
    """The sign-up table as the lead is asked to declare it: string key `pk`, TTL on `expiresAt`."""
    ddb = boto3.client("dynamodb", region_name=REGION)
    ddb.create_table(TableName=name, KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
    ddb.update_time_to_live(TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expiresAt"})
    return name


def table_items(name: str = TABLE) -> list[dict[str, Any]]:
    return boto3.client("dynamodb", region_name=REGION).scan(TableName=name)["Items"]


def users(pool_id: str) -> list[dict[str, Any]]:
    return boto3.client("cognito-idp", region_name=REGION).list_users(UserPoolId=pool_id)["Users"]


def outbox_jobs(outbox: Outbox) -> list[dict[str, Any]]:
    """Every job on the outbox, read from moto's queue without receiving it (a receive would spend a delivery)."""
    from moto.sqs.models import sqs_backends

    queue = sqs_backends[ACCOUNT_ID][REGION].queues[outbox.url.rsplit("/", 1)[1]]
    return [json.loads(m.body) for m in queue._messages]


def call(module: ModuleType, path: str, body: Any = None, raw_body: str | None = None,
         ip: str = "203.0.113.10") -> tuple[int, dict[str, str], Any]:
    response = module.handler(api_event("POST", path, body=body, raw_body=raw_body, source_ip=ip), LambdaContext())
    return response["statusCode"], response["headers"], json.loads(response["body"])


@dataclass
class SignUp:
    pool_id: str
    client_id: str
    outbox: Outbox
    register: ModuleType
    confirm: ModuleType

    def start(self, email: str = EMAIL, ip: str = "203.0.113.10") -> tuple[int, dict[str, str], Any]:
        return call(self.register, "/register", {"email": email}, ip=ip)

    def finish(self, code: str, email: str = EMAIL, name: str = "Ann Lee", password: str = PASSWORD,
               ip: str = "203.0.113.10") -> tuple[int, dict[str, str], Any]:
        return call(self.confirm, "/register/confirm",
                    {"email": email, "code": code, "name": name, "password": password}, ip=ip)

    def code_for(self, email: str = EMAIL) -> str:
        """The code as the mailbox owner reads it: from the VerifyEmail job queued for that address."""
        codes = [j["data"]["code"] for j in outbox_jobs(self.outbox)
                 if j["template"] == "VerifyEmail" and j["to"] == [email.lower()]]
        assert codes, f"no code was mailed to {email}"
        return codes[-1]


@pytest.fixture
def flow(aws: None, outbox: Outbox, load_handler: Callable[..., ModuleType]) -> SignUp:
    pool_id, client_id = create_pool()
    env = {"USER_POOL_ID": pool_id, "EMAIL_QUEUE_URL": outbox.url, "SIGNUP_TABLE": create_table()}
    return SignUp(pool_id, client_id, outbox, load_handler("register_user", env=env),
                  load_handler("register_confirm", env=env))


def existing_user(pool_id: str, email: str = EMAIL) -> None:
    idp = boto3.client("cognito-idp", region_name=REGION)
    idp.admin_create_user(UserPoolId=pool_id, Username=email.lower(), MessageAction="SUPPRESS",
                          UserAttributes=[{"Name": "email", "Value": email.lower()},
                                          {"Name": "email_verified", "Value": "true"}])


# ------------------------------------------------------------------------------------------ finding 1: the code


def test_register_creates_no_account_and_mails_only_a_code(flow: SignUp) -> None:
    status, _, body = flow.start()

    assert status == 202 and body["status"] == "CHECK_EMAIL"
    assert users(flow.pool_id) == []  # nothing usable, nothing verified, until the code comes back
    [job] = outbox_jobs(flow.outbox)
    assert job["template"] == "VerifyEmail" and job["to"] == [EMAIL.lower()]
    assert set(job["data"]) == {"code"} and len(job["data"]["code"]) == 6 and job["data"]["code"].isdigit()
    # Only its hash is stored.
    assert all(job["data"]["code"] not in json.dumps(item) for item in table_items())


def test_confirm_with_the_mailed_code_creates_the_verified_account_then_the_welcome_email(
    flow: SignUp, ses: Any, load_handler: Callable[..., ModuleType]
) -> None:
    flow.start()
    code = flow.code_for()
    status, _, body = flow.finish(code)

    assert status == 201 and body["email"] == EMAIL.lower() and body["welcomeEmail"] == "queued"
    idp = boto3.client("cognito-idp", region_name=REGION)
    user = idp.admin_get_user(UserPoolId=flow.pool_id, Username=EMAIL.lower())
    attributes = {a["Name"]: a["Value"] for a in user["UserAttributes"]}
    assert user["UserStatus"] == "CONFIRMED" and attributes["email_verified"] == "true"
    assert attributes["name"] == "Ann Lee" and attributes["sub"] == body["userId"]
    idp.initiate_auth(ClientId=flow.client_id, AuthFlow="USER_PASSWORD_AUTH",
                      AuthParameters={"USERNAME": EMAIL.lower(), "PASSWORD": PASSWORD})

    sender = load_handler("send_email", env=sender_env())
    while deliver(flow.outbox, sender.handler)[0]:
        pass
    templates = [m.template for m in sent_messages()]
    assert templates == [physical_names()["VerifyEmail"], physical_names()["WelcomeEmail"]]
    # The code is single-use.
    assert flow.finish(code)[2]["error"]["code"] == "invalid_code"


def test_a_wrong_code_creates_nothing_and_five_wrong_codes_kill_the_right_one(flow: SignUp) -> None:
    flow.start()
    right = flow.code_for()
    wrong = f"{(int(right) + 1) % 10**6:06d}"
    for _ in range(signup.MAX_ATTEMPTS):
        status, _, body = flow.finish(wrong)
        assert status == 400 and body["error"]["code"] == "invalid_code"
    assert flow.finish(right)[0] == 400
    assert users(flow.pool_id) == []


def test_an_expired_code_is_refused(flow: SignUp, monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    flow.start()
    later = time.time() + signup.CODE_TTL_SECONDS + 1
    monkeypatch.setattr(time, "time", lambda: later)
    assert flow.finish(flow.code_for())[2]["error"]["code"] == "invalid_code"
    assert users(flow.pool_id) == []


def test_a_code_for_an_address_never_registered_is_refused_like_a_wrong_one(flow: SignUp) -> None:
    status, _, body = flow.finish("123456", email="nobody@example.org")
    assert (status, body["error"]["code"]) == (400, "invalid_code")


# ------------------------------------------------------------------------------- finding 2: no existence oracle


@pytest.fixture
def aws_calls(flow: SignUp) -> Iterator[list[str]]:
    """The AWS operations the register handler makes, in order (for the timing comparison)."""
    calls: list[str] = []
    clients = (flow.register.cognito, flow.register.dynamodb, flow.register.sqs)

    def record(model: Any, **_: Any) -> None:
        calls.append(model.name)

    for client in clients:
        client.meta.events.register("before-call.*.*", record)
    yield calls
    for client in clients:
        client.meta.events.unregister("before-call.*.*", record)


def test_existing_and_new_addresses_get_the_same_answer_and_the_same_calls(flow: SignUp, aws_calls: list[str]) -> None:
    existing_user(flow.pool_id, "old@example.org")

    new = flow.start("new@example.org")
    new_calls = list(aws_calls)
    aws_calls.clear()
    old = flow.start("old@example.org")

    assert new[0] == old[0] == 202 and new[2] == old[2]
    assert new_calls == aws_calls  # same operations in the same order: no call-count timing oracle
    jobs = {j["to"][0]: j for j in outbox_jobs(flow.outbox)}
    assert jobs["new@example.org"]["template"] == "VerifyEmail"
    assert jobs["old@example.org"] == {"template": "AccountExists", "to": ["old@example.org"], "data": {}}


# ----------------------------------------------------------------------------------------------- limits


def test_per_address_limit_refuses_with_429_and_writes_and_sends_nothing(flow: SignUp) -> None:
    limit = signup.REGISTER_PER_ADDRESS[0]
    for i in range(limit):
        assert flow.start(ip=f"198.51.100.{i}")[0] == 202
    before = table_items()

    status, headers, body = flow.start(ip="198.51.100.200")

    assert status == 429 and body["error"]["code"] == "too_many_requests" and int(headers["Retry-After"]) > 0
    assert table_items() == before and len(outbox_jobs(flow.outbox)) == limit


def test_per_ip_limit_covers_every_address(flow: SignUp) -> None:
    limit = signup.REGISTER_PER_IP[0]
    for i in range(limit):
        assert flow.start(f"user{i}@example.org")[0] == 202
    assert flow.start("one-more@example.org")[0] == 429
    assert flow.start("one-more@example.org", ip="192.0.2.1")[0] == 202


def test_confirm_is_limited_per_ip_across_addresses(flow: SignUp) -> None:
    for i in range(signup.CONFIRM_PER_IP[0]):
        assert flow.finish("000000", email=f"user{i}@example.org")[0] == 400
    assert flow.finish("000000", email="other@example.org")[0] == 429


# ---------------------------------------------------------------------------------- finding 4: names


HOSTILE_NAMES = {
    "bidi override": "Ann\u202eeL",
    "bidi isolate": "Ann\u2067x",
    "C1 control": "Ann\u0085Lee",
    "line separator": "Ann\u2028Lee",
    "paragraph separator": "Ann\u2029Lee",
    "zero width space": "An\u200bn",
    "zero width joiner": "An\u200dn",
    "BOM": "\ufeffAnn",
    "markup": "<b>Ann</b>",
}


@pytest.mark.parametrize("name", HOSTILE_NAMES.values(), ids=HOSTILE_NAMES.keys())
def test_names_with_invisible_or_reordering_characters_are_refused(flow: SignUp, name: str) -> None:
    flow.start()
    code = flow.code_for()
    status, _, body = flow.finish(code, name=name)
    assert status == 400 and body["error"]["code"] == "validation_error"
    assert users(flow.pool_id) == []
    assert flow.finish(code)[0] == 201  # the refusal spent no attempt


def test_a_lone_surrogate_in_a_name_is_400(flow: SignUp) -> None:
    raw = '{"email": "ann@example.org", "code": "123456", "name": "Ann\\ud800", "password": "Correct-Horse-9"}'
    status, _, body = call(flow.confirm, "/register/confirm", raw_body=raw)
    assert status == 400 and body["error"]["code"] == "validation_error"
    assert table_items() == []


# ------------------------------------------------------------------------- finding 9: one address grammar


def test_an_apostrophe_address_signs_up_and_is_mailed_end_to_end(
    flow: SignUp, ses: Any, load_handler: Callable[..., ModuleType], monkeypatch: pytest.MonkeyPatch
) -> None:
    # moto's username check (`[A-Za-z0-9._%+-]+@...`) is narrower than RFC 5322 and than what Cognito documents
    # for the email attribute; it is widened to the shared grammar here (not provable offline: see the report).
    from moto.cognitoidp import utils

    monkeypatch.setitem(utils.FORMATS, "email", ADDRESS_PATTERN[1:-1])
    email = "o'neil@example.org"
    assert flow.start(email)[0] == 202
    assert flow.finish(flow.code_for(email), email=email)[0] == 201
    sender = load_handler("send_email", env=sender_env())
    while (batch := deliver(flow.outbox, sender.handler))[0]:
        assert batch[1] == {"batchItemFailures": []}
    assert [m.destinations["ToAddresses"] for m in sent_messages()] == [[email], [email]]


# ------------------------------------------------------------------------------- failures after creation

CREATED = {"User": {"Username": "0f6c-sub", "Attributes": [{"Name": "sub", "Value": "0f6c-sub"}]}}


def test_a_password_cognito_refuses_leaves_no_account_and_the_code_usable(flow: SignUp) -> None:
    flow.start()
    code = flow.code_for()
    status, _, body = flow.finish(code, password="short1")
    assert status == 400 and body["error"]["code"] == "invalid_password"
    assert body["error"]["message"].endswith("no account was created") and users(flow.pool_id) == []
    assert flow.finish(code)[0] == 201


def test_an_unqueueable_welcome_email_rolls_the_account_back(flow: SignUp, monkeypatch: pytest.MonkeyPatch) -> None:
    flow.start()
    code = flow.code_for()
    monkeypatch.setattr(flow.confirm, "EMAIL_QUEUE_URL", flow.outbox.url.rsplit("/", 1)[0] + "/no-such-queue")
    status, headers, body = flow.finish(code)
    assert status == 503 and "Retry-After" in headers and body["error"]["message"].endswith("no account was created")
    assert users(flow.pool_id) == []


def test_a_failed_rollback_is_reported_not_hidden(flow: SignUp) -> None:
    flow.start()
    code = flow.code_for()
    with Stubber(flow.confirm.cognito) as stub:
        stub.add_response("admin_create_user", CREATED)
        stub.add_client_error("admin_set_user_password", service_error_code="InternalErrorException",
                              http_status_code=500)
        stub.add_client_error("admin_delete_user", service_error_code="InternalErrorException", http_status_code=500)
        status, _, body = flow.finish(code)
        stub.assert_no_pending_responses()
    assert status == 500 and body["error"]["code"] == "registration_incomplete"


def test_the_password_is_never_logged_or_echoed(flow: SignUp, capsys: pytest.CaptureFixture[str]) -> None:
    password = "Correct\u2028Horse-9"  # noqa: S105
    flow.start()
    code = flow.code_for()
    with Stubber(flow.confirm.cognito) as stub:
        stub.add_response("admin_create_user", CREATED)
        stub.add_client_error("admin_set_user_password", service_error_code="InvalidParameterException",
                              service_message=f"Value '{password}' at 'password' failed", http_status_code=400)
        stub.add_response("admin_delete_user", {}, {"UserPoolId": flow.pool_id, "Username": "0f6c-sub"})
        status, _, body = flow.finish(code, password=password)
    assert status == 400 and body["error"]["code"] == "invalid_password"
    logs = capsys.readouterr().out
    assert password not in logs and json.dumps(password)[1:-1] not in logs and password not in json.dumps(body)


@pytest.mark.parametrize("body", [{}, {"email": "not-an-address"}, {"email": EMAIL, "name": "x"}, []],
                         ids=["empty", "bad-address", "extra-field", "array"])
def test_bad_register_bodies_are_400_and_leave_nothing(flow: SignUp, body: Any) -> None:
    status, _, response = call(flow.register, "/register", body)
    assert status == 400 and response["error"]["code"] == "validation_error"
    assert table_items() == [] and outbox_jobs(flow.outbox) == []

"""POST /orders against moto SQS: server-side pricing, identity from claims, idempotency keys, bad input."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from decimal import Decimal
from types import ModuleType
from typing import Any

import boto3
import jsonschema
import pytest
from botocore.stub import Stubber
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema

from handlers.common.validation import load_schema
from tests.events import REGION, LambdaContext, api_event, cognito_claims

SCHEMA = load_schema("order")
SCHEMA_WITHOUT_TOTAL = {**SCHEMA, "properties": {k: v for k, v in SCHEMA["properties"].items() if k != "total"}}


def schema_instances(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Valid instances of `schema`. hypothesis-jsonschema 0.23 cannot draw objects under this Hypothesis (its
    `many()` API changed), so objects and arrays are assembled here and every leaf is drawn by `from_schema`."""
    if schema.get("type") == "object":
        properties = {name: schema_instances(sub) for name, sub in schema["properties"].items()}
        required = set(schema.get("required", ()))
        return st.fixed_dictionaries({k: v for k, v in properties.items() if k in required},
                                     optional={k: v for k, v in properties.items() if k not in required})
    if schema.get("type") == "array":
        # Up to the schema's maximum, but mostly short lists: the bounds themselves are tested explicitly.
        return st.lists(schema_instances(schema["items"]), min_size=schema.get("minItems", 0),
                        max_size=min(schema.get("maxItems", 10), 10))
    return from_schema(schema)


VALID_ORDERS = schema_instances(SCHEMA_WITHOUT_TOTAL)
FIXTURE_SETTINGS = settings(suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)


def order_body(*items: tuple[str, int, str], currency: str = "USD", **extra: Any) -> dict[str, Any]:
    """`order_body(("A-1", 2, "9.99"))`: items as (sku, qty, unitPrice)."""
    lines = [{"sku": sku, "name": f"Item {sku}", "qty": qty, "unitPrice": price} for sku, qty, price in items]
    return {"items": lines, "currency": currency, **extra}


def post_order(submit: ModuleType, body: Any = None, *, claims: dict[str, str] | None = None,
               headers: dict[str, str] | None = None, raw_body: str | None = None) -> tuple[int, dict[str, Any]]:
    event = api_event("POST", "/orders", body=body, raw_body=raw_body, headers=headers,
                      claims=claims if claims is not None else cognito_claims(sub="sub-1"))
    response = submit.handler(event, LambdaContext())
    return response["statusCode"], json.loads(response["body"])


def create_queue(name: str = "orders") -> str:
    attributes = {"FifoQueue": "true"} if name.endswith(".fifo") else {}
    return boto3.client("sqs", region_name=REGION).create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]


def create_idempotency_table(name: str = "idempotency") -> str:
    """The idempotency table as the lead is asked to declare it: string key `pk`, TTL on `expiresAt`."""
    ddb = boto3.client("dynamodb", region_name=REGION)
    ddb.create_table(TableName=name, KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
    return name


def queued(url: str) -> list[dict[str, Any]]:
    """Every message on the queue (received once, with all attributes)."""
    sqs = boto3.client("sqs", region_name=REGION)
    messages: list[dict[str, Any]] = []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"],
                                       MessageAttributeNames=["All"]).get("Messages", []):
        messages.extend(batch)
    return messages


def queue_depth(url: str) -> int:
    attributes = boto3.client("sqs", region_name=REGION).get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


@pytest.fixture
def orders_queue(aws: None) -> str:
    return create_queue()


@pytest.fixture
def submit(orders_queue: str, load_handler: Callable[..., ModuleType]) -> ModuleType:
    return load_handler("orders_submit", env={"ORDERS_QUEUE_URL": orders_queue,
                                              "IDEMPOTENCY_TABLE": create_idempotency_table()})


# ------------------------------------------------------------------------------------------------ accepted


def test_order_is_queued_with_a_server_computed_decimal_total(submit: ModuleType, orders_queue: str) -> None:
    claims = cognito_claims(sub="sub-7", email="ann@example.org")
    claims["name"] = "Ann"
    # 3 x 0.10 + 0.20 is 0.5000000000000001 in binary floats.
    status, body = post_order(submit, order_body(("A-1", 3, "0.10"), ("B-2", 1, "0.2"), priority="express"),
                              claims=claims)

    assert status == 202
    assert body == {"orderId": body["orderId"], "status": "QUEUED"}
    assert str(uuid.UUID(body["orderId"])) == body["orderId"]
    [message] = queued(orders_queue)
    order = json.loads(message["Body"])
    assert order["orderId"] == body["orderId"]
    assert order["customer"] == {"sub": "sub-7", "email": "ann@example.org", "name": "Ann"}
    assert order["total"] == "0.50"
    assert [(i["unitPrice"], i["lineTotal"]) for i in order["items"]] == [("0.10", "0.30"), ("0.20", "0.20")]
    assert {k: v["StringValue"] for k, v in message["MessageAttributes"].items()} == {
        "priority": "express", "currency": "USD", "itemCount": "2",
    }


def test_a_client_total_is_checked_not_trusted(submit: ModuleType, orders_queue: str) -> None:
    items = (("A-1", 3, "0.10"), ("B-2", 1, "0.20"))
    assert post_order(submit, order_body(*items, total="0.5"))[0] == 202
    status, body = post_order(submit, order_body(*items, total="0.49"))

    assert (status, body["error"]["code"]) == (400, "total_mismatch")
    assert "0.50" in body["error"]["message"]
    assert [json.loads(m["Body"])["total"] for m in queued(orders_queue)] == ["0.50"]


def test_the_customer_comes_from_the_claims_never_the_body(submit: ModuleType, orders_queue: str) -> None:
    status, body = post_order(submit, order_body(("A-1", 1, "1.00"), customerId="someone-else"))
    assert (status, body["error"]["code"]) == (400, "validation_error")
    status, body = post_order(submit, order_body(("A-1", 1, "1.00")), claims={})
    assert (status, body["error"]["code"]) == (401, "unauthorized")
    status, _ = post_order(submit, order_body(("A-1", 1, "1.00")), claims=cognito_claims(sub="../other"))
    assert status == 401
    assert queue_depth(orders_queue) == 0


def test_an_unverified_email_claim_is_never_used(submit: ModuleType, orders_queue: str) -> None:
    claims = cognito_claims(sub="sub-8", email="typed-by-user@example.org")
    claims["email_verified"] = "false"
    assert post_order(submit, order_body(("A-1", 1, "1.00")), claims=claims)[0] == 202
    [message] = queued(orders_queue)
    assert json.loads(message["Body"])["customer"] == {"sub": "sub-8", "email": None, "name": "customer"}


@pytest.mark.parametrize("name", ["Ann\u202eeL", "Ann\u2028Lee", "<img src=x onerror=alert(1)>", "An\u200bn"])
def test_a_name_claim_the_sign_up_rules_refuse_is_not_used(submit: ModuleType, orders_queue: str, name: str) -> None:
    """Users can set their own `name` through Cognito's UpdateUserAttributes: the sign-up rules apply here too."""
    assert post_order(submit, order_body(("A-1", 1, "5.00")), claims={**cognito_claims(sub="s9"), "name": name})[0] == 202
    [message] = queued(orders_queue)
    assert json.loads(message["Body"])["customer"]["name"] == "customer"


# ---------------------------------------------------------------------------------------------- idempotency


def test_the_same_idempotency_key_from_the_same_user_gives_the_same_order(submit: ModuleType,
                                                                          orders_queue: str) -> None:
    body = order_body(("A-1", 1, "5.00"))
    alice, bob = cognito_claims(sub="alice"), cognito_claims(sub="bob")
    key = {"Idempotency-Key": "checkout-123"}

    first = post_order(submit, body, claims=alice, headers=key)[1]["orderId"]
    retry = post_order(submit, body, claims=alice, headers={"idempotency-key": "checkout-123"})[1]["orderId"]
    other_user = post_order(submit, body, claims=bob, headers=key)[1]["orderId"]
    no_key = {post_order(submit, body, claims=alice)[1]["orderId"] for _ in range(2)}

    assert first == retry == submit.order_id_for("alice", "checkout-123", submit.request_fingerprint(body))
    assert other_user != first
    assert len(no_key) == 2 and first not in no_key
    # A standard queue holds the resend: the processor's conditional receipt write makes it one order.
    assert sorted(json.loads(m["Body"])["orderId"] for m in queued(orders_queue)).count(first) == 2


def test_the_same_key_with_another_body_is_422_and_queues_nothing(submit: ModuleType, orders_queue: str) -> None:
    """IETF Idempotency-Key draft: a key reused with a different payload is a 422, never a silent success."""
    key = {"Idempotency-Key": "checkout-9"}
    first = post_order(submit, order_body(("A-1", 1, "5.00")), headers=key)
    status, body = post_order(submit, order_body(("A-1", 2, "5.00")), headers=key)

    assert first[0] == 202
    assert (status, body["error"]["code"]) == (422, "idempotency_key_reused")
    assert queue_depth(orders_queue) == 1


def test_a_retry_after_a_failed_send_still_queues_the_order(submit: ModuleType, orders_queue: str,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """The key is recorded before the send: a send that fails must not turn the retry into a silent no-op."""
    key = {"Idempotency-Key": "checkout-10"}
    body = order_body(("A-1", 1, "5.00"))
    with Stubber(submit.sqs) as stub:
        stub.add_client_error("send_message", service_error_code="ThrottlingException", http_status_code=400)
        assert post_order(submit, body, headers=key)[0] == 503
    status, response = post_order(submit, body, headers=key)
    assert status == 202
    [message] = queued(orders_queue)
    assert json.loads(message["Body"])["orderId"] == response["orderId"]


def test_after_the_key_expired_another_body_is_a_new_order_not_a_dropped_one(
    submit: ModuleType, orders_queue: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    key = {"Idempotency-Key": "checkout-12"}
    first = post_order(submit, order_body(("A-1", 1, "5.00")), headers=key)[1]["orderId"]
    later = time.time() + submit.IDEMPOTENCY_TTL_SECONDS + 1
    monkeypatch.setattr(time, "time", lambda: later)
    status, body = post_order(submit, order_body(("A-1", 3, "5.00")), headers=key)
    assert status == 202 and body["orderId"] != first  # the processor would have kept the first one silently


def test_a_reformatted_body_is_the_same_request(submit: ModuleType, orders_queue: str) -> None:
    key = {"Idempotency-Key": "checkout-11"}
    body = order_body(("A-1", 1, "5.00"))
    first = submit.handler(api_event("POST", "/orders", raw_body=json.dumps(body), claims=cognito_claims(sub="s1"),
                                     headers=key), LambdaContext())
    again = submit.handler(api_event("POST", "/orders", raw_body=json.dumps(body, indent=4, sort_keys=True),
                                     claims=cognito_claims(sub="s1"), headers=key), LambdaContext())
    assert first["statusCode"] == again["statusCode"] == 202 and first["body"] == again["body"]


@pytest.mark.parametrize("key", ["", "has space", "x" * 256, "caf\u00e9"])
def test_a_malformed_idempotency_key_is_rejected(submit: ModuleType, orders_queue: str, key: str) -> None:
    status, body = post_order(submit, order_body(("A-1", 1, "5.00")), headers={"Idempotency-Key": key})
    assert (status, body["error"]["code"]) == (400, "invalid_idempotency_key")
    assert queue_depth(orders_queue) == 0


def test_fifo_queue_groups_by_customer_and_drops_a_retried_submit(aws: None,
                                                                  load_handler: Callable[..., ModuleType]) -> None:
    url = create_queue("orders.fifo")
    submit = load_handler("orders_submit", env={"ORDERS_QUEUE_URL": url,
                                                "IDEMPOTENCY_TABLE": create_idempotency_table()})
    claims = cognito_claims(sub="carol")
    key = {"Idempotency-Key": "k-1"}

    ids = [post_order(submit, order_body(("A-1", 1, "5.00")), claims=claims, headers=key)[1]["orderId"]
           for _ in range(2)]

    [message] = queued(url)
    assert ids[0] == ids[1] == json.loads(message["Body"])["orderId"]
    assert message["Attributes"]["MessageGroupId"] == "carol"
    assert message["Attributes"]["MessageDeduplicationId"] == ids[0]


# ------------------------------------------------------------------------------------------------ bad input

VALID_ITEM = {"sku": "A-1", "name": "Pen", "qty": 1, "unitPrice": "1.00"}
INVALID_BODIES = {
    "negative qty": order_body(("A-1", -1, "1.00")),
    "zero qty": order_body(("A-1", 0, "1.00")),
    "qty as string": {"items": [{**VALID_ITEM, "qty": "1"}], "currency": "USD"},
    "fractional qty": {"items": [{**VALID_ITEM, "qty": 1.5}], "currency": "USD"},
    "empty items": {"items": [], "currency": "USD"},
    "101 items": {"items": [VALID_ITEM] * 101, "currency": "USD"},
    "huge array": {"items": [VALID_ITEM] * 10_000, "currency": "USD"},
    "items not an array": {"items": VALID_ITEM, "currency": "USD"},
    "price as a float": {"items": [{**VALID_ITEM, "unitPrice": 1.0}], "currency": "USD"},
    "negative price": order_body(("A-1", 1, "-1.00")),
    "three decimals": order_body(("A-1", 1, "1.005")),
    "exponent price": order_body(("A-1", 1, "1e3")),
    "unknown currency": order_body(("A-1", 1, "1.00"), currency="XXX"),
    "missing currency": {"items": [VALID_ITEM]},
    "missing sku": {"items": [{k: v for k, v in VALID_ITEM.items() if k != "sku"}], "currency": "USD"},
    "extra item field": {"items": [{**VALID_ITEM, "discount": "1.00"}], "currency": "USD"},
    "total as number": order_body(("A-1", 1, "1.00"), total=1.0),
    "total mismatch": order_body(("A-1", 2, "1.00"), total="1.00"),
    "body is a list": [VALID_ITEM],
    "body is null": None,
}


@pytest.mark.parametrize("body", INVALID_BODIES.values(), ids=INVALID_BODIES.keys())
def test_invalid_orders_are_rejected_and_nothing_is_queued(submit: ModuleType, orders_queue: str, body: Any) -> None:
    status, response = post_order(submit, raw_body=json.dumps(body))
    assert status == 400
    assert response["error"]["code"] in ("validation_error", "total_mismatch", "invalid_body")
    assert queue_depth(orders_queue) == 0


VALID_RAW = json.dumps(order_body(("A-1", 1, "5.00")))


@pytest.mark.parametrize("raw", [
    "{not json", "", "\u00ff\u00fe", "[1,", "NaN",
    # Each of these was a 500 (an exception the JSON error handling did not expect) or a silently picked value.
    VALID_RAW.replace('"qty": 1', '"qty": ' + "9" * 5000),
    VALID_RAW.replace('"qty": 1', '"qty": 1e400'),
    "[" * 50_000 + "]" * 50_000,
    VALID_RAW.replace('"currency": "USD"', '"currency": "USD", "currency": "EUR"'),
], ids=["garbage", "empty", "latin1", "truncated", "nan", "huge-int", "overflow", "deep", "duplicate-key"])
def test_a_body_that_is_not_json_is_rejected(submit: ModuleType, orders_queue: str, raw: str) -> None:
    status, response = post_order(submit, raw_body=raw)
    assert status == 400
    assert response["error"]["code"] in ("invalid_json", "invalid_body", "validation_error")
    assert queue_depth(orders_queue) == 0


@FIXTURE_SETTINGS
@given(body=VALID_ORDERS, with_total=st.booleans())
def test_every_schema_valid_order_is_accepted(submit: ModuleType, orders_queue: str, body: dict,
                                              with_total: bool) -> None:
    before = queue_depth(orders_queue)
    expected = sum((Decimal(i["unitPrice"]) * i["qty"] for i in body["items"]), Decimal(0))
    if with_total:
        body = {**body, "total": f"{expected:.2f}"}
    status, response = post_order(submit, body)
    assert status == 202, response
    assert queue_depth(orders_queue) == before + 1


def _wrong_type(value: Any) -> st.SearchStrategy[Any]:
    others = [st.none(), st.booleans(), st.integers(-5, 5), st.floats(allow_nan=False), st.text(max_size=5),
              st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2)]
    return st.one_of(*others).filter(lambda v: type(v) is not type(value))


@st.composite
def broken_orders(draw: st.DrawFn) -> Any:
    """A schema-valid order with one value (top level or in an item) replaced by a value of another type."""
    body = draw(VALID_ORDERS)
    target = body if draw(st.booleans()) else draw(st.sampled_from(body["items"]))
    field = draw(st.sampled_from(sorted(target)))
    target[field] = draw(_wrong_type(target[field]))
    return body


@FIXTURE_SETTINGS
@given(body=broken_orders())
def test_schema_invalid_orders_are_rejected(submit: ModuleType, orders_queue: str, body: Any) -> None:
    assume(not jsonschema.Draft4Validator(SCHEMA).is_valid(body))
    status, _ = post_order(submit, body)
    assert status == 400
    assert queue_depth(orders_queue) == 0


# ---------------------------------------------------------------------------------------------- the schema


def test_the_schema_and_the_handler_agree_on_currencies_and_decimals(submit: ModuleType) -> None:
    jsonschema.Draft4Validator.check_schema(SCHEMA)
    assert set(SCHEMA["properties"]["currency"]["enum"]) == set(submit.MINOR_UNITS)
    # The price pattern allows exactly as many decimals as the currencies have minor units.
    assert set(submit.MINOR_UNITS.values()) == {2}
    price = SCHEMA["properties"]["items"]["items"]["properties"]["unitPrice"]
    validator = jsonschema.Draft4Validator(price)
    assert validator.is_valid("0.01") and validator.is_valid("99999999.99")
    assert not validator.is_valid("0.001") and not validator.is_valid("100000000")


def test_the_largest_valid_order_fits_in_one_sqs_message(submit: ModuleType, orders_queue: str) -> None:
    """100 items with 100-character names that JSON escapes to 12 bytes each, the largest amounts: < 256 KiB."""
    name = "\U0001f600" * 100
    body = {"items": [{"sku": "S" * 64, "name": name, "qty": 1000, "unitPrice": "99999999.99"}] * 100,
            "currency": "USD", "priority": "standard"}
    assert post_order(submit, body)[0] == 202
    [message] = queued(orders_queue)
    assert 100 * 1200 < len(message["Body"].encode()) < 256 * 1024
    assert json.loads(message["Body"])["total"] == "9999999999000.00"


@pytest.mark.parametrize(("code", "http_status"), [("RequestThrottled", 403), ("KMS.ThrottlingException", 400),
                                                   ("ServiceUnavailable", 503)])
def test_a_throttled_queue_is_503_with_retry_after_not_500(submit: ModuleType, code: str, http_status: int) -> None:
    """The client may retry (with its Idempotency-Key the retry is the same order); a 500 says "don't"."""
    with Stubber(submit.sqs) as stub:
        stub.add_client_error("send_message", service_error_code=code, http_status_code=http_status)
        event = api_event("POST", "/orders", body=order_body(("A-1", 1, "5.00")), claims=cognito_claims(sub="sub-1"),
                          headers={"Idempotency-Key": "k-1"})
        response = submit.handler(event, LambdaContext())
    assert response["statusCode"] == 503 and int(response["headers"]["Retry-After"]) > 0
    assert json.loads(response["body"])["error"]["code"] == "service_unavailable"

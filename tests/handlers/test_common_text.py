"""The shared text rules: one address grammar (finding 9), display names (finding 4), HTML-neutral values (3),
and the request limits' windows."""

from __future__ import annotations

import unicodedata

import boto3
import pytest
from hypothesis import given
from hypothesis import strategies as st

from handlers.common.addresses import ADDRESS_PATTERN, is_address
from handlers.common.http import HttpError
from handlers.common.limits import Limit, consume
from handlers.common.text import HTML_NEUTRAL, REFUSED_CATEGORIES, email_safe, name_problem
from handlers.common.validation import load_schema, validate
from tests.events import REGION


def test_every_schema_that_carries_an_address_uses_the_one_grammar() -> None:
    assert load_schema("register")["properties"]["email"]["pattern"] == ADDRESS_PATTERN
    assert load_schema("register_confirm")["properties"]["email"]["pattern"] == ADDRESS_PATTERN
    assert load_schema("email_job")["properties"]["to"]["items"]["pattern"] == ADDRESS_PATTERN


@pytest.mark.parametrize("address", ["o'neil@example.org", "a.b+tag@sub.example.co", "x!#$%&*/=?^_`{|}~-@ex.io"])
def test_valid_addresses_pass_everywhere(address: str) -> None:
    assert is_address(address)
    assert validate({"email": address}, load_schema("register")) == []


@pytest.mark.parametrize("address", ["a@b", "a..b@example.org", ".a@example.org", "a@-x.org", "a b@x.org",
                                     "a@x.org\n", "a@x.o", "é@example.org", "a" * 65 + "@example.org"])
def test_invalid_addresses_fail_everywhere(address: str) -> None:
    assert not is_address(address)


NAME_SCHEMA = load_schema("register_confirm")["properties"]["name"]


@given(st.text(min_size=1, max_size=100))
def test_a_name_the_handler_accepts_is_never_refused_by_the_gateway_model(name: str) -> None:
    if name_problem(name) is None:
        assert validate(name, NAME_SCHEMA) == []
        assert not any(unicodedata.category(c) in REFUSED_CATEGORIES for c in name)


@given(st.text())
def test_email_safe_values_hold_no_html_special_or_invisible_character(value: str) -> None:
    safe = email_safe(value)
    assert not set(safe) & {chr(c) for c in HTML_NEUTRAL}
    assert not any(unicodedata.category(c) in REFUSED_CATEGORIES for c in safe)
    assert len(safe) == len(value)


def test_a_limit_opens_again_in_the_next_window(aws: None) -> None:
    ddb = boto3.client("dynamodb", region_name=REGION)
    ddb.create_table(TableName="t", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
    limit = Limit("scope", "value", 2, 60)
    now = 1_000_040.0  # 20 s into a 60 s window
    consume(ddb, "t", [limit], clock=lambda: now)
    consume(ddb, "t", [limit], clock=lambda: now)
    with pytest.raises(HttpError) as refused:
        consume(ddb, "t", [limit], clock=lambda: now)
    assert refused.value.status == 429 and refused.value.headers["Retry-After"] == "40"
    consume(ddb, "t", [limit], clock=lambda: now + 60)
    items = ddb.scan(TableName="t")["Items"]
    assert all("value" not in item["pk"]["S"] for item in items)  # hashed, never the value itself

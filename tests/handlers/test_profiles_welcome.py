"""The profiles stream consumer on real stream records (moto DynamoDB Streams): one WelcomeEmail per new
profile, none for updates, none again when the stream redelivers, and a failed record is reported alone."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.config import Config

from handlers.common.validation import load_schema, validate
from tests.events import REGION, LambdaContext, cognito_claims
from tests.handlers.test_orders_submit import create_queue, queued
from tests.handlers.test_profiles import ALICE, BOB, TABLE, create_table, post


def stream_event() -> dict[str, Any]:
    """Every record the table's stream holds, as Lambda would deliver them (with eventSourceARN)."""
    ddb = boto3.client("dynamodb", region_name=REGION)
    # botocore addresses streams at <account>.streams-ddb.<region> (account-based endpoints); moto 5.2.5 only
    # answers the regional endpoint.
    streams = boto3.client("dynamodbstreams", region_name=REGION,
                           config=Config(account_id_endpoint_mode="disabled"))
    arn = ddb.describe_table(TableName=TABLE)["Table"]["LatestStreamArn"]
    records = []
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"],
                                              ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        records += [{**r, "eventSourceARN": arn} for r in streams.get_records(ShardIterator=iterator)["Records"]
                    # moto 5.2.5 streams an UpdateItem that creates an item as two INSERTs (key only, then the
                    # full image); AWS streams one, the second. Drop moto's extra one.
                    if set(r["dynamodb"].get("NewImage", {})) != {"userId"}]
    return json.loads(json.dumps({"Records": records}, default=str))


@pytest.fixture
def env(aws, load_handler):
    create_table()
    outbox = create_queue("outbox")
    upsert = load_handler("profiles_upsert", {"PROFILES_TABLE": TABLE})
    welcome = load_handler("profiles_welcome", {"PROFILES_TABLE": TABLE, "EMAIL_QUEUE_URL": outbox})
    return upsert, welcome, outbox


def jobs(outbox: str) -> list[dict[str, Any]]:
    return [json.loads(m["Body"]) for m in queued(outbox)]


def test_one_welcome_per_new_profile_even_when_the_stream_redelivers(env) -> None:
    upsert, welcome, outbox = env
    post(upsert, {"name": "Alice"}, cognito_claims(sub=ALICE, email="alice@example.com"), request_time=1)
    post(upsert, {"name": "Alice A."}, cognito_claims(sub=ALICE, email="alice@example.com"), request_time=2)
    post(upsert, {"name": "Bob"}, cognito_claims(sub=BOB, email="bob@example.com"), request_time=3)
    event = stream_event()
    assert [r["eventName"] for r in event["Records"]] == ["INSERT", "MODIFY", "INSERT"]

    assert welcome.handler(event, LambdaContext()) == {"batchItemFailures": []}
    assert welcome.handler(event, LambdaContext()) == {"batchItemFailures": []}  # redelivered batch

    sent = jobs(outbox)
    assert sorted(j["data"]["accountId"] for j in sent) == [ALICE, BOB]
    alice = next(j for j in sent if j["data"]["accountId"] == ALICE)
    assert alice == {"template": "WelcomeEmail", "to": ["alice@example.com"],
                     "data": {"name": "Alice", "accountId": ALICE}}
    assert all(validate(load_schema("email_job"), j) == [] for j in sent)  # what the sender accepts


def test_a_profile_without_an_address_gets_no_job(env) -> None:
    upsert, welcome, outbox = env
    claims = cognito_claims(sub=ALICE)
    del claims["email"]
    post(upsert, {"name": "Alice"}, claims)
    assert welcome.handler(stream_event(), LambdaContext()) == {"batchItemFailures": []}
    assert jobs(outbox) == []


def test_a_failing_record_is_reported_with_its_sequence_number_and_the_others_are_welcomed(env) -> None:
    upsert, welcome, outbox = env
    post(upsert, {"name": "Alice"}, cognito_claims(sub=ALICE, email="alice@example.com"))
    post(upsert, {"name": "Bob"}, cognito_claims(sub=BOB, email="bob@example.com"))
    event = stream_event()
    event["Records"][0]["dynamodb"]["NewImage"].pop("userId")  # a record the function cannot handle

    result = welcome.handler(event, LambdaContext())

    assert result == {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["dynamodb"]["SequenceNumber"]}]}
    # Bob does not wait behind it; Lambda's retry from the failed record finds him welcomed already.
    assert welcome.handler(event, LambdaContext())["batchItemFailures"] == result["batchItemFailures"]
    assert [j["data"]["accountId"] for j in jobs(outbox)] == [BOB]  # received once: every job ever queued


def test_out_of_time_reports_the_rest(env) -> None:
    upsert, welcome, outbox = env
    post(upsert, {"name": "Alice"}, cognito_claims(sub=ALICE, email="alice@example.com"))
    post(upsert, {"name": "Bob"}, cognito_claims(sub=BOB, email="bob@example.com"))
    event = stream_event()
    result = welcome.handler(event, LambdaContext(remaining_ms=1000))
    assert result == {"batchItemFailures": [{"itemIdentifier": event["Records"][1]["dynamodb"]["SequenceNumber"]}]}
    assert len(jobs(outbox)) == 1


def put_profile(user_id: str, email: str, name: str) -> None:
    boto3.client("dynamodb", region_name=REGION).put_item(
        TableName=TABLE, Item={"userId": {"S": user_id}, "email": {"S": email}, "name": {"S": name}})


def test_a_profile_that_cannot_be_marked_fails_before_any_email_on_every_delivery(env) -> None:
    upsert, welcome, outbox = env
    # A row written outside the API at the item size limit (moto: 405,000 bytes): the marker cannot be added.
    fixed = len("userId") + len(ALICE) + len("email") + len("big@example.com") + len("name")
    put_profile(ALICE, "big@example.com", "x" * (404_995 - fixed))
    post(upsert, {"name": "Bob"}, cognito_claims(sub=BOB, email="bob@example.com"))
    event = stream_event()
    poison = event["Records"][0]["dynamodb"]["SequenceNumber"]

    for _ in range(4):  # the first delivery and Lambda's retries
        assert welcome.handler(event, LambdaContext()) == {"batchItemFailures": [{"itemIdentifier": poison}]}

    assert [j["data"]["accountId"] for j in jobs(outbox)] == [BOB]  # none for the poison, however often


def test_a_welcome_claimed_by_a_delivery_that_did_not_finish_is_sent_by_the_next(env) -> None:
    upsert, welcome, outbox = env
    post(upsert, {"name": "Alice"}, cognito_claims(sub=ALICE, email="alice@example.com"))
    event = stream_event()
    assert welcome.claim(ALICE) == "claimed"  # a delivery that crashed before (or while) sending
    assert welcome.handler(event, LambdaContext()) == {"batchItemFailures": []}
    assert welcome.handler(event, LambdaContext()) == {"batchItemFailures": []}
    assert [j["data"]["accountId"] for j in jobs(outbox)] == [ALICE]


def test_a_profile_deleted_before_its_record_is_read_gets_no_email(env) -> None:
    upsert, welcome, outbox = env
    post(upsert, {"name": "Alice"}, cognito_claims(sub=ALICE, email="alice@example.com"))
    event = stream_event()
    boto3.client("dynamodb", region_name=REGION).delete_item(TableName=TABLE, Key={"userId": {"S": ALICE}})
    assert welcome.handler(event, LambdaContext()) == {"batchItemFailures": []}
    assert jobs(outbox) == []

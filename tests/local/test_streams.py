"""The DynamoDB stream poller (offline/local/streams.py) on moto's stream, with a stub function: starting
position, batch size, the mapping's filter criteria applied before the function sees a record, the record as
Lambda delivers it, partial batch responses by sequence number, bisect + finite retries, and the on-failure
record (DDBStreamBatchInfo) sent with the function's role."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config

from offline.local.events import Counters
from offline.local.lambdas import Invocation
from offline.local.streams import DynamoStreamPoller, FilterCriteria, stream_poller

REGION = "us-east-1"
FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:welcome"
INSERT_ONLY = {"filters": [{"pattern": '{"eventName":["INSERT"]}'}]}


class Session:
    """The function role's session, as the runtime hands it to a poller (moto in-process here)."""

    def client(self, service: str, endpoint_url: str | None = None, region_name: str | None = None) -> Any:
        return boto3.client(service, region_name=REGION, config=Config(account_id_endpoint_mode="disabled"))


@pytest.fixture
def table(aws) -> Iterator[tuple[Any, str, str]]:
    ddb = boto3.client("dynamodb", region_name=REGION)
    stream = ddb.create_table(
        TableName="profiles", BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "userId", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "userId", "AttributeType": "S"}],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )["TableDescription"]["LatestStreamArn"]
    queue = boto3.client("sqs", region_name=REGION).create_queue(QueueName="failures")["QueueUrl"]
    yield ddb, stream, queue


def put(ddb, user: str, **attributes: str) -> None:
    ddb.put_item(TableName="profiles", Item={"userId": {"S": user}, **{k: {"S": v} for k, v in attributes.items()}})


def poller(stream: str, queue: str, invoke, **mapping) -> DynamoStreamPoller:
    mock_stream = "arn:aws:dynamodb:us-east-1:123456789012:table/profiles/stream/2026-01-01T00:00:00.000"
    inputs = {"eventSourceArn": mock_stream, "startingPosition": "TRIM_HORIZON", "batchSize": 10,
              "destinationConfig": {"onFailure": {"destinationArn": "arn:aws:sqs:us-east-1:123456789012:failures"}},
              **mapping}
    return stream_poller(inputs, lambda value: json.loads(json.dumps(value).replace(mock_stream, stream)),
                         {"arn:aws:sqs:us-east-1:123456789012:failures": queue},
                         function="welcome", function_arn=FUNCTION_ARN, invoke=invoke, session=Session(),
                         endpoint="http://127.0.0.1:1", region=REGION, stop=threading.Event(), log=lambda _: None,
                         counters=Counters(), time_scale=0.0)


def users(event: dict) -> list[str]:
    return [r["dynamodb"]["Keys"]["userId"]["S"] for r in event["Records"]]


def on_failure(queue: str) -> list[dict]:
    sqs = boto3.client("sqs", region_name=REGION)
    return [json.loads(m["Body"]) for m in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)
            .get("Messages", [])]


def test_only_inserts_reach_the_function_as_lambda_delivers_them(table) -> None:
    ddb, stream, queue = table
    put(ddb, "a", name="Ann")
    put(ddb, "a", name="Ann L.")  # MODIFY: filtered out
    put(ddb, "b", name="Bob")
    ddb.delete_item(TableName="profiles", Key={"userId": {"S": "b"}})  # REMOVE: filtered out
    calls: list[dict] = []
    p = poller(stream, queue, lambda _n, e: calls.append(e) or Invocation(True, {"batchItemFailures": []}),
               filterCriteria=INSERT_ONLY, functionResponseTypes=["ReportBatchItemFailures"])
    p.step()
    [event] = calls
    assert users(event) == ["a", "b"] and {r["eventName"] for r in event["Records"]} == {"INSERT"}
    record = event["Records"][0]
    assert record["eventSourceARN"] == stream and record["eventSource"] == "aws:dynamodb"
    assert record["dynamodb"]["NewImage"] == {"userId": {"S": "a"}, "name": {"S": "Ann"}}
    assert isinstance(record["dynamodb"]["ApproximateCreationDateTime"], int)
    json.dumps(event)  # what a worker receives is plain JSON
    assert p.counters.values["welcome.records_filtered"] == 2
    assert p.counters.values["welcome.records_done"] == 2
    put(ddb, "a", name="Ann Lee")  # a batch of filtered records only: no invocation at all
    p.step()
    p.step()
    assert len(calls) == 1  # and the checkpoint moved past every record, filtered ones included
    assert p.counters.values["welcome.records_filtered"] == 3


def test_latest_starts_after_what_the_stream_already_holds(table) -> None:
    ddb, stream, queue = table
    put(ddb, "old")
    calls: list[dict] = []
    p = poller(stream, queue, lambda _n, e: calls.append(e) or Invocation(True, None), startingPosition="LATEST")
    put(ddb, "new")
    p.step()
    assert [users(c) for c in calls] == [["new"]]


def test_batch_size_caps_each_invocation(table) -> None:
    ddb, stream, queue = table
    for user in "abcde":
        put(ddb, user)
    calls: list[dict] = []
    p = poller(stream, queue, lambda _n, e: calls.append(e) or Invocation(True, None), batchSize=2)
    for _ in range(3):
        p.step()
    assert [users(c) for c in calls] == [["a", "b"], ["c", "d"], ["e"]]


def test_a_reported_failure_is_retried_from_its_sequence_number(table) -> None:
    ddb, stream, queue = table
    for user in "abc":
        put(ddb, user)
    calls: list[list[str]] = []

    def invoke(_name, event):
        calls.append(users(event))
        if len(calls) == 1:
            return Invocation(True, {"batchItemFailures": [
                {"itemIdentifier": event["Records"][1]["dynamodb"]["SequenceNumber"]}]})
        return Invocation(True, {"batchItemFailures": []})

    poller(stream, queue, invoke, functionResponseTypes=["ReportBatchItemFailures"], maximumRetryAttempts=2).step()
    assert calls == [["a", "b", "c"], ["b", "c"]]
    assert on_failure(queue) == []


def test_a_poison_record_is_bisected_out_retried_finitely_and_sent_to_the_on_failure_queue(table) -> None:
    ddb, stream, queue = table
    for user in ("a", "poison", "c", "d"):
        put(ddb, user)
    calls: list[list[str]] = []

    def invoke(_name, event):
        calls.append(users(event))
        return Invocation(False, {"errorMessage": "boom"}, "Unhandled") if "poison" in calls[-1] \
            else Invocation(True, None)

    p = poller(stream, queue, invoke, bisectBatchOnFunctionError=True, maximumRetryAttempts=2)
    p.step()
    assert sorted(u for c in calls if "poison" not in c for u in c) == ["a", "c", "d"]
    assert sum(c == ["poison"] for c in calls) == 3  # 1 + maximumRetryAttempts; splits are free
    [record] = on_failure(queue)
    info = record["DDBStreamBatchInfo"]
    assert info["batchSize"] == 1 and info["streamArn"] == stream
    assert info["startSequenceNumber"] == info["endSequenceNumber"]
    assert record["requestContext"]["functionArn"] == f"{FUNCTION_ARN}:$LATEST"
    assert record["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert "requestPayload" not in record  # stream failures carry the batch's coordinates, not its records
    assert p.counters.values["welcome.records_failed"] == 1


def test_filter_criteria_are_or_ed_and_absent_filters_pass_everything() -> None:
    insert = {"eventName": "INSERT", "dynamodb": {"NewImage": {"email": {"S": "a@example.com"}}}}
    modify = {"eventName": "MODIFY", "dynamodb": {}}
    assert FilterCriteria(None).matches(modify)
    assert FilterCriteria(INSERT_ONLY).matches(insert) and not FilterCriteria(INSERT_ONLY).matches(modify)
    either = FilterCriteria({"filters": [{"pattern": '{"eventName":["REMOVE"]}'},
                                         {"pattern": '{"dynamodb":{"NewImage":{"email":{"S":[{"exists":true}]}}}}'}]})
    assert either.matches(insert) and not either.matches(modify)


def test_records_older_than_the_max_age_go_to_the_on_failure_queue_unseen(table) -> None:
    ddb, stream, queue = table
    put(ddb, "late")
    calls: list[dict] = []
    p = poller(stream, queue, lambda _n, e: calls.append(e) or Invocation(True, None), maximumRecordAgeInSeconds=60)
    select = p.selected

    def two_hours_old(records):
        import datetime

        return [{**r, "ApproximateArrivalTimestamp": r["ApproximateArrivalTimestamp"] - datetime.timedelta(hours=2)}
                for r in select(records)]

    p.selected = two_hours_old
    p.step()
    assert calls == []
    [record] = on_failure(queue)
    assert record["DDBStreamBatchInfo"]["batchSize"] == 1


def test_provisioning_maps_the_graphs_stream_arn_to_motos_own(moto_server) -> None:
    import urllib.request

    from offline.local.graph import StackGraph
    from offline.local.provision import admin_client, provision
    from offline.runtime import ProgramRun, RecordedResource

    urllib.request.urlopen(urllib.request.Request(f"{moto_server}/moto-api/reset", method="POST"))  # noqa: S310
    mock_stream = "arn:aws:dynamodb:us-east-1:123456789012:table/profiles-x/stream/2026-01-01T00:00:00.000"
    table = RecordedResource(
        urn="urn:pulumi:dev::p::aws:dynamodb/table:Table::profiles-table", type="aws:dynamodb/table:Table",
        name="profiles-table", custom=True, id="profiles-x",
        inputs={"name": "profiles-x", "billingMode": "PAY_PER_REQUEST", "hashKey": "userId",
                "attributes": [{"name": "userId", "type": "S"}], "streamEnabled": True,
                "streamViewType": "NEW_AND_OLD_IMAGES"},
        outputs={"streamArn": mock_stream}, parent=None, dependencies=(), property_dependencies={})
    done = provision(StackGraph(ProgramRun(project="p", stack="dev", resources=[table])), moto_server, "us-east-1")
    described = admin_client("dynamodb", moto_server, "us-east-1").describe_table(TableName="profiles-x")["Table"]
    assert described["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert done.ids.rewrite({"eventSourceArn": mock_stream}) == {"eventSourceArn": described["LatestStreamArn"]}
    assert described["LatestStreamArn"] != mock_stream

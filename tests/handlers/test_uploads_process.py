"""The whole upload flow against moto, and the Kinesis consumer (handlers/uploads_process.py) on its own.

direct upload -> object in S3 -> real-shaped S3 event -> ingest -> record read back with get_records ->
consumer on a real-shaped Kinesis event (base64 data) -> processed object.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import boto3
import pytest
import requests

from tests.events import LambdaContext, api_event, cognito_claims, kinesis_event
from tests.handlers.test_uploads_common import UPLOAD_ENV, all_keys, make_buckets, new_sub
from tests.handlers.test_uploads_ingest import event_for, make_stream, put_upload, stream_records

UPLOADS = UPLOAD_ENV["UPLOADS_BUCKET"]
PROCESSED = UPLOAD_ENV["PROCESSED_BUCKET"]
LIMIT = int(UPLOAD_ENV["MAX_UPLOAD_BYTES"])


class Flow:
    def __init__(self, load_handler: Any, context: Any):
        make_buckets(versioned_processed=True)
        self.stream_arn = make_stream()
        self.context = context
        self.create = load_handler("uploads_create", env=UPLOAD_ENV)
        self.ingest = load_handler("uploads_ingest", env=UPLOAD_ENV)
        self.process = load_handler("uploads_process", env=UPLOAD_ENV)

    def upload(self, sub: str, filename: str, content: str, content_type: str = "text/plain", **extra: Any) -> str:
        body = {"filename": filename, "content": content, "contentType": content_type, **extra}
        response = self.create.handler(api_event("POST", "/uploads", body=body, claims=cognito_claims(sub=sub)),
                                       self.context)
        assert response["statusCode"] == 201, response["body"]
        return json.loads(response["body"])["key"]

    def ingest_key(self, key: str) -> None:
        head = boto3.client("s3").head_object(Bucket=UPLOADS, Key=key)
        assert self.ingest.handler(event_for(key, head), self.context) == {"published": 1}

    def consume(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        return self.process.handler(kinesis_event(records, self.stream_arn), self.context)


@pytest.fixture
def flow(aws: None, load_handler: Any, lambda_context: Any) -> Flow:
    return Flow(load_handler, lambda_context)


def processed(key: str) -> dict[str, Any]:
    obj = boto3.client("s3").get_object(Bucket=PROCESSED, Key=key)
    return {"body": obj["Body"].read(), "type": obj["ContentType"], "metadata": obj["Metadata"]}


def test_direct_upload_flows_through_the_stream_to_an_upper_cased_object(flow: Flow) -> None:
    sub = new_sub()
    key = flow.upload(sub, "demo.txt", "hello kinesis, ça va?")
    flow.ingest_key(key)
    records = stream_records()
    assert [r["PartitionKey"] for r in records] == [sub]

    assert flow.consume(records) == {"batchItemFailures": []}

    name = key.rsplit("/", 1)[1]
    result = processed(f"processed/{sub}/{name}")
    assert result["body"] == "HELLO KINESIS, ÇA VA?".encode()
    assert result["type"] == "text/plain"
    assert result["metadata"]["source-key"] == key and result["metadata"]["owner"] == sub
    assert all_keys(PROCESSED) == [f"processed/{sub}/{name}"]


def test_other_allowed_types_are_copied_byte_for_byte_with_metadata(flow: Flow) -> None:
    sub = new_sub()
    key = f"uploads/{sub}/1f2e-data.json"
    boto3.client("s3").put_object(Bucket=UPLOADS, Key=key, Body=b'{"ok": true}', ContentType="application/json",
                                  Metadata={"origin": "presigned"})
    flow.ingest_key(key)

    assert flow.consume(stream_records()) == {"batchItemFailures": []}

    result = processed(f"processed/{sub}/1f2e-data.json")
    assert result["body"] == b'{"ok": true}'
    assert result["type"] == "application/json"
    assert result["metadata"]["origin"] == "presigned"
    assert result["metadata"]["source-etag"] == boto3.client("s3").head_object(Bucket=UPLOADS, Key=key)["ETag"].strip('"')


def test_reprocessing_a_record_writes_the_processed_object_once(flow: Flow) -> None:
    sub = new_sub()
    key = flow.upload(sub, "twice.txt", "same")
    flow.ingest_key(key)
    flow.ingest_key(key)  # S3 may deliver a notification twice; Lambda may retry a batch
    records = stream_records()
    assert len(records) == 2

    assert flow.consume(records) == {"batchItemFailures": []}
    assert flow.consume(records) == {"batchItemFailures": []}

    versions = boto3.client("s3").list_object_versions(Bucket=PROCESSED)["Versions"]
    assert len(versions) == 1  # the processed bucket is versioned: a second write would show here
    assert processed(versions[0]["Key"])["body"] == b"SAME"


def test_a_presigned_upload_flows_exactly_like_a_direct_one(
    moto_endpoint: str, load_handler: Any, lambda_context: Any
) -> None:
    flow = Flow(load_handler, lambda_context)  # every client (tests and handlers) talks to moto_server
    presign = load_handler("uploads_presign", env=UPLOAD_ENV)
    sub = new_sub()
    claims = cognito_claims(sub=sub)
    body = {"filename": "form.csv", "contentType": "text/csv"}
    grant = json.loads(presign.handler(api_event("POST", "/uploads/url", body=body, claims=claims),
                                       lambda_context)["body"])
    posted = requests.post(grant["url"], data=grant["fields"], files={"file": ("form.csv", b"a,b\nc,d\n")},
                           timeout=10)
    assert posted.status_code in (200, 204), posted.text

    flow.ingest_key(grant["key"])
    assert flow.consume(stream_records()) == {"batchItemFailures": []}

    result = processed(grant["key"].replace("uploads/", "processed/", 1))
    assert (result["body"], result["type"]) == (b"A,B\nC,D\n", "text/csv")


def raw_record(data: bytes, sequence: str) -> dict[str, Any]:
    return {"PartitionKey": "poison", "SequenceNumber": sequence, "Data": data}


def test_poison_records_are_reported_and_the_good_ones_processed(flow: Flow) -> None:
    sub, other = new_sub(), new_sub()
    good = [flow.upload(sub, f"good-{i}.txt", f"good {i}") for i in range(3)]
    vanished = flow.upload(sub, "vanished.txt", "soon gone")
    for key in [*good, vanished]:
        flow.ingest_key(key)
    boto3.client("s3").delete_object(Bucket=UPLOADS, Key=vanished)
    real = sorted(stream_records(), key=lambda r: r["Data"])
    by_key = {json.loads(r["Data"])["key"]: r for r in real}
    forged = dict(json.loads(by_key[good[0]]["Data"]), owner=other)  # owner and key disagree
    wrong_bucket = dict(json.loads(by_key[good[1]]["Data"]), bucket="another-bucket")
    poison = [
        raw_record(b"not json at all", "900"),
        raw_record(json.dumps(forged).encode(), "901"),
        raw_record(json.dumps(wrong_bucket).encode(), "902"),
        raw_record(json.dumps({"key": good[2]}).encode(), "903"),
    ]
    batch = [by_key[good[0]], poison[0], by_key[good[1]], poison[1], by_key[vanished], poison[2], by_key[good[2]],
             poison[3]]

    result = flow.consume(batch)

    # A deleted upload is nothing to process (as at ingest): acknowledged, not retried into the failure queue.
    assert sorted(f["itemIdentifier"] for f in result["batchItemFailures"]) == ["900", "901", "902", "903"]
    assert sorted(all_keys(PROCESSED)) == sorted(k.replace("uploads/", "processed/", 1) for k in good)
    assert not any(k.startswith(f"processed/{other}/") for k in all_keys(PROCESSED))


def test_oversized_objects_are_rejected_for_good_without_being_read(flow: Flow) -> None:
    sub = new_sub()
    key = f"uploads/{sub}/abc-big.txt"
    put_upload(key, b"x" * (LIMIT + 1))
    flow.ingest_key(key)
    (record,) = stream_records()

    # The record's size is checked first; a record claiming a small size is checked against S3's length.
    understated = dict(record, Data=json.dumps(dict(json.loads(record["Data"]), size=10)).encode())
    for candidate in (record, understated):
        assert flow.consume([candidate]) == {"batchItemFailures": []}
    head = boto3.client("s3").head_object(Bucket=PROCESSED, Key=key.replace("uploads/", "processed/", 1))
    assert head["ContentLength"] == 0 and head["Metadata"]["status"] == "rejected"
    assert "larger than" in head["Metadata"]["reason"]


@pytest.mark.parametrize(
    ("body", "content_type"),
    [(b"\xff\xfe not utf-8", "text/plain"), (b"#!/bin/sh", "application/x-sh")],
)
def test_undecodable_text_and_disallowed_types_are_rejected_for_good_not_retried(
    flow: Flow, body: bytes, content_type: str
) -> None:
    """Finding 7: retrying cannot fix the content, and a failed record would raise the alarm at a user's will."""
    key = f"uploads/{new_sub()}/abc-file"
    put_upload(key, body, content_type)
    flow.ingest_key(key)
    (record,) = stream_records()

    assert flow.consume([record]) == {"batchItemFailures": []}
    processed_key = key.replace("uploads/", "processed/", 1)
    assert all_keys(PROCESSED) == [processed_key]
    head = boto3.client("s3").head_object(Bucket=PROCESSED, Key=processed_key)
    assert head["ContentLength"] == 0 and head["Metadata"]["status"] == "rejected"
    # Recorded once: a redelivery writes nothing new and still reports no failure.
    assert flow.consume([record]) == {"batchItemFailures": []}


def test_a_transient_storage_failure_is_reported_for_retry(aws: None, load_handler: Any, lambda_context: Any) -> None:
    boto3.client("s3").create_bucket(Bucket=UPLOADS)  # no processed bucket: PutObject fails
    module = load_handler("uploads_process", env=UPLOAD_ENV)
    key = f"uploads/{new_sub()}/abc-a.txt"
    head = put_upload(key)
    payload = {"bucket": UPLOADS, "key": key, "owner": key.split("/")[1], "size": head["ContentLength"]}
    event = kinesis_event([raw_record(json.dumps(payload).encode(), "42")],
                          "arn:aws:kinesis:us-east-1:123456789012:stream/s")
    assert base64.b64decode(event["Records"][0]["kinesis"]["data"]) == json.dumps(payload).encode()

    assert module.handler(event, lambda_context) == {"batchItemFailures": [{"itemIdentifier": "42"}]}


def test_records_not_started_for_lack_of_time_are_reported_and_done_by_the_retry(flow: Flow) -> None:
    """A timeout fails the whole batch (a retry attempt spent on records that were fine, and after the last one the
    batch goes to the on-failure queue unprocessed); below the time guard the consumer reports the rest instead."""
    sub = new_sub()
    keys = [flow.upload(sub, f"late-{i}.txt", f"late {i}") for i in range(3)]
    for key in keys:
        flow.ingest_key(key)
    records = stream_records()
    short = LambdaContext(remaining_ms=flow.process.TIME_GUARD_MS - 1)

    result = flow.process.handler(kinesis_event(records, flow.stream_arn), short)

    # The first record is always tried, so a function whose timeout is below the guard still makes progress.
    assert [f["itemIdentifier"] for f in result["batchItemFailures"]] == [r["SequenceNumber"] for r in records[1:]]
    assert len(all_keys(PROCESSED)) == 1
    assert flow.consume(records[1:]) == {"batchItemFailures": []}
    assert len(all_keys(PROCESSED)) == 3

"""S3 ObjectCreated -> Kinesis (handlers/uploads_ingest.py) against moto, with real-shaped S3 events."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from tests.events import s3_put_event
from tests.handlers.test_uploads_common import UPLOAD_ENV, make_buckets, new_sub

UPLOADS = UPLOAD_ENV["UPLOADS_BUCKET"]
STREAM = UPLOAD_ENV["STREAM_NAME"]


def make_stream() -> str:
    kinesis = boto3.client("kinesis")
    kinesis.create_stream(StreamName=STREAM, StreamModeDetails={"StreamMode": "ON_DEMAND"})
    return kinesis.describe_stream_summary(StreamName=STREAM)["StreamDescriptionSummary"]["StreamARN"]


def stream_records() -> list[dict[str, Any]]:
    """Every record on the stream, from the start of every shard (what a TRIM_HORIZON consumer sees)."""
    kinesis = boto3.client("kinesis")
    records = []
    for shard in kinesis.list_shards(StreamName=STREAM)["Shards"]:
        iterator = kinesis.get_shard_iterator(
            StreamName=STREAM, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        records.extend(kinesis.get_records(ShardIterator=iterator)["Records"])
    return records


def put_upload(key: str, body: bytes = b"hello kinesis", content_type: str = "text/plain") -> dict[str, Any]:
    s3 = boto3.client("s3")
    s3.put_object(Bucket=UPLOADS, Key=key, Body=body, ContentType=content_type)
    return s3.head_object(Bucket=UPLOADS, Key=key)


def event_for(key: str, head: dict[str, Any], bucket: str = UPLOADS) -> dict[str, Any]:
    return s3_put_event(bucket, key, head["ContentLength"], head["ETag"])


@pytest.fixture
def ingest(aws: None, load_handler: Any) -> Any:
    make_buckets()
    make_stream()
    return load_handler("uploads_ingest", env=UPLOAD_ENV)


def test_one_record_per_object_partitioned_by_owner(ingest: Any, lambda_context: Any) -> None:
    sub = new_sub()
    key = f"uploads/{sub}/0b7c2d-notes_v1.2.txt"
    head = put_upload(key)

    assert ingest.handler(event_for(key, head), lambda_context) == {"published": 1}

    (record,) = stream_records()
    assert record["PartitionKey"] == sub
    payload = json.loads(record["Data"])
    assert payload == {
        "bucket": UPLOADS,
        "key": key,
        "size": len(b"hello kinesis"),
        "etag": head["ETag"].strip('"'),
        "contentType": "text/plain",
        "owner": sub,
        "uploadedAt": payload["uploadedAt"],
    }
    assert payload["uploadedAt"].endswith("Z")


@pytest.mark.parametrize(
    "key",
    [
        "uploads/loose-file.txt",
        "uploads/owner/nested/dir.txt",
        "uploads/../escape.txt",
        "elsewhere/owner/file.txt",
        "uploads/owner/my notes+draft.txt",  # arrives as my+notes%2Bdraft.txt: logged decoded, not published
    ],
)
def test_keys_without_an_owner_are_reported_never_published(
    ingest: Any, lambda_context: Any, key: str, capsys: pytest.CaptureFixture[str]
) -> None:
    head = put_upload(key)

    assert ingest.handler(event_for(key, head), lambda_context) == {"published": 0}

    assert stream_records() == []
    errors = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(e["level"], e["key"]) for e in errors] == [("ERROR", key)]


def test_events_from_another_bucket_are_not_published(ingest: Any, lambda_context: Any) -> None:
    key = f"uploads/{new_sub()}/x.txt"
    head = put_upload(key)

    assert ingest.handler(event_for(key, head, bucket="someone-elses-bucket"), lambda_context) == {"published": 0}
    assert stream_records() == []


def test_an_object_deleted_before_ingest_is_skipped(ingest: Any, lambda_context: Any) -> None:
    key = f"uploads/{new_sub()}/gone.txt"
    head = put_upload(key)
    boto3.client("s3").delete_object(Bucket=UPLOADS, Key=key)

    assert ingest.handler(event_for(key, head), lambda_context) == {"published": 0}
    assert stream_records() == []


def test_a_stream_failure_fails_the_invocation_so_lambda_retries(
    aws: None, load_handler: Any, lambda_context: Any
) -> None:
    make_buckets()  # no stream: PutRecord fails
    module = load_handler("uploads_ingest", env=UPLOAD_ENV)
    key = f"uploads/{new_sub()}/x.txt"
    head = put_upload(key)

    with pytest.raises(Exception, match="ResourceNotFound"):
        module.handler(event_for(key, head), lambda_context)

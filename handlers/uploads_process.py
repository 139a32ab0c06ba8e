"""Kinesis consumer: each upload record becomes `processed/<sub>/<name>` in the processed bucket.

Text objects (text/*) are upper-cased as in the seed; other allowed types are copied with their metadata.
The write is conditional (If-None-Match: *), so a record delivered twice writes the object once. A record
that cannot be processed (bad payload, vanished or oversized object, disallowed type) is reported in
`batchItemFailures`: Lambda retries it a finite number of times, bisecting the batch, then sends it to the
on-failure queue, while the good records of the batch are processed.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

import boto3
from botocore.exceptions import ClientError

from handlers.common import log, metrics
from handlers.common.batch import out_of_time
from handlers.common.uploads import UploadEnv, is_text, parse_upload_key

ENV = UploadEnv.load()

# Stop starting records when less than this is left: a timeout fails the whole batch (a retry attempt spent on
# records that were fine), while a reported sequence number is simply where the retry resumes.
TIME_GUARD_MS = 10_000

s3 = boto3.client("s3")


class Rejected(Exception):
    """This record can never be processed as it is; the message says why."""


def decode(record: dict[str, Any]) -> dict[str, Any]:
    try:
        payload = json.loads(base64.b64decode(record["kinesis"]["data"], validate=True))
    except (binascii.Error, ValueError, KeyError, TypeError) as exc:
        raise Rejected("record data is not base64 JSON") from exc
    if not isinstance(payload, dict) or not all(isinstance(payload.get(f), str) for f in ("bucket", "key", "owner")):
        raise Rejected("record lacks bucket, key or owner")
    return payload


def transform(body: bytes, content_type: str) -> bytes:
    if not is_text(content_type):
        return body
    try:
        return body.decode("utf-8").upper().encode("utf-8")
    except UnicodeDecodeError as exc:
        raise Rejected("text object is not valid UTF-8") from exc


def process(payload: dict[str, Any]) -> str:
    """Write the processed object for one upload record; returns the processed key."""
    upload = parse_upload_key(payload["key"])
    # The owner in the record must be the one the key names: a record never redirects output elsewhere.
    if payload["bucket"] != ENV.uploads_bucket or upload is None or upload.owner != payload["owner"]:
        raise Rejected("record does not name an upload of its owner")
    if isinstance(payload.get("size"), int) and payload["size"] > ENV.max_bytes:
        raise Rejected(f"object is larger than {ENV.max_bytes} bytes")
    try:
        source = s3.get_object(Bucket=ENV.uploads_bucket, Key=upload.key)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            raise Rejected("object no longer exists") from exc
        raise
    with source["Body"] as stream:
        if source["ContentLength"] > ENV.max_bytes:
            raise Rejected(f"object is larger than {ENV.max_bytes} bytes")
        body = stream.read()
    content_type = source.get("ContentType") or "application/octet-stream"
    if content_type.split(";", 1)[0].strip().lower() not in ENV.content_types:
        raise Rejected(f"content type {content_type!r} is not allowed")
    metadata = {**source.get("Metadata", {}), "source-key": upload.key, "source-etag": source["ETag"].strip('"'),
                "owner": upload.owner}
    try:
        s3.put_object(
            Bucket=ENV.processed_bucket,
            Key=upload.processed_key,
            Body=transform(body, content_type),
            ContentType=content_type,
            Metadata=metadata,
            IfNoneMatch="*",
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in ("PreconditionFailed", "412"):
            raise
        log.info("already processed", key=upload.processed_key)
    return upload.processed_key


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    failures: list[dict[str, str]] = []
    late = False
    for index, record in enumerate(event.get("Records", [])):
        sequence = record.get("kinesis", {}).get("sequenceNumber", "")
        if not late and out_of_time(context, index, TIME_GUARD_MS):
            log.warning("not enough time left, the rest of the batch is left for a retry", sequenceNumber=sequence)
            late = True
        if late:
            failures.append({"itemIdentifier": sequence})
            continue
        token = log.bind(eventId=record.get("eventID"), sequenceNumber=sequence,
                         awsRequestId=getattr(context, "aws_request_id", None))
        try:
            processed_key = process(decode(record))
            log.info("upload processed", processedKey=processed_key)
            metrics.emit("UploadsProcessed", processedKey=processed_key)
        except Rejected as exc:
            log.error("record rejected", reason=str(exc))
            metrics.emit("UploadsRejected", reason=str(exc))
            failures.append({"itemIdentifier": sequence})
        except Exception as exc:  # noqa: BLE001 - one bad record must not fail the batch; it is retried
            log.error("record failed", errorType=type(exc).__name__, error=str(exc))
            failures.append({"itemIdentifier": sequence})
        finally:
            log.reset(token)
    return {"batchItemFailures": failures}

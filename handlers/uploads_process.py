"""Kinesis consumer: each upload record becomes `processed/<sub>/<name>` in the processed bucket.

Text objects (text/*) are upper-cased as in the seed; other allowed types are copied with their metadata.
The write is conditional (If-None-Match: *), so a record delivered twice writes the object once.

Outcomes per record:
- content the customer got wrong (text that is not UTF-8, bytes that do not match the declared type, a type
  no longer allowed, an oversized object): retrying can never help, so the upload is rejected for good: an
  empty object is written at the processed key with metadata `status=rejected` and the reason (GET /uploads
  shows it), and the record is acknowledged. No retry, no failure queue, no alarm a customer can trigger;
- the object is gone (404, or 403 since the role has no s3:ListBucket): nothing to do, acknowledged;
- a malformed record or an AWS error: reported in `batchItemFailures`; Lambda retries it a finite number of
  times, bisecting the batch, then sends it to the on-failure queue, while the good records are processed.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

import boto3
from botocore.exceptions import ClientError

from handlers.common import log, metrics
from handlers.common.batch import kinesis_sequence, process_batch
from handlers.common.uploads import MISSING_CODES, UploadEnv, UploadKey, content_problem, is_text, parse_upload_key

ENV = UploadEnv.load()

# Stop starting records when less than this is left: a timeout fails the whole batch (a retry attempt spent on
# records that were fine), while a reported sequence number is simply where the retry resumes.
TIME_GUARD_MS = 10_000

s3 = boto3.client("s3")


REJECTED_STATUS = "rejected"


class Rejected(Exception):
    """This record can never be processed as it is (a malformed record); the message says why."""


class Refused(Exception):
    """The uploaded content is unacceptable: recorded as a permanent rejection of the upload, not retried."""


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
        raise Refused("text content is not valid UTF-8") from exc


def _write(key: str, body: bytes, content_type: str, metadata: dict[str, str]) -> None:
    try:
        s3.put_object(Bucket=ENV.processed_bucket, Key=key, Body=body, ContentType=content_type,
                      Metadata=metadata, IfNoneMatch="*")
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in ("PreconditionFailed", "412"):
            raise
        log.info("already processed", key=key)


def record_rejection(upload: UploadKey, reason: str) -> None:
    """The permanent outcome GET /uploads reports: an empty object with the reason (S3 metadata is ASCII)."""
    _write(upload.processed_key, b"", "application/octet-stream",
           {"status": REJECTED_STATUS, "reason": reason.encode("ascii", "replace").decode()[:512],
            "source-key": upload.key, "owner": upload.owner})


def process(payload: dict[str, Any]) -> str | None:
    """Write the processed object (or the rejection) for one upload record; None when the upload is gone."""
    upload = parse_upload_key(payload["key"])
    # The owner in the record must be the one the key names: a record never redirects output elsewhere.
    if payload["bucket"] != ENV.uploads_bucket or upload is None or upload.owner != payload["owner"]:
        raise Rejected("record does not name an upload of its owner")
    try:
        return _process(upload, payload)
    except Refused as exc:
        log.warning("upload rejected for good", key=upload.key, reason=str(exc))
        record_rejection(upload, str(exc))
        metrics.emit("UploadsRejected", reason=str(exc))
        return upload.processed_key


def _process(upload: UploadKey, payload: dict[str, Any]) -> str | None:
    if isinstance(payload.get("size"), int) and payload["size"] > ENV.max_bytes:
        raise Refused(f"object is larger than {ENV.max_bytes} bytes")
    try:
        source = s3.get_object(Bucket=ENV.uploads_bucket, Key=upload.key)
    except ClientError as exc:
        # Without s3:ListBucket a missing key is a 403: either way the upload was deleted, nothing to process.
        if exc.response.get("Error", {}).get("Code") in MISSING_CODES:
            log.warning("upload vanished before processing", key=upload.key)
            return None
        raise
    with source["Body"] as stream:
        if source["ContentLength"] > ENV.max_bytes:
            raise Refused(f"object is larger than {ENV.max_bytes} bytes")
        body = stream.read()
    content_type = source.get("ContentType") or "application/octet-stream"
    if content_type.split(";", 1)[0].strip().lower() not in ENV.content_types:
        raise Refused(f"content type {content_type!r} is not allowed")
    problem = content_problem(body, content_type)
    if problem:  # presigned uploads reach S3 unchecked: their bytes are checked here, as POST /uploads does
        raise Refused(problem)
    metadata = {**source.get("Metadata", {}), "source-key": upload.key, "source-etag": source["ETag"].strip('"'),
                "owner": upload.owner}
    _write(upload.processed_key, transform(body, content_type), content_type, metadata)
    metrics.emit("UploadsProcessed", processedKey=upload.processed_key)
    return upload.processed_key


def handle(record: dict[str, Any]) -> bool:
    try:
        processed_key = process(decode(record))
    except Rejected as exc:
        log.error("record rejected", reason=str(exc))
        metrics.emit("UploadsRejected", reason=str(exc))
        return False
    if processed_key:
        log.info("upload processed", processedKey=processed_key)
    return True


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return process_batch(
        event.get("Records") or [], handle, context=context, guard_ms=TIME_GUARD_MS, item_id=kinesis_sequence,
        log_fields=lambda r: {"eventId": r.get("eventID"), "sequenceNumber": kinesis_sequence(r)},
    )

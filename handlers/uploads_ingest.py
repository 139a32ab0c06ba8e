"""S3 ObjectCreated (prefix uploads/) -> one Kinesis record per object: the stream's only publisher.

Direct uploads and presigned POSTs both end as an S3 object, so both reach the stream the same way. The
owner is read from the key (`uploads/<sub>/<name>`) and becomes the partition key; a key of any other
shape is reported in the log and never published with a guessed owner.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote_plus

import boto3
from botocore.exceptions import ClientError

from handlers.common import log
from handlers.common.uploads import MISSING_CODES, UploadEnv, parse_upload_key

ENV = UploadEnv.load()

s3 = boto3.client("s3")
kinesis = boto3.client("kinesis")


def stream_record(s3_record: dict[str, Any]) -> dict[str, Any] | None:
    """The stream payload for one notification record, or None when it must not be published."""
    bucket = s3_record["s3"]["bucket"]["name"]
    key = unquote_plus(s3_record["s3"]["object"]["key"])  # S3 URL-encodes keys in events ('+' for space)
    upload = parse_upload_key(key)
    if bucket != ENV.uploads_bucket or upload is None:
        log.error("upload rejected: unexpected bucket or key shape", bucket=bucket, key=key)
        return None
    try:
        head = s3.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        # Without s3:ListBucket a missing key is a 403: both mean the upload is gone, nothing to publish.
        if exc.response.get("Error", {}).get("Code") in MISSING_CODES:
            log.warning("upload vanished before ingest", key=key)
            return None
        raise
    return {
        "bucket": bucket,
        "key": key,
        "size": head["ContentLength"],
        "etag": head["ETag"].strip('"'),
        "contentType": head.get("ContentType", ""),
        "owner": upload.owner,
        "uploadedAt": s3_record.get("eventTime") or head["LastModified"].isoformat(),
    }


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    token = log.bind(awsRequestId=getattr(context, "aws_request_id", None))
    published = 0
    try:
        for s3_record in event.get("Records", []):
            record = stream_record(s3_record)
            if record is None:
                continue
            # An error here fails the (async) invocation, which Lambda retries; the consumer is idempotent,
            # so a record published twice is processed once.
            response = kinesis.put_record(
                StreamName=ENV.stream_name,
                Data=json.dumps(record, separators=(",", ":")).encode(),
                PartitionKey=record["owner"],
            )
            published += 1
            log.info("upload published", key=record["key"], size=record["size"],
                     sequenceNumber=response["SequenceNumber"], shardId=response["ShardId"])
    finally:
        log.reset(token)
    return {"published": published}

"""GET /uploads: the caller's uploads, whether each has been processed, and short-lived links to the results.

The prefix listed is built here from the authenticated sub and nothing from the request: the function's
role may list any `uploads/*` prefix (a Lambda role cannot be scoped per API caller), so this handler is
what keeps one user out of another's uploads. Status is stateless: an upload is "processed" once its
processed object exists, "rejected" (with the reason) when the processor recorded a permanent rejection there.
"""

from __future__ import annotations

import re
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from handlers.common import log
from handlers.common.claims import require_caller
from handlers.common.http import HttpError, api_handler, json_response
from handlers.common.uploads import MISSING_CODES, UPLOADS_PREFIX, UploadEnv, owner_segment, parse_upload_key

ENV = UploadEnv.load()
DOWNLOAD_URL_TTL_SECONDS = min(300, ENV.url_ttl_seconds)
DEFAULT_LIMIT = 50
MAX_LIMIT = 100
LIMIT = re.compile(r"[0-9]{1,3}")  # ASCII only: str.isdigit() accepts "²", which int() then refuses

s3 = boto3.client("s3", config=Config(signature_version="s3v4"))


def _limit(event: dict[str, Any]) -> int:
    raw = (event.get("queryStringParameters") or {}).get("limit")
    if raw is None:
        return DEFAULT_LIMIT
    if not LIMIT.fullmatch(raw) or not 1 <= int(raw) <= MAX_LIMIT:
        raise HttpError(400, "invalid_limit", f"limit must be an integer between 1 and {MAX_LIMIT}")
    return int(raw)


def processed_status(processed_key: str) -> tuple[str, str | None]:
    """('processed', None) when the result exists; ('rejected', reason) when the processor refused the content
    for good; ('pending', None) when there is no result yet. Without s3:ListBucket on that bucket S3 answers
    403, not 404, for a missing key, so both mean 'pending'; anything else is a real error."""
    try:
        head = s3.head_object(Bucket=ENV.processed_bucket, Key=processed_key)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in MISSING_CODES:
            return "pending", None
        raise
    metadata = head.get("Metadata") or {}
    if metadata.get("status") == "rejected":
        return "rejected", metadata.get("reason") or "the content was not accepted"
    return "processed", None


def describe(item: dict[str, Any], owner: str) -> dict[str, Any] | None:
    upload = parse_upload_key(item["Key"])
    if upload is None or upload.owner != owner:
        return None
    status, reason = processed_status(upload.processed_key)
    entry = {
        "key": upload.key,
        "name": upload.name,
        "size": item["Size"],
        "uploadedAt": item["LastModified"].isoformat(),
        "status": status,
    }
    if reason:
        entry["reason"] = reason
    if status == "processed":
        entry["downloadUrl"] = s3.generate_presigned_url(
            "get_object",
            Params={"Bucket": ENV.processed_bucket, "Key": upload.processed_key},
            ExpiresIn=DOWNLOAD_URL_TTL_SECONDS,
        )
        entry["downloadExpiresIn"] = DOWNLOAD_URL_TTL_SECONDS
    return entry


@api_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    caller = require_caller(event)
    prefix = f"{UPLOADS_PREFIX}{owner_segment(caller.sub)}/"
    request: dict[str, Any] = {"Bucket": ENV.uploads_bucket, "Prefix": prefix, "MaxKeys": _limit(event)}
    cursor = (event.get("queryStringParameters") or {}).get("cursor")
    if cursor:
        request["ContinuationToken"] = cursor
    try:
        page = s3.list_objects_v2(**request)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "InvalidArgument" and cursor:
            raise HttpError(400, "invalid_cursor", "cursor is not valid") from exc
        raise
    uploads = [entry for item in page.get("Contents", []) if (entry := describe(item, caller.sub))]
    log.info("uploads listed", count=len(uploads))
    body: dict[str, Any] = {"uploads": uploads}
    if page.get("IsTruncated") and page.get("NextContinuationToken"):
        body["cursor"] = page["NextContinuationToken"]
    return json_response(200, body, event)

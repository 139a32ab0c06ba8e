"""POST /uploads: store a small file sent inline under the caller's own prefix.

Every check (type allowed, size, filename, and the bytes matching the declared type: UTF-8 for text, the
magic bytes for binary types) runs before the single PutObject, so a rejected request writes nothing. The S3 ObjectCreated
notification (not this handler) publishes the upload to the stream, exactly as for presigned uploads.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import boto3

from handlers.common import log
from handlers.common.claims import require_caller
from handlers.common.http import HttpError, api_handler, json_body, json_response
from handlers.common.uploads import UploadEnv, allowed_content_type, content_problem, new_upload_key
from handlers.common.validation import require_valid

ENV = UploadEnv.load()

s3 = boto3.client("s3")


def _too_large() -> HttpError:
    return HttpError(413, "payload_too_large", f"content is larger than {ENV.max_bytes} bytes")


def decode_content(content: str, encoding: str) -> bytes:
    """The bytes to store; 413 past the limit (checked before decoding anything big), 400 if undecodable."""
    if encoding == "base64":
        # 4 base64 characters carry 3 bytes: a longer string cannot decode to an allowed size.
        if len(content) > 4 * (ENV.max_bytes // 3 + 1) + 4:
            raise _too_large()
        try:
            data = base64.b64decode(content, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise HttpError(400, "invalid_content", "content is not valid base64") from exc
        if base64.b64encode(data).decode() != content:  # stray padding or trailing bits: not what was meant
            raise HttpError(400, "invalid_content", "content is not canonical base64")
    else:
        if len(content) > ENV.max_bytes:  # every character is at least one UTF-8 byte
            raise _too_large()
        try:
            data = content.encode("utf-8")
        except UnicodeEncodeError as exc:  # lone surrogates from a JSON \ud800 escape
            raise HttpError(400, "invalid_content", "content is not valid UTF-8 text") from exc
    if len(data) > ENV.max_bytes:
        raise _too_large()
    if not data:
        raise HttpError(400, "invalid_content", "content is empty")
    return data


@api_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    caller = require_caller(event)
    body = require_valid(json_body(event), "upload")
    content_type = allowed_content_type(body["contentType"], ENV.content_types)
    data = decode_content(body["content"], body.get("encoding", "utf-8"))
    problem = content_problem(data, content_type)
    if problem:  # the processor would refuse it forever: refused here, nothing stored
        raise HttpError(400, "invalid_content", problem)
    upload = new_upload_key(caller.sub, body["filename"])
    s3.put_object(Bucket=ENV.uploads_bucket, Key=upload.key, Body=data, ContentType=content_type)
    log.info("upload stored", key=upload.key, size=len(data), contentType=content_type)
    return json_response(201, {"key": upload.key}, event)

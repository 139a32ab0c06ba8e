"""POST /uploads/url: a presigned POST (SigV4) for one object under the caller's own prefix.

The policy S3 checks on upload pins the exact key, the content type and a size range up to the limit, and
it expires after UPLOAD_URL_TTL_SECONDS. The signature carries this function's rights (s3:PutObject on
uploads/*) narrowed by that policy, so the client can create that one object and nothing else.
"""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

from handlers.common import log
from handlers.common.claims import require_caller
from handlers.common.http import api_handler, json_body, json_response
from handlers.common.uploads import UploadEnv, allowed_content_type, new_upload_key
from handlers.common.validation import require_valid

ENV = UploadEnv.load()

s3 = boto3.client("s3", config=Config(signature_version="s3v4"))


def presigned_post(key: str, content_type: str) -> dict[str, Any]:
    return s3.generate_presigned_post(
        Bucket=ENV.uploads_bucket,
        Key=key,  # boto3 adds the exact {"key": key} and {"bucket": ...} conditions
        Fields={"Content-Type": content_type},
        Conditions=[
            {"Content-Type": content_type},
            ["content-length-range", 1, ENV.max_bytes],
        ],
        ExpiresIn=ENV.url_ttl_seconds,
    )


@api_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    caller = require_caller(event)
    body = require_valid(json_body(event), "upload_url")
    content_type = allowed_content_type(body["contentType"], ENV.content_types)
    upload = new_upload_key(caller.sub, body["filename"])
    post = presigned_post(upload.key, content_type)
    log.info("upload url issued", key=upload.key, contentType=content_type, expiresIn=ENV.url_ttl_seconds)
    return json_response(
        200,
        {"url": post["url"], "fields": post["fields"], "key": upload.key, "expiresIn": ENV.url_ttl_seconds},
        event,
    )

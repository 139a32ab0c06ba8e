"""POST /uploads/url (handlers/uploads_presign.py): the presigned POST policy is the security boundary.

moto does not check signatures or POST policies, so the policy is decoded and asserted condition by
condition; the upload through the returned form then proves the URL and fields work end to end.
"""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
import requests

from tests.events import api_event, cognito_claims
from tests.handlers.test_uploads_common import UPLOAD_ENV, all_keys, make_buckets, new_sub

UPLOADS = UPLOAD_ENV["UPLOADS_BUCKET"]
LIMIT = int(UPLOAD_ENV["MAX_UPLOAD_BYTES"])


def request_url(module: Any, context: Any, body: Any, sub: str | None) -> dict[str, Any]:
    claims = cognito_claims(sub=sub) if sub else None
    response = module.handler(api_event("POST", "/uploads/url", body=body, claims=claims), context)
    return {**response, "json": json.loads(response["body"])}


def decoded_policy(fields: dict[str, str]) -> dict[str, Any]:
    return json.loads(base64.b64decode(fields["policy"]))


def conditions_by_name(policy: dict[str, Any]) -> dict[str, Any]:
    """{"key": value} for exact-match conditions, {"content-length-range": [lo, hi]} for ranges."""
    out: dict[str, Any] = {}
    for condition in policy["conditions"]:
        if isinstance(condition, dict):
            ((name, value),) = condition.items()
            out[name.lower()] = value
        else:
            out[condition[0].lower()] = condition[1:]
    return out


@pytest.fixture
def presign(aws: None, load_handler: Any) -> Any:
    make_buckets()
    return load_handler("uploads_presign", env=UPLOAD_ENV)


def test_policy_pins_key_size_type_and_expiry(presign: Any, lambda_context: Any) -> None:
    sub = new_sub()
    before = time.time()
    response = request_url(presign, lambda_context, {"filename": "docs/Q1 report.csv", "contentType": "text/csv"}, sub)

    assert response["statusCode"] == 200
    body = response["json"]
    assert set(body) == {"url", "fields", "key", "expiresIn"}
    assert body["key"].startswith(f"uploads/{sub}/") and body["key"].endswith("-Q1_report.csv")
    assert body["expiresIn"] == int(UPLOAD_ENV["UPLOAD_URL_TTL_SECONDS"])
    fields = body["fields"]
    assert fields["key"] == body["key"] and fields["Content-Type"] == "text/csv"
    assert fields["x-amz-algorithm"] == "AWS4-HMAC-SHA256" and "x-amz-signature" in fields

    policy = decoded_policy(fields)
    conditions = conditions_by_name(policy)
    # Exact matches only: no starts-with condition could widen the key or the type.
    assert all(isinstance(c, dict) or c[0] == "content-length-range" for c in policy["conditions"])
    assert conditions["key"] == body["key"]
    assert conditions["bucket"] == UPLOADS
    assert conditions["content-type"] == "text/csv"
    assert conditions["content-length-range"] == [1, LIMIT]
    assert conditions["x-amz-algorithm"] == "AWS4-HMAC-SHA256"
    assert conditions["x-amz-credential"] == fields["x-amz-credential"]
    expires = datetime.strptime(policy["expiration"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
    assert before + body["expiresIn"] - 2 <= expires <= time.time() + body["expiresIn"] + 2
    assert all_keys(UPLOADS) == []  # issuing a URL writes nothing


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"filename": "../../other-user/x.txt", "contentType": "text/plain"}, "invalid_filename"),
        ({"filename": "a\x1b.txt", "contentType": "text/plain"}, "invalid_filename"),
        ({"filename": "page.html", "contentType": "text/html"}, "unsupported_content_type"),
        ({"filename": "a.txt"}, "validation_error"),
        ({"filename": "a.txt", "contentType": "text/plain", "key": "uploads/x/y"}, "validation_error"),
    ],
)
def test_refused_requests_get_no_url(presign: Any, lambda_context: Any, body: dict, code: str) -> None:
    response = request_url(presign, lambda_context, body, new_sub())

    assert response["statusCode"] == 400
    assert response["json"] == {"error": {"code": code, "message": response["json"]["error"]["message"]}}
    assert "url" not in response["json"]


def test_without_identity_claims_no_url_is_issued(presign: Any, lambda_context: Any) -> None:
    response = request_url(presign, lambda_context, {"filename": "a.txt", "contentType": "text/plain"}, None)
    assert response["statusCode"] == 401


def test_upload_through_the_presigned_post_lands_under_the_key(
    moto_endpoint: str, load_handler: Any, lambda_context: Any
) -> None:
    make_buckets()  # boto3 honours AWS_ENDPOINT_URL: these buckets live in moto_server
    module = load_handler("uploads_presign", env=UPLOAD_ENV)
    sub = new_sub()
    body = request_url(module, lambda_context, {"filename": "hello.txt", "contentType": "text/plain"}, sub)["json"]
    assert body["url"].startswith(moto_endpoint)

    # A browser form post: the fields first, the file last, no AWS SDK and no credentials.
    upload = requests.post(body["url"], data=body["fields"], files={"file": ("hello.txt", b"hello presigned")},
                           timeout=10)

    assert upload.status_code in (200, 204), upload.text
    stored = boto3.client("s3").get_object(Bucket=UPLOADS, Key=body["key"])
    assert stored["Body"].read() == b"hello presigned"
    assert stored["ContentType"] == "text/plain"
    assert all_keys(UPLOADS) == [body["key"]]

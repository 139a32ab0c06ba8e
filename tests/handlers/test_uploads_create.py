"""POST /uploads (handlers/uploads_create.py) against moto: stored under the caller's prefix, or nothing written."""

from __future__ import annotations

import base64
import json
from typing import Any

import boto3
import pytest

from tests.events import api_event, cognito_claims
from tests.handlers.test_uploads_common import UPLOAD_ENV, all_keys, make_buckets, new_sub

UPLOADS = UPLOAD_ENV["UPLOADS_BUCKET"]
LIMIT = int(UPLOAD_ENV["MAX_UPLOAD_BYTES"])


@pytest.fixture
def create(aws: None, load_handler: Any) -> Any:
    make_buckets()
    return load_handler("uploads_create", env=UPLOAD_ENV)


def post(module: Any, context: Any, body: Any = None, sub: str | None = None, **kwargs: Any) -> dict[str, Any]:
    claims = cognito_claims(sub=sub) if sub != "" else None
    response = module.handler(api_event("POST", "/uploads", body=body, claims=claims, **kwargs), context)
    return {**response, "json": json.loads(response["body"])}


def test_text_upload_is_stored_under_the_callers_prefix(create: Any, lambda_context: Any) -> None:
    sub = new_sub()
    body = {"filename": "notes/2024/hello world.txt", "content": "hello kinesis", "contentType": "text/plain"}
    response = post(create, lambda_context, body, sub=sub)

    assert response["statusCode"] == 201
    key = response["json"]["key"]
    assert key.startswith(f"uploads/{sub}/") and key.endswith("-hello_world.txt")
    stored = boto3.client("s3").get_object(Bucket=UPLOADS, Key=key)
    assert stored["Body"].read() == b"hello kinesis"
    assert stored["ContentType"] == "text/plain"
    assert all_keys(UPLOADS) == [key]


def test_base64_content_is_stored_as_bytes(create: Any, lambda_context: Any) -> None:
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256))[:100]
    body = {"filename": "pic.png", "content": base64.b64encode(png).decode(), "contentType": "image/png",
            "encoding": "base64"}
    response = post(create, lambda_context, body, sub=new_sub())

    assert response["statusCode"] == 201
    stored = boto3.client("s3").get_object(Bucket=UPLOADS, Key=response["json"]["key"])
    assert stored["Body"].read() == png and stored["ContentType"] == "image/png"


def test_content_of_exactly_the_limit_is_accepted(create: Any, lambda_context: Any) -> None:
    body = {"filename": "max.txt", "content": "a" * LIMIT, "contentType": "text/plain"}
    assert post(create, lambda_context, body, sub=new_sub())["statusCode"] == 201


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"filename": "../..", "content": "x", "contentType": "text/plain"}, 400, "invalid_filename"),
        ({"filename": "../secret.txt", "content": "x", "contentType": "text/plain"}, 400, "invalid_filename"),
        ({"filename": "a\x00.txt", "content": "x", "contentType": "text/plain"}, 400, "invalid_filename"),
        ({"filename": "x" * 256, "content": "x", "contentType": "text/plain"}, 400, "validation_error"),
        ({"filename": "é" * 200, "content": "x", "contentType": "text/plain"}, 400, "invalid_filename"),
        ({"filename": "run.sh", "content": "x", "contentType": "application/x-sh"}, 400, "unsupported_content_type"),
        ({"filename": "a.html", "content": "<script>", "contentType": "text/html"}, 400, "unsupported_content_type"),
        ({"filename": "a.txt", "content": "not base64!", "contentType": "text/plain", "encoding": "base64"},
         400, "invalid_content"),
        ({"filename": "a.txt", "content": "YWJj=", "contentType": "text/plain", "encoding": "base64"},
         400, "invalid_content"),
        ({"filename": "a.txt", "content": "YWJ=", "contentType": "text/plain", "encoding": "base64"},
         400, "invalid_content"),
        ({"filename": "a.txt", "content": "YWJj\n", "contentType": "text/plain", "encoding": "base64"},
         400, "invalid_content"),
        ({"filename": "a.txt", "content": "x", "contentType": "text/plain", "encoding": "utf-16"},
         400, "validation_error"),
        ({"filename": "a.txt", "content": "\ud800", "contentType": "text/plain"}, 400, "invalid_content"),
        ({"filename": "a.txt", "content": "", "contentType": "text/plain"}, 400, "invalid_content"),
        ({"filename": "a.txt", "content": "a" * (LIMIT + 1), "contentType": "text/plain"}, 413, "payload_too_large"),
        ({"filename": "a.txt", "content": "é" * (LIMIT // 2 + 1), "contentType": "text/plain"},
         413, "payload_too_large"),
        ({"filename": "a.bin", "content": base64.b64encode(b"a" * (LIMIT + 1)).decode(), "contentType": "image/png",
          "encoding": "base64"}, 413, "payload_too_large"),
        ({"filename": "a.bin", "content": "A" * (10 * LIMIT), "contentType": "image/png", "encoding": "base64"},
         413, "payload_too_large"),
        ({"filename": "a.txt", "content": "x", "contentType": "text/plain", "key": "uploads/other/a.txt"},
         400, "validation_error"),
    ],
)
def test_rejected_uploads_write_nothing(create: Any, lambda_context: Any, body: dict, status: int, code: str) -> None:
    response = post(create, lambda_context, body, sub=new_sub())

    assert (response["statusCode"], response["json"]["error"]["code"]) == (status, code)
    assert all_keys(UPLOADS) == []


@pytest.mark.parametrize(
    ("kwargs", "status"),
    [({"raw_body": "{not json"}, 400), ({"raw_body": None}, 400)],
)
def test_malformed_requests_write_nothing(create: Any, lambda_context: Any, kwargs: dict, status: int) -> None:
    assert post(create, lambda_context, sub=new_sub(), **kwargs)["statusCode"] == status
    assert all_keys(UPLOADS) == []


def test_without_identity_claims_the_request_is_unauthorized(create: Any, lambda_context: Any) -> None:
    body = {"filename": "a.txt", "content": "x", "contentType": "text/plain"}
    response = post(create, lambda_context, body, sub="")

    assert response["statusCode"] == 401
    assert all_keys(UPLOADS) == []


def test_a_storage_failure_is_a_500_without_internals(aws: None, load_handler: Any, lambda_context: Any) -> None:
    module = load_handler("uploads_create", env=UPLOAD_ENV)  # no bucket: PutObject fails with NoSuchBucket
    body = {"filename": "a.txt", "content": "x", "contentType": "text/plain"}
    response = post(module, lambda_context, body, sub=new_sub())

    assert response["statusCode"] == 500
    assert response["json"] == {"error": {"code": "internal_error", "message": "internal error"}}

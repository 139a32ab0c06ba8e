"""Upload content against what it declares (findings 6, 7, 8 of issue 11) and S3's 403-for-missing (issue 9.8)."""

from __future__ import annotations

import base64
import json
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from handlers.common.uploads import SIGNATURES, content_problem
from tests.events import api_event, cognito_claims
from tests.handlers.test_uploads_common import UPLOAD_ENV, all_keys, new_sub
from tests.handlers.test_uploads_ingest import event_for, put_upload, stream_records
from tests.handlers.test_uploads_process import PROCESSED, UPLOADS, Flow

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16
HTML = b"<html><script>alert(document.cookie)</script></html>"


@pytest.fixture
def flow(aws: None, load_handler: Any, lambda_context: Any) -> Flow:
    return Flow(load_handler, lambda_context)


def post(module: Any, context: Any, path: str, body: Any = None, raw_body: str | None = None) -> dict[str, Any]:
    event = api_event("POST", path, body=body, raw_body=raw_body, claims=cognito_claims(sub=new_sub()))
    response = module.handler(event, context)
    return {**response, "json": json.loads(response["body"])}


# ------------------------------------------------------------------------------ finding 6: lone surrogates


@pytest.mark.parametrize(("handler", "path", "extra"), [
    ("uploads_create", "/uploads", ', "content": "hi"'),
    ("uploads_presign", "/uploads/url", ""),
])
def test_a_lone_surrogate_in_a_filename_is_400_not_500(flow: Flow, load_handler: Any, lambda_context: Any,
                                                       handler: str, path: str, extra: str) -> None:
    module = load_handler(handler, env=UPLOAD_ENV)
    raw = '{"filename": "a\\ud800.txt", "contentType": "text/plain"' + extra + "}"
    response = post(module, lambda_context, path, raw_body=raw)
    assert response["statusCode"] == 400 and response["json"]["error"]["code"] == "invalid_filename"
    assert all_keys(UPLOADS) == []


# ------------------------------------------------------------------- findings 7 and 8 at POST /uploads


@pytest.mark.parametrize(("content", "content_type"), [
    (b"\xff\xfe not utf-8", "text/plain"),
    (b"caf\xe9,1\n", "text/csv"),
    (b'{"a": "\xff"}', "application/json"),
    (HTML, "image/png"),
    (b"GIF89a....", "image/png"),
    (PNG[:4], "image/png"),
], ids=["latin1-text", "latin1-csv", "bad-json-bytes", "html-as-png", "gif-as-png", "truncated-png"])
def test_content_that_is_not_what_it_declares_is_400_and_stores_nothing(
    flow: Flow, lambda_context: Any, content: bytes, content_type: str
) -> None:
    body = {"filename": "f.bin", "content": base64.b64encode(content).decode(), "contentType": content_type,
            "encoding": "base64"}
    response = post(flow.create, lambda_context, "/uploads", body)
    assert response["statusCode"] == 400 and response["json"]["error"]["code"] == "invalid_content"
    assert all_keys(UPLOADS) == []


def test_a_real_png_is_accepted(flow: Flow, lambda_context: Any) -> None:
    body = {"filename": "p.png", "content": base64.b64encode(PNG).decode(), "contentType": "image/png",
            "encoding": "base64"}
    assert post(flow.create, lambda_context, "/uploads", body)["statusCode"] == 201


def test_every_signature_accepts_its_own_type_and_refuses_html() -> None:
    samples = {"image/webp": b"RIFF\x00\x00\x00\x00WEBPVP8 "}
    for kind, signatures in SIGNATURES.items():
        good = samples.get(kind, signatures[0] + b"\x00" * 8)
        assert content_problem(good, kind) is None, kind
        assert content_problem(HTML, kind) is not None, kind
    assert content_problem(b"RIFF\x00\x00\x00\x00WAVEfmt ", "image/webp") is not None
    assert content_problem(b"anything", "application/octet-stream") is None
    assert content_problem(b"\x00\x01", "application/x-unknown") is not None  # unknowable: refused


# ------------------------------------------------ findings 7 and 8 for presigned uploads: recorded, not retried


def test_html_posted_as_png_through_a_presigned_form_is_rejected_for_good_and_listed_so(
    flow: Flow, load_handler: Any, lambda_context: Any
) -> None:
    sub = new_sub()
    key = f"uploads/{sub}/abc-pic.png"
    put_upload(key, HTML, "image/png")  # what a presigned POST with the pinned type could upload
    flow.ingest_key(key)

    assert flow.consume(stream_records()) == {"batchItemFailures": []}

    processed_key = f"processed/{sub}/abc-pic.png"
    head = boto3.client("s3").head_object(Bucket=PROCESSED, Key=processed_key)
    assert head["ContentLength"] == 0 and head["Metadata"]["status"] == "rejected"
    lister = load_handler("uploads_list", env=UPLOAD_ENV)
    claims = {**cognito_claims(), "sub": sub}
    listing = json.loads(lister.handler(api_event("GET", "/uploads", claims=claims), lambda_context)["body"])
    [entry] = listing["uploads"]
    assert entry["status"] == "rejected" and "image/png" in entry["reason"] and "downloadUrl" not in entry


# ---------------------------------------------------------------- issue 9.8: 403 is "missing" without ListBucket


def test_ingest_treats_a_403_head_like_a_404(flow: Flow, lambda_context: Any) -> None:
    key = f"uploads/{new_sub()}/gone.txt"
    head = put_upload(key)
    with Stubber(flow.ingest.s3) as stub:
        stub.add_client_error("head_object", service_error_code="403", service_message="Forbidden",
                              http_status_code=403)
        assert flow.ingest.handler(event_for(key, head), lambda_context) == {"published": 0}
    assert stream_records() == []


def test_processing_treats_a_403_read_like_a_vanished_object(flow: Flow) -> None:
    key = f"uploads/{new_sub()}/gone.txt"
    put_upload(key)
    flow.ingest_key(key)
    records = stream_records()
    with Stubber(flow.process.s3) as stub:
        stub.add_client_error("get_object", service_error_code="AccessDenied", http_status_code=403)
        assert flow.consume(records) == {"batchItemFailures": []}
    assert all_keys(PROCESSED) == []

"""Upload naming rules (handlers/common/uploads.py) and the upload request schemas.

Also home of the small helpers the other upload handler tests share (environment, buckets, a caller).
"""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import boto3
import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from handlers.common.http import HttpError
from handlers.common.uploads import (
    MAX_FILENAME_BYTES,
    InvalidFilename,
    allowed_content_type,
    is_text,
    new_upload_key,
    owner_segment,
    parse_upload_key,
    safe_filename,
)
from handlers.common.validation import load_schema, validate
from tests.hypothesis_budget import examples

UPLOAD_ENV = {
    "UPLOADS_BUCKET": "app-dev-uploads",
    "PROCESSED_BUCKET": "app-dev-processed",
    "STREAM_NAME": "app-dev-uploads-stream",
    "MAX_UPLOAD_BYTES": "1024",
    "UPLOAD_URL_TTL_SECONDS": "900",
    "ALLOWED_CONTENT_TYPES": "text/plain,text/csv,application/json,image/png",
}
SCHEMAS = Path(__file__).resolve().parents[2] / "handlers" / "schemas"
SAFE_NAME = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]*$")


def make_buckets(versioned_processed: bool = False) -> None:
    s3 = boto3.client("s3")
    for bucket in (UPLOAD_ENV["UPLOADS_BUCKET"], UPLOAD_ENV["PROCESSED_BUCKET"]):
        s3.create_bucket(Bucket=bucket)
    if versioned_processed:
        s3.put_bucket_versioning(Bucket=UPLOAD_ENV["PROCESSED_BUCKET"], VersioningConfiguration={"Status": "Enabled"})


def all_keys(bucket: str) -> list[str]:
    return [o["Key"] for o in boto3.client("s3").list_objects_v2(Bucket=bucket).get("Contents", [])]


def new_sub() -> str:
    return str(uuid.uuid4())


# ------------------------------------------------------------------------------------------- filenames


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("report.txt", "report.txt"),
        ("dir/sub/report.txt", "report.txt"),
        ("C:\\Users\\me\\report.txt", "report.txt"),
        ("my report (final).txt", "my_report_final_.txt"),
        (".bashrc", "bashrc"),
        ("naïve café.csv", "na_ve_caf_.csv"),
        ("a..b.txt", "a..b.txt"),
    ],
)
def test_safe_filename_keeps_only_the_last_segment_in_a_safe_alphabet(raw: str, expected: str) -> None:
    assert safe_filename(raw) == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("../etc/passwd", "'..'"),
        ("a/../../b.txt", "'..'"),
        ("..\\windows\\win.ini", "'..'"),
        ("..", "'..'"),
        ("dir/", "usable"),
        ("...", "usable"),
        ("日本語", "usable"),
        ("evil\x00.txt", "control"),
        ("line\nbreak.txt", "control"),
        ("bidi\u202etxt.exe", "control"),
        ("x" * (MAX_FILENAME_BYTES + 1), "255 bytes"),
        ("é" * 128, "255 bytes"),  # 128 characters, 256 UTF-8 bytes
    ],
)
def test_safe_filename_refuses_names_that_cannot_be_made_safe(raw: str, reason: str) -> None:
    with pytest.raises(InvalidFilename, match=reason):
        safe_filename(raw)


@settings(max_examples=examples(300), deadline=None)
@given(raw=st.text(min_size=1, max_size=300), sub=st.uuids().map(str))
def test_any_accepted_filename_yields_a_key_inside_the_callers_prefix(raw: str, sub: str) -> None:
    try:
        upload = new_upload_key(sub, raw)
    except HttpError as exc:
        assert exc.status == 400
        return
    assert upload.key.startswith(f"uploads/{sub}/")
    assert upload.key.count("/") == 2
    assert SAFE_NAME.match(upload.name)
    assert len(upload.name.encode()) <= MAX_FILENAME_BYTES + 37  # "<uuid>-" prefix
    assert parse_upload_key(upload.key) == upload
    assert upload.processed_key == f"processed/{sub}/{upload.name}"


@given(raw=st.text(min_size=1, max_size=50))
def test_safe_filename_is_idempotent(raw: str) -> None:
    try:
        once = safe_filename(raw)
    except InvalidFilename:
        return
    assert safe_filename(once) == once


def test_two_uploads_of_the_same_name_get_different_keys() -> None:
    sub = new_sub()
    assert new_upload_key(sub, "a.txt").key != new_upload_key(sub, "a.txt").key


@pytest.mark.parametrize("sub", ["", "a/b", "../x", "*", "a b", "-leading", "x" * 129, "abc\n"])
def test_a_sub_that_could_leave_its_prefix_is_forbidden(sub: str) -> None:
    with pytest.raises(HttpError) as raised:
        owner_segment(sub)
    assert raised.value.status == 403


@pytest.mark.parametrize(
    "key",
    [
        "uploads/only-owner",
        "uploads//name.txt",
        "uploads/owner/nested/name.txt",
        "uploads/owner/../other/name.txt",
        "uploads/owner/.hidden",
        "processed/owner/name.txt",
        "other/owner/name.txt",
        "uploads/owner/name with space.txt",
        # `$` alone matches before a final newline: this named the different object "uploads/owner/name.txt".
        "uploads/owner/name.txt\n",
    ],
)
def test_keys_of_any_other_shape_have_no_owner(key: str) -> None:
    assert parse_upload_key(key) is None


def test_content_types_are_matched_without_parameters_and_case() -> None:
    allowed = frozenset({"text/plain", "image/png"})
    assert allowed_content_type("Text/Plain; charset=utf-8", allowed) == "text/plain"
    with pytest.raises(HttpError) as raised:
        allowed_content_type("application/x-sh", allowed)
    assert raised.value.status == 400
    assert is_text("text/csv; charset=utf-8") and not is_text("application/json")


# --------------------------------------------------------------------------------------------- schemas


@pytest.mark.parametrize("name", ["upload", "upload_url"])
def test_upload_schemas_are_draft4_and_supported_by_the_handler_validator(name: str) -> None:
    schema = json.loads((SCHEMAS / f"{name}.json").read_text())
    jsonschema.Draft4Validator.check_schema(schema)
    assert load_schema(name) == schema
    assert schema["additionalProperties"] is False


@pytest.mark.parametrize(
    "body",
    [
        {"filename": "a.txt", "content": "x", "contentType": "text/plain"},
        {"filename": "a.txt", "content": "eA==", "contentType": "text/plain", "encoding": "base64"},
        {"filename": "a.txt", "content": "x", "contentType": "text/plain", "encoding": "latin-1"},
        {"filename": "a.txt", "content": "x"},
        {"filename": "", "content": "x", "contentType": "text/plain"},
        {"filename": "a.txt", "content": "x", "contentType": "text/plain", "owner": "someone-else"},
        {"filename": "a.txt", "content": 5, "contentType": "text/plain"},
    ],
)
def test_handler_validator_agrees_with_jsonschema_on_upload_bodies(body: dict) -> None:
    schema = load_schema("upload")
    assert (not validate(body, schema)) == jsonschema.Draft4Validator(schema).is_valid(body)

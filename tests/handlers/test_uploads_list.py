"""GET /uploads (handlers/uploads_list.py): only the caller's own prefix is ever listed."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlparse

import boto3
import pytest
import requests

from tests.events import api_event, cognito_claims
from tests.handlers.test_uploads_common import UPLOAD_ENV, make_buckets, new_sub

UPLOADS = UPLOAD_ENV["UPLOADS_BUCKET"]
PROCESSED = UPLOAD_ENV["PROCESSED_BUCKET"]


@pytest.fixture
def lister(aws: None, load_handler: Any) -> Any:
    make_buckets()
    module = load_handler("uploads_list", env=UPLOAD_ENV)
    module.listed_prefixes = []
    module.s3.meta.events.register(
        "provide-client-params.s3.ListObjectsV2", lambda params, **_: module.listed_prefixes.append(params["Prefix"])
    )
    return module


def seed(sub: str, name: str, processed: bytes | None = None) -> str:
    s3 = boto3.client("s3")
    key = f"uploads/{sub}/{name}"
    s3.put_object(Bucket=UPLOADS, Key=key, Body=b"data", ContentType="text/plain")
    if processed is not None:
        s3.put_object(Bucket=PROCESSED, Key=f"processed/{sub}/{name}", Body=processed, ContentType="text/plain")
    return key


def get(module: Any, context: Any, sub: str | None, query: dict[str, str] | None = None) -> dict[str, Any]:
    claims = {**cognito_claims(), "sub": sub} if sub is not None else None
    response = module.handler(api_event("GET", "/uploads", claims=claims, query=query), context)
    return {**response, "json": json.loads(response["body"])}


def test_lists_own_uploads_with_status_and_a_short_lived_link(lister: Any, lambda_context: Any) -> None:
    me, someone = new_sub(), new_sub()
    done = seed(me, "a1-done.txt", processed=b"DONE")
    waiting = seed(me, "b2-waiting.txt")
    seed(someone, "c3-theirs.txt", processed=b"THEIRS")
    seed(f"{me}x", "d4-lookalike.txt")  # shares my sub as a string prefix: must not leak in

    response = get(lister, lambda_context, me, query={"prefix": f"uploads/{someone}/"})

    assert response["statusCode"] == 200
    uploads = {u["key"]: u for u in response["json"]["uploads"]}
    assert set(uploads) == {done, waiting}
    assert uploads[waiting]["status"] == "pending" and "downloadUrl" not in uploads[waiting]
    assert uploads[done]["status"] == "processed" and uploads[done]["size"] == 4
    link = urlparse(uploads[done]["downloadUrl"])
    assert link.path.endswith(f"/processed/{me}/a1-done.txt")
    assert parse_qs(link.query)["X-Amz-Expires"] == ["300"] and uploads[done]["downloadExpiresIn"] == 300
    assert requests.get(uploads[done]["downloadUrl"], timeout=10).content == b"DONE"
    assert lister.listed_prefixes == [f"uploads/{me}/"]


def test_pages_with_a_cursor_inside_the_own_prefix(lister: Any, lambda_context: Any) -> None:
    me = new_sub()
    keys = sorted(seed(me, f"{i:02d}-f.txt") for i in range(5))
    seed(new_sub(), "zz-other.txt")

    first = get(lister, lambda_context, me, query={"limit": "3"})["json"]
    second = get(lister, lambda_context, me, query={"limit": "3", "cursor": first["cursor"]})["json"]

    assert [u["key"] for u in first["uploads"] + second["uploads"]] == keys
    assert "cursor" not in second
    assert lister.listed_prefixes == [f"uploads/{me}/"] * 2


# "²" and "١٠" pass str.isdigit() (the first then broke int(): a 500); 5000 digits broke int() as well.
@pytest.mark.parametrize("limit", ["0", "101", "-1", "ten", "\u00b2", "\u0661\u0660", "1" * 5000, " 5", "5\n"])
def test_invalid_limits_are_refused(lister: Any, lambda_context: Any, limit: str) -> None:
    response = get(lister, lambda_context, new_sub(), query={"limit": limit})
    assert (response["statusCode"], response["json"]["error"]["code"]) == (400, "invalid_limit")
    assert lister.listed_prefixes == []


@pytest.mark.parametrize(("sub", "status"), [(None, 401), ("", 401), ("a/b", 403), ("..", 403), ("*", 403)])
def test_callers_without_a_usable_sub_list_nothing(lister: Any, lambda_context: Any, sub: Any, status: int) -> None:
    seed(new_sub(), "a-file.txt")

    response = get(lister, lambda_context, sub)

    assert response["statusCode"] == status
    assert lister.listed_prefixes == []

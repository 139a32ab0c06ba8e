"""Seed 004: upload -> S3 -> (notification) ingest -> Kinesis -> process -> processed/, by both upload paths."""

from __future__ import annotations

import requests

from tests.local.conftest import wait_for


def processed_keys(local, bucket: str) -> list[str]:
    return [o["Key"] for o in local.client("s3").list_objects_v2(Bucket=bucket, Prefix="processed/").get("Contents", [])]


def test_inline_upload_reaches_processed(local) -> None:
    user = local.sign_in()
    response = local.call("POST", "/uploads", user["IdToken"],
                          json={"filename": "demo.txt", "content": "hello kinesis", "contentType": "text/plain"})
    assert response.status_code in (200, 201, 202), response.text
    key = response.json()["key"]
    bucket = local.outputs["processed_bucket"]
    wait_for(lambda: any(k.endswith(key.split("/", 1)[1]) or key.split("/")[-1] in k
                         for k in processed_keys(local, bucket)), timeout=30, what="the processed object")
    listed = wait_for(lambda: [u for u in local.call("GET", "/uploads", user["IdToken"]).json().get("uploads", [])
                               if u.get("status") == "processed"], timeout=10, what="GET /uploads to show it")
    assert listed[0]["key"] == key


def test_presigned_upload_reaches_processed(local) -> None:
    user = local.sign_in()
    post = local.call("POST", "/uploads/url", user["IdToken"],
                      json={"filename": "big.csv", "contentType": "text/csv"}).json()
    uploaded = requests.post(post["url"], data=post["fields"], files={"file": ("big.csv", b"a,b\n1,2\n")}, timeout=10)
    assert uploaded.status_code in (200, 201, 204), uploaded.text
    bucket = local.outputs["processed_bucket"]
    name = post["key"].split("/")[-1]
    wait_for(lambda: any(name in k for k in processed_keys(local, bucket)), timeout=30, what="the processed csv")

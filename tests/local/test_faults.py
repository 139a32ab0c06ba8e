"""Faults on the local runtime: a poison message among good ones, a handler timeout, redelivery.

Every message is counted: nothing lost (the poison ends in the DLQ, timed-out work is redone), nothing
duplicated (one receipt and one email per order, one welcome email per registration).
"""

from __future__ import annotations

import json
import uuid

from tests.local.conftest import client_address, wait_for


def _queue_url(local, output: str) -> str:
    return local.outputs[output]


def _drain(local, url: str) -> list[dict]:
    sqs = local.client("sqs")
    seen = []
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        if not got:
            return seen
        for m in got:
            seen.append(m)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


def test_poison_message_goes_to_the_dlq_and_good_orders_are_done_once(local) -> None:
    user = local.sign_in()
    order_ids = []
    for sku in ("P-1", "P-2", "P-3"):
        body = {"currency": "USD", "items": [{"sku": sku, "name": "Thing", "qty": 1, "unitPrice": "1.00"}]}
        response = local.call("POST", "/orders", user["IdToken"], json=body, headers={"Idempotency-Key": uuid.uuid4().hex})
        assert response.status_code == 202
        order_ids.append(response.json()["orderId"])
    poison = f"poison-{uuid.uuid4().hex}"
    local.client("sqs").send_message(QueueUrl=_queue_url(local, "orders_queue_url"), MessageBody=poison)
    for order_id in order_ids:
        wait_for(lambda oid=order_id: local.call("GET", f"/orders/{oid}", user["IdToken"]).status_code == 200,
                 timeout=30, what=f"receipt {order_id}")
    dlq = _queue_url(local, "orders_dlq_url")
    dead = wait_for(lambda: [m for m in _drain(local, dlq) if m["Body"] == poison], timeout=40,
                    what="the poison message in the DLQ")
    assert len(dead) == 1
    wait_for(lambda: all(any(oid in json.dumps(m) for m in local.ses_messages()) for oid in order_ids), timeout=20,
             what="the confirmation emails")
    for order_id in order_ids:
        emails = [m for m in local.ses_messages() if order_id in json.dumps(m)]
        assert len(emails) == 1, (order_id, len(emails))
    receipts = local.client("s3").list_objects_v2(Bucket=local.outputs["receipts_bucket"], Prefix="receipts/")
    keys = [o["Key"] for o in receipts.get("Contents", [])]
    for order_id in order_ids:
        assert len([k for k in keys if order_id in k and k.endswith(".json")]) == 1


def test_timed_out_email_job_is_redelivered_and_sent_once(local) -> None:
    sender = local.function("email-sender")
    errors_before = local.count(f"{sender}.errors")
    local.fault(sender, delay=2.0, timeout=1.0)
    email = f"slow-{uuid.uuid4().hex[:6]}@example.com"
    try:
        # The VerifyEmail job of a sign-up goes through the same outbox and sender.
        response = local.call("POST", "/register", json={"email": email}, client_ip=client_address())
        assert response.status_code == 202
        wait_for(lambda: local.count(f"{sender}.errors") > errors_before, timeout=20, what="the handler timeout")
        assert "Task timed out" in local.log.read_text()
    finally:
        local.fault(sender)
    wait_for(lambda: any(email in json.dumps(m) for m in local.ses_messages()), timeout=30,
             what="the email after redelivery")
    assert len([m for m in local.ses_messages() if email in json.dumps(m)]) == 1


def test_failing_stream_consumer_bisects_retries_and_records_the_failure(local) -> None:
    process = local.function("uploads-process")
    failures_url = local.outputs["uploads_failure_queue_url"]
    _drain(local, failures_url)
    before = local.count(f"{process}.records_failed")
    local.fault(process, error="injected fault")
    try:
        user = local.sign_in()
        response = local.call("POST", "/uploads", user["IdToken"],
                              json={"filename": "f.txt", "content": "x", "contentType": "text/plain"})
        assert response.status_code in (200, 201, 202)
        wait_for(lambda: local.count(f"{process}.records_failed") > before, timeout=30, what="the retries to end")
    finally:
        local.fault(process)
    records = wait_for(lambda: _drain(local, failures_url), timeout=10, what="the on-failure record")
    info = json.loads(records[0]["Body"])
    assert info["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert info["KinesisBatchInfo"]["batchSize"] == 1
    assert info["requestContext"]["approximateInvokeCount"] == 4  # the first try + maximumRetryAttempts (3)

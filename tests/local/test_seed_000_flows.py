"""Seed 000 over HTTP: registration -> welcome email, order -> receipt + email -> GET, presigned URL scope."""

from __future__ import annotations

import base64
import json
import uuid

import requests

from handlers.common.signup import REGISTER_PER_IP
from tests.local.conftest import client_address, wait_for
from tests.local.flows import emailed_code


def ses_sent_to(local, to: str) -> list[dict]:
    return [m for m in local.ses_messages() if to in json.dumps(m)]


def claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def test_register_then_sign_in_then_welcome_email(local) -> None:
    email = f"ann-{uuid.uuid4().hex[:6]}@example.com"
    sender = local.function("email-sender")
    before = local.count(f"{sender}.deleted")
    ip = client_address()
    response = local.call("POST", "/register", json={"email": email}, client_ip=ip)
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "CHECK_EMAIL"
    code = emailed_code(local, email, 20)
    assert code is not None, "no VerifyEmail with a code"
    wrong = local.call("POST", "/register/confirm", client_ip=ip, json={"email": email, "code": f"{(int(code) + 1) % 10**6:06d}",
                                                          "name": "Ann", "password": "Correct-Horse-9"})
    assert wrong.status_code == 400 and wrong.json()["error"]["code"] == "invalid_code"
    response = local.call("POST", "/register/confirm", client_ip=ip,
                          json={"email": email, "code": code, "name": "Ann", "password": "Correct-Horse-9"})
    assert response.status_code == 201, response.text
    assert response.json()["welcomeEmail"] == "pending"  # the profile row's stream INSERT sends it
    tokens = local.tokens(email, "Correct-Horse-9")
    assert local.call("GET", "/hello", tokens["IdToken"]).status_code == 200
    wait_for(lambda: local.count(f"{sender}.deleted") > before, what="the email jobs to be consumed")
    # Through the profile row's stream: confirm -> profiles table -> welcome -> outbox -> sender -> SES.
    sent = wait_for(lambda: [m for m in ses_sent_to(local, email) if "Welcome" in json.dumps(m, default=str)],
                    timeout=30, what="a welcome email in SES")
    assert len(sent) == 1
    # Signing up again answers exactly as for a new address; the mailbox gets AccountExists, not a code.
    again = local.call("POST", "/register", json={"email": email}, client_ip=ip)
    assert again.status_code == 202 and again.json()["status"] == "CHECK_EMAIL"
    wait_for(lambda: any("AccountExists" in json.dumps(m, default=str) for m in ses_sent_to(local, email)),
             what="an AccountExists email")


def test_per_ip_sign_up_limit_counts_the_callers_address_and_refused_requests_send_nothing(local) -> None:
    """The gateway's sourceIp is the peer address: one address gets REGISTER_PER_IP sign-ups an hour, then 429
    with Retry-After and nothing mailed; another address is unaffected."""
    ip, run = client_address(), uuid.uuid4().hex[:6]
    allowed = [f"lim-{run}-{i}@example.com" for i in range(REGISTER_PER_IP[0])]
    for email in allowed:
        assert local.call("POST", "/register", json={"email": email}, client_ip=ip).status_code == 202
    refused = local.call("POST", "/register", json={"email": f"lim-{run}-over@example.com"}, client_ip=ip)
    assert refused.status_code == 429, refused.text
    assert refused.json()["error"]["code"] == "too_many_requests"
    assert 1 <= int(refused.headers["Retry-After"]) <= REGISTER_PER_IP[1]
    elsewhere = f"lim-{run}-elsewhere@example.com"
    assert local.call("POST", "/register", json={"email": elsewhere}, client_ip=client_address()).status_code == 202
    wait_for(lambda: all(ses_sent_to(local, to) for to in [*allowed, elsewhere]), timeout=30,
             what="a code for every accepted sign-up")
    assert not ses_sent_to(local, f"lim-{run}-over@example.com")


def test_order_receipt_email_and_get(local) -> None:
    user = local.sign_in()
    order = {"currency": "USD", "items": [{"sku": "A-1", "name": "Mug", "qty": 2, "unitPrice": "9.50"}]}
    response = local.call("POST", "/orders", user["IdToken"], json=order, headers={"Idempotency-Key": uuid.uuid4().hex})
    assert response.status_code == 202, response.text
    order_id = response.json()["orderId"]
    # The order state machine runs it to CONFIRMED; GET shows the receipt from then on.
    receipt = wait_for(lambda: (r := local.call("GET", f"/orders/{order_id}", user["IdToken"])).status_code == 200
                       and r.json()["status"] == "CONFIRMED" and r, timeout=30, what="the receipt")
    assert receipt.json()["orderId"] == order_id
    assert receipt.json()["receipt"]["total"] == "19.00"
    wait_for(lambda: ses_sent_to(local, user["email"]), timeout=30, what="the order confirmation email")
    other = local.sign_in()
    assert local.call("GET", f"/orders/{order_id}", other["IdToken"]).status_code == 404


def test_presigned_upload_url_is_scoped_to_the_callers_sub(local) -> None:
    user = local.sign_in()
    sub = claims(user["IdToken"])["sub"]
    response = local.call("POST", "/uploads/url", user["IdToken"], json={"filename": "a.csv", "contentType": "text/csv"})
    assert response.status_code == 200, response.text
    post = response.json()
    assert post["key"].startswith(f"uploads/{sub}/")
    # The policy pins the key: the same signature cannot write under someone else's prefix.
    other_fields = {**post["fields"], "key": "uploads/someone-else/x.csv"}
    refused = requests.post(post["url"], data=other_fields, files={"file": ("x.csv", b"a,b\n")}, timeout=10)
    assert refused.status_code == 403
    accepted = requests.post(post["url"], data=post["fields"], files={"file": ("a.csv", b"a,b\n")}, timeout=10)
    assert accepted.status_code in (200, 201, 204), accepted.text

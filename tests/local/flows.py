"""The seed walk-throughs as functions: each returns None when the flow worked, else how it failed.

Used by the least-privilege matrix, which removes one statement at a time and expects the flows that
need it to fail; a short `patience` keeps a failing flow from waiting long.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable

import requests

Flow = Callable[..., "str | None"]


def _until(predicate: Callable[[], object], patience: float) -> bool:
    deadline = time.time() + patience
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def health(local, patience: float) -> str | None:
    response = local.call("GET", "/health")
    return None if response.status_code == 200 else f"GET /health -> {response.status_code}"


def hello(local, patience: float) -> str | None:
    user = local.sign_in()
    response = local.call("GET", "/hello", user["IdToken"])
    return None if response.status_code == 200 else f"GET /hello -> {response.status_code}"


_CODE = re.compile(r"code\W+(\d{6})")


def emailed_code(local, email: str, patience: float) -> str | None:
    """The sign-up code of the newest VerifyEmail to `email` in the local mailbox (`/__local/ses/sent`)."""
    found: list[str] = []

    def code() -> bool:
        for message in reversed(local.ses_messages()):
            text = json.dumps(message, default=str)
            if email in text and "VerifyEmail" in text and (match := _CODE.search(text)):
                found.append(match.group(1))
                return True
        return False

    return found[0] if _until(code, patience) else None


def sign_up(local, email: str, name: str, password: str, patience: float) -> tuple[int, str]:
    """The two-step sign-up a user does: POST /register, read the mailed code, POST /register/confirm.
    Returns the last status and what failed ('' when the account was created)."""
    response = local.call("POST", "/register", json={"email": email})
    if response.status_code != 202:
        return response.status_code, f"POST /register -> {response.status_code}"
    code = emailed_code(local, email, patience)
    if code is None:
        return response.status_code, "no VerifyEmail code"
    response = local.call("POST", "/register/confirm",
                          json={"email": email, "code": code, "name": name, "password": password})
    if response.status_code != 201:
        return response.status_code, f"POST /register/confirm -> {response.status_code}"
    return response.status_code, ""


def register(local, patience: float) -> str | None:
    email = f"reg-{uuid.uuid4().hex[:8]}@example.com"
    _, failure = sign_up(local, email, "Reg", "Correct-Horse-9", patience)
    if failure:
        return failure
    if not _until(lambda: any(email in str(m) and "WelcomeEmail" in str(m) for m in local.ses_messages()), patience):
        return "no welcome email"
    return None


def order(local, patience: float) -> str | None:
    user = local.sign_in()
    body = {"currency": "USD", "items": [{"sku": "A-1", "name": "Mug", "qty": 1, "unitPrice": "3.00"}]}
    response = local.call("POST", "/orders", user["IdToken"], json=body, headers={"Idempotency-Key": uuid.uuid4().hex})
    if response.status_code != 202:
        return f"POST /orders -> {response.status_code}"
    order_id = response.json()["orderId"]
    statuses: list[int] = []

    def receipt() -> bool:
        statuses.append(local.call("GET", f"/orders/{order_id}", user["IdToken"]).status_code)
        return statuses[-1] == 200

    if not _until(receipt, patience):
        return f"GET /orders/{{id}} -> {statuses[-1] if statuses else '?'}"
    if not _until(lambda: any(user["email"] in str(m) for m in local.ses_messages()), patience):
        return "no confirmation email"
    return None


def _processed(local, user, key: str, patience: float) -> str | None:
    name = key.rsplit("/", 1)[-1]
    listed: list[dict] = []

    def done() -> bool:
        response = local.call("GET", "/uploads", user["IdToken"])
        if response.status_code != 200:
            listed[:] = [{"status": f"GET /uploads -> {response.status_code}"}]
            return False
        listed[:] = [u for u in response.json().get("uploads", []) if name in u.get("key", "")]
        return bool(listed) and listed[0].get("status") == "processed"

    if not _until(done, patience):
        return f"upload not processed ({listed[0].get('status') if listed else 'not listed'})"
    return None


def upload_inline(local, patience: float) -> str | None:
    user = local.sign_in()
    response = local.call("POST", "/uploads", user["IdToken"],
                          json={"filename": f"{uuid.uuid4().hex[:6]}.txt", "content": "hi", "contentType": "text/plain"})
    if response.status_code not in (200, 201, 202):
        return f"POST /uploads -> {response.status_code}"
    return _processed(local, user, response.json()["key"], patience)


def upload_presigned(local, patience: float) -> str | None:
    user = local.sign_in()
    response = local.call("POST", "/uploads/url", user["IdToken"],
                          json={"filename": f"{uuid.uuid4().hex[:6]}.csv", "contentType": "text/csv"})
    if response.status_code != 200:
        return f"POST /uploads/url -> {response.status_code}"
    post = response.json()
    uploaded = requests.post(post["url"], data=post["fields"], files={"file": ("f.csv", b"a,b\n")}, timeout=10)
    if uploaded.status_code not in (200, 201, 204):
        return f"presigned POST -> {uploaded.status_code}"
    return _processed(local, user, post["key"], patience)


def profile(local, patience: float) -> str | None:
    """A user who signed up outside /register saves their profile (POST /profiles, email from the token), reads
    it back, and gets the one welcome email from the table's stream."""
    user = local.sign_in()
    response = local.call("POST", "/profiles", user["IdToken"], json={"name": "Pat"})
    if response.status_code != 201:
        return f"POST /profiles -> {response.status_code}"
    sub = response.json()["profile"]["userId"]
    response = local.call("GET", f"/profiles/{sub}", user["IdToken"])
    if response.status_code != 200:
        return f"GET /profiles/{{id}} -> {response.status_code}"
    if not _until(lambda: any(user["email"] in str(m) and "WelcomeEmail" in str(m) for m in local.ses_messages()),
                  patience):
        return "no welcome email"
    return None


def _failure_routed(local, suffix: str, patience: float, flow: Flow) -> str | None:
    """A failing function's events must reach its on-failure destination (sent with the function's own role)."""
    function = local.function(suffix)
    before = local.count(f"{function}.on_failure_sent")
    local.fault(function, error="injected fault")
    try:
        flow(local, 0.5)
        if not _until(lambda: local.count(f"{function}.on_failure_sent") > before, patience):
            return "failure not routed to the on-failure destination"
        return None
    finally:
        local.fault(function)


def ingest_failure(local, patience: float) -> str | None:
    return _failure_routed(local, "uploads-ingest", patience, upload_inline)


def process_failure(local, patience: float) -> str | None:
    return _failure_routed(local, "uploads-process", patience, upload_inline)


def welcome_failure(local, patience: float) -> str | None:
    return _failure_routed(local, "profiles-welcome", patience, profile)


FLOWS: dict[str, Flow] = {
    "health": health, "hello": hello, "register": register, "order": order,
    "upload_inline": upload_inline, "upload_presigned": upload_presigned,
    "ingest_failure": ingest_failure, "process_failure": process_failure,
    "profile": profile, "welcome_failure": welcome_failure,
}

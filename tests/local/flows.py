"""The seed walk-throughs as functions: each returns None when the flow worked, else how it failed.

Used by the least-privilege matrix, which removes one statement at a time and expects the flows that
need it to fail; a short `patience` keeps a failing flow from waiting long.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Callable

import requests

from tests.local.conftest import client_address

Flow = Callable[..., "str | None"]


# Per thread: the least-privilege matrix sets `ABORT.check` to "the principal under test was refused", so a flow
# that is bound to fail stops waiting at once instead of after its patience.
ABORT = threading.local()


def _until(predicate: Callable[[], object], patience: float) -> bool:
    deadline = time.time() + patience
    abort = getattr(ABORT, "check", None)
    while time.time() < deadline:
        if predicate():
            return True
        if abort is not None and abort():
            return False
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
    Returns the last status and what failed ('' when the account was created). Each sign-up is a user on an
    address of their own (the per-IP limit counts addresses, see `client_address`)."""
    client_ip = client_address()
    response = local.call("POST", "/register", json={"email": email}, client_ip=client_ip)
    if response.status_code != 202:
        return response.status_code, f"POST /register -> {response.status_code}"
    code = emailed_code(local, email, patience)
    if code is None:
        return response.status_code, "no VerifyEmail code"
    response = local.call("POST", "/register/confirm", client_ip=client_ip,
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


def _place(local, user, unit_price: str) -> tuple[str | None, str | None]:
    body = {"currency": "USD", "items": [{"sku": "A-1", "name": "Mug", "qty": 2, "unitPrice": unit_price}]}
    response = local.call("POST", "/orders", user["IdToken"], json=body, headers={"Idempotency-Key": uuid.uuid4().hex})
    if response.status_code != 202:
        return None, f"POST /orders -> {response.status_code}"
    return response.json()["orderId"], None


def _settled(local, user, order_id: str, patience: float) -> tuple[dict | None, str]:
    """The order once terminal (CONFIRMED / FAILED / EXPIRED), else None and the last thing GET said."""
    seen: list[str] = []
    found: list[dict] = []

    def terminal() -> bool:
        response = local.call("GET", f"/orders/{order_id}", user["IdToken"])
        seen.append(f"GET /orders/{{id}} -> {response.status_code}" if response.status_code != 200
                    else f"stuck {response.json().get('status')}")
        if response.status_code == 200 and response.json().get("status") in ("CONFIRMED", "FAILED", "EXPIRED"):
            found.append(response.json())
            return True
        return False

    _until(terminal, patience)
    return (found[0] if found else None), (seen[-1] if seen else "?")


def order(local, patience: float) -> str | None:
    """Seed E/F: the order goes through the state machine to CONFIRMED, with its receipt and one email."""
    user = local.sign_in()
    order_id, failure = _place(local, user, "1.50")
    if failure:
        return failure
    settled, last = _settled(local, user, order_id, patience)
    if settled is None:
        return last
    if settled["status"] != "CONFIRMED":
        return f"{settled['status']} ({settled.get('failureReason')})"
    if "receipt" not in settled:
        return "no receipt"
    if not _until(lambda: any(order_id in json.dumps(m, default=str) for m in local.ses_messages()), patience):
        return "no confirmation email"
    return None


def order_declined(local, patience: float) -> str | None:
    """A declined charge: FAILED with its reason, the reservation released (Compensate), no email."""
    user = local.sign_in()
    order_id, failure = _place(local, user, "2600.00")  # 5200.00 > ordersMaxChargeAmount
    if failure:
        return failure
    settled, last = _settled(local, user, order_id, patience)
    if settled is None:
        return last
    if settled["status"] != "FAILED" or settled.get("failureReason") != "PaymentDeclined":
        return f"{settled['status']} ({settled.get('failureReason')})"

    def released() -> bool:  # Compensate runs right after MarkFailed recorded FAILED
        history = local.call("GET", f"/orders/{order_id}", user["IdToken"]).json()["history"]
        return any(h["status"] == "RELEASED" for h in history)

    return None if _until(released, patience) else "reservation not released"


def _compensation_queue(local) -> str:
    urls = local.client("sqs").list_queues(QueueNamePrefix=local.outputs["orders_table"]).get("QueueUrls", [])
    (url,) = [u for u in urls if u.endswith("compensation-failures")]
    return url


def compensation_parked(local, patience: float) -> str | None:
    """Compensate failing: the state machine parks the order in the compensation-failures queue (alarmed)."""
    compensate = local.function("orders-workflow-compensate")
    local.fault(compensate, error="injected fault")
    try:
        user = local.sign_in()
        order_id, failure = _place(local, user, "2600.00")
        if failure:
            return failure
        sqs = local.client("sqs")
        url = _compensation_queue(local)
        parked: list[str] = []

        def arrived() -> bool:
            for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", []):
                if order_id in m["Body"]:
                    parked.append(m["Body"])
                    sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
            return bool(parked)

        return None if _until(arrived, patience) else "failed compensation not parked"
    finally:
        local.fault(compensate)


def _seed_stale_pending(local) -> str:
    """A PENDING order whose workflow never ran, past its expiry (seed H: "manually set an orders item")."""
    order_id = str(uuid.uuid4())
    at = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(time.time() - 7200))
    expires = int(time.time()) - 60
    local.client("dynamodb").put_item(TableName=local.outputs["orders_table"], Item={
        "orderId": {"S": order_id}, "customerId": {"S": "lp-matrix"}, "status": {"S": "PENDING"},
        "history": {"L": [{"M": {"status": {"S": "PENDING"}, "at": {"S": at}}}]}, "currency": {"S": "USD"},
        "total": {"S": "1.00"}, "items": {"L": []}, "submittedAt": {"S": at}, "updatedAt": {"S": at},
        "expiresAt": {"N": str(expires)}, "ttlEpoch": {"N": str(expires + 86400)}})
    return order_id


def fire_schedule(local, name: str) -> list[dict]:
    response = requests.post(f"{local.endpoints['admin_url']}/__local/schedules/fire", json={"name": name}, timeout=10)
    response.raise_for_status()
    return response.json()


def cleanup(local, patience: float) -> str | None:
    """Seed H: the hourly cleanup, fired on demand, expires a stale PENDING order."""
    order_id = _seed_stale_pending(local)
    table = local.outputs["orders_table"]
    ddb = local.client("dynamodb")
    try:
        fire_schedule(local, "orders-workflow-cleanup")
        status = lambda: ddb.get_item(TableName=table, Key={"orderId": {"S": order_id}})["Item"]["status"]["S"]  # noqa: E731
        return None if _until(lambda: status() == "EXPIRED", patience) else f"stale order stayed {status()}"
    finally:
        # Never leave a stale order behind for a later run to find.
        ddb.delete_item(TableName=table, Key={"orderId": {"S": order_id}})


def cleanup_failure(local, patience: float) -> str | None:
    # Lambda retries an asynchronous invoke twice (delays scaled) before the on-failure destination.
    return _failure_routed(local, "orders-workflow-cleanup", patience * 2,
                           lambda lo, _p: fire_schedule(lo, "orders-workflow-cleanup"))


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
    "order_declined": order_declined, "compensation_parked": compensation_parked, "cleanup": cleanup,
    "cleanup_failure": cleanup_failure,
    "profile": profile, "welcome_failure": welcome_failure,
}

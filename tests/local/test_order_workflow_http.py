"""The order workflow through the local runtime, over HTTP (the seed's "How to Test" E, F and H).

POST /orders -> orders queue -> orders-process (orders_start) -> Step Functions execution on moto's interpreter,
its Lambda tasks in the functions' own workers and its DynamoDB / SQS tasks under the state machine's role ->
GET /orders/{id}. Messages and executions are counted: nothing lost, nothing duplicated.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests

from offline.runtime import REPO_ROOT
from tests.local.conftest import wait_for

TERMINAL = ("CONFIRMED", "FAILED", "EXPIRED")


def place(local, user: dict[str, str], unit_price: str = "9.50", qty: int = 2) -> str:
    body = {"currency": "USD", "items": [{"sku": "A-1", "name": "Mug", "qty": qty, "unitPrice": unit_price}]}
    response = local.call("POST", "/orders", user["IdToken"], json=body, headers={"Idempotency-Key": uuid.uuid4().hex})
    assert response.status_code == 202, response.text
    return response.json()["orderId"]


def settled(local, user: dict[str, str], order_id: str, timeout: float = 30) -> dict[str, Any]:
    def terminal() -> dict[str, Any] | None:
        response = local.call("GET", f"/orders/{order_id}", user["IdToken"])
        return response.json() if response.status_code == 200 and response.json()["status"] in TERMINAL else None

    return wait_for(terminal, timeout=timeout, what=f"order {order_id} to settle")


def machine(local) -> str:
    (arn,) = [m["arn"] for m in local.endpoints["state_machines"].values()]
    return arn


def executions(local, name: str | None = None) -> list[dict[str, Any]]:
    sfn = local.client("stepfunctions")
    found = sfn.list_executions(stateMachineArn=machine(local))["executions"]
    return [e for e in found if name is None or e["name"] == name]


def execution_done(local, order_id: str) -> dict[str, Any]:
    return wait_for(lambda: next((e for e in executions(local, order_id) if e["status"] != "RUNNING"), None),
                    timeout=30, what=f"execution {order_id} to end")


def emails_about(local, order_id: str) -> list[dict[str, Any]]:
    return [m for m in local.ses_messages() if order_id in json.dumps(m, default=str)]


def queue_depth(local, url_output: str) -> int:
    attributes = local.client("sqs").get_queue_attributes(
        QueueUrl=local.outputs[url_output], AttributeNames=["ApproximateNumberOfMessages",
                                                            "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


def test_an_order_reaches_confirmed_with_receipt_and_one_confirmation_email(local, user) -> None:
    order_id = place(local, user)

    order = settled(local, user, order_id)

    assert order["status"] == "CONFIRMED", order
    assert [h["status"] for h in order["history"]] == ["PENDING", "VALIDATED", "RESERVED", "CHARGED", "CONFIRMED"]
    assert order["receipt"]["orderId"] == order_id and order["receipt"]["total"] == "19.00"
    assert order["receipt"]["chargeId"] == f"ch-{order_id}"
    stored = local.client("s3").list_objects_v2(Bucket=local.outputs["receipts_bucket"], Prefix="receipts/")
    assert sorted(o["Key"] for o in stored.get("Contents", []) if order_id in o["Key"]) == [
        f"receipts/{order['receipt']['customerId']}/{order_id}.{ext}" for ext in ("json", "txt")]
    assert execution_done(local, order_id)["status"] == "SUCCEEDED"
    sent = wait_for(lambda: emails_about(local, order_id), timeout=20, what="the confirmation email")
    time.sleep(1)  # a duplicate would come right behind the first
    assert len(emails_about(local, order_id)) == len(sent) == 1
    assert user["email"] in json.dumps(sent[0], default=str)


def test_a_declined_charge_is_failed_with_its_reason_and_the_reservation_released(local, user) -> None:
    order_id = place(local, user, unit_price="2600.00")  # 5200.00 > ordersMaxChargeAmount (5000.00)

    execution = execution_done(local, order_id)  # Compensate runs after MarkFailed made the order FAILED
    order = settled(local, user, order_id)

    assert order["status"] == "FAILED" and order["failureReason"] == "PaymentDeclined"
    assert [h["status"] for h in order["history"]] == ["PENDING", "VALIDATED", "RESERVED", "FAILED", "RELEASED"]
    assert "receipt" not in order
    item = local.client("dynamodb").get_item(TableName=local.outputs["orders_table"],
                                             Key={"orderId": {"S": order_id}})["Item"]
    assert item["reservation"]["M"]["released"] == {"BOOL": True} and "charge" not in item
    assert execution["status"] == "FAILED"
    history = local.client("stepfunctions").get_execution_history(executionArn=execution["executionArn"])["events"]
    assert history[-1]["executionFailedEventDetails"]["error"] == "OrderFailed"  # compensated, not parked
    assert emails_about(local, order_id) == []


def test_a_redelivered_message_starts_no_second_execution(local, user) -> None:
    process = local.function("orders-process")
    order_id = place(local, user, unit_price="1.00", qty=1)
    body = wait_for(lambda: next((e for e in executions(local, order_id)), None), what="the first execution")
    message = json.loads(local.client("stepfunctions").describe_execution(executionArn=body["executionArn"])["input"])
    assert message["orderId"] == order_id
    item = local.client("dynamodb").get_item(TableName=local.outputs["orders_table"],
                                             Key={"orderId": {"S": order_id}})["Item"]
    # The message orders_submit queued, rebuilt from the record (what a redelivery carries).
    original = {"orderId": order_id, "customer": {"sub": item["customerId"]["S"], "email": user["email"]},
                "currency": "USD", "total": "1.00", "submittedAt": item["submittedAt"]["S"],
                "items": [{"sku": "A-1", "name": "Mug", "qty": 1, "unitPrice": "1.00", "lineTotal": "1.00"}]}
    deleted = local.count(f"{process}.deleted")
    dead = queue_depth(local, "orders_dlq_url")
    sqs = local.client("sqs")
    sqs.send_message(QueueUrl=local.outputs["orders_queue_url"], MessageBody=json.dumps(original))  # while running
    execution_done(local, order_id)
    sqs.send_message(QueueUrl=local.outputs["orders_queue_url"], MessageBody=json.dumps(original))  # after

    wait_for(lambda: local.count(f"{process}.deleted") >= deleted + 2, what="both redeliveries to be consumed")
    assert [e["name"] for e in executions(local, order_id)] == [order_id]
    order = settled(local, user, order_id)
    assert [h["status"] for h in order["history"]].count("CONFIRMED") == 1
    wait_for(lambda: emails_about(local, order_id), timeout=20, what="the confirmation email")
    time.sleep(1)
    assert len(emails_about(local, order_id)) == 1
    assert queue_depth(local, "orders_dlq_url") == dead


def test_concurrent_orders_nothing_lost_nothing_duplicated(local) -> None:
    users = [local.sign_in() for _ in range(3)]
    dead = queue_depth(local, "orders_dlq_url")
    wanted = [(u, price) for u in users for price in ("4.00", "2600.00")]  # each user: one confirmed, one declined
    with ThreadPoolExecutor(6) as pool:
        ids = list(pool.map(lambda w: (w[0], place(local, w[0], unit_price=w[1])), wanted))

    outcomes = [settled(local, u, i, timeout=60)["status"] for u, i in ids]

    assert outcomes == ["CONFIRMED", "FAILED"] * 3
    assert sorted(len(executions(local, i)) for _, i in ids) == [1] * 6
    for (_, order_id), outcome in zip(ids, outcomes, strict=True):
        expected = 1 if outcome == "CONFIRMED" else 0
        if expected:
            wait_for(lambda o=order_id: emails_about(local, o), timeout=20, what="a confirmation email")
        assert len(emails_about(local, order_id)) == expected
    assert queue_depth(local, "orders_dlq_url") == dead


def test_another_users_order_is_404_like_an_unknown_one(local, user) -> None:
    order_id = place(local, user, unit_price="1.00", qty=1)
    settled(local, user, order_id)
    other = local.sign_in()

    theirs = local.call("GET", f"/orders/{order_id}", other["IdToken"])
    unknown = local.call("GET", f"/orders/{uuid.uuid4()}", other["IdToken"])

    assert theirs.status_code == unknown.status_code == 404
    assert theirs.json() == unknown.json() and theirs.json()["error"]["code"] == "not_found"


def _pending(order_id: str, customer: str, expires_at: int) -> dict[str, Any]:
    at = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(expires_at - 3600))
    return {"orderId": {"S": order_id}, "customerId": {"S": customer}, "status": {"S": "PENDING"},
            "history": {"L": [{"M": {"status": {"S": "PENDING"}, "at": {"S": at}}}]},
            "currency": {"S": "USD"}, "total": {"S": "1.00"}, "items": {"L": []}, "submittedAt": {"S": at},
            "updatedAt": {"S": at}, "expiresAt": {"N": str(expires_at)}, "ttlEpoch": {"N": str(expires_at + 86400)}}


def _statuses(local, customer: str) -> dict[str, str]:
    ddb = local.client("dynamodb")
    items, key = [], None
    while True:
        page = ddb.scan(TableName=local.outputs["orders_table"], **({"ExclusiveStartKey": key} if key else {}))
        items += page["Items"]
        key = page.get("LastEvaluatedKey")
        if not key:
            return {i["orderId"]["S"]: i["status"]["S"] for i in items if i["customerId"]["S"] == customer}


def test_cleanup_fired_on_demand_expires_exactly_the_stale_pending_orders(local, user) -> None:
    """Seed H: PENDING orders whose workflow never ran (written as orders_start writes them), past their expiry;
    the cleanup schedule fired from the CLI expires those and nothing else."""
    confirmed = place(local, user, unit_price="1.00", qty=1)
    settled(local, user, confirmed)
    customer = local.client("dynamodb").get_item(TableName=local.outputs["orders_table"],
                                                 Key={"orderId": {"S": confirmed}})["Item"]["customerId"]["S"]
    now = int(time.time())
    stale = [str(uuid.uuid4()) for _ in range(3)]
    fresh = str(uuid.uuid4())
    ddb = local.client("dynamodb")
    for order_id in stale:
        ddb.put_item(TableName=local.outputs["orders_table"], Item=_pending(order_id, customer, now - 60))
    ddb.put_item(TableName=local.outputs["orders_table"], Item=_pending(fresh, customer, now + 3600))
    before = _statuses(local, customer)
    cleanup = local.function("orders-workflow-cleanup")
    ran = local.count(f"{cleanup}.async_ok")

    fired = subprocess.run([sys.executable, "-m", "offline.local", "schedule", "cleanup",
                            "--state-dir", str(local.log.parent)], cwd=REPO_ROOT, capture_output=True, text=True,
                           timeout=60)

    assert fired.returncode == 0, fired.stdout + fired.stderr
    assert f"-> {cleanup}: sent" in fired.stdout
    wait_for(lambda: local.count(f"{cleanup}.async_ok") > ran, what="the cleanup run")
    after = _statuses(local, customer)
    changed = {k: (before.get(k), v) for k, v in after.items() if before.get(k) != v}
    # This customer's orders only: other tests' orders are theirs (the least-privilege matrix seeds some too).
    assert {k for k, (_, v) in changed.items() if v == "EXPIRED"} == set(stale)
    assert all(before[k] == "PENDING" for k in stale)
    assert after[fresh] == "PENDING" and after[confirmed] == "CONFIRMED"
    shown = local.call("GET", f"/orders/{stale[0]}", user["IdToken"]).json()
    assert shown["status"] == "EXPIRED" and [h["status"] for h in shown["history"]] == ["PENDING", "EXPIRED"]


def test_the_schedule_sends_eventbridges_scheduled_event_shape(local) -> None:
    import requests

    listed = requests.get(f"{local.endpoints['admin_url']}/__local/schedules", timeout=5).json()
    assert listed == local.endpoints["schedules"] and "rate(1 hour)" in listed[0]
    cleanup = local.function("orders-workflow-cleanup")
    ran = local.count(f"{cleanup}.async_ok")
    fired = requests.post(f"{local.endpoints['admin_url']}/__local/schedules/fire", json={"name": cleanup},
                          timeout=10).json()

    (one,) = fired
    event = one["event"]
    assert set(event) == {"version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"}
    assert event["detail-type"] == "Scheduled Event" and event["source"] == "aws.events" and event["detail"] == {}
    assert event["resources"] == [f"arn:aws:events:{local.region}:{event['account']}:rule/{one['rule']}"]
    wait_for(lambda: local.count(f"{cleanup}.async_ok") > ran, what="the cleanup run")
    unknown = requests.post(f"{local.endpoints['admin_url']}/__local/schedules/fire", json={"name": "nope"},
                            timeout=10)
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "unknown_schedule"


def test_step_functions_have_their_own_roles_and_log_groups(local, user) -> None:
    settled(local, user, place(local, user, unit_price="2600.00"))  # runs Validate ... Compensate
    machine_role = next(iter(local.endpoints["state_machines"].values()))["role"]
    logs = local.client("logs")
    for suffix in ("validate", "reserve", "charge", "compensate"):
        name = local.function(f"orders-workflow-{suffix}")
        role = local.endpoints["roles"][name]
        assert role != machine_role and role not in {r for f, r in local.endpoints["roles"].items() if f != name}
        wait_for(lambda n=name: logs.describe_log_streams(logGroupName=f"/aws/lambda/{n}").get("logStreams"),
                 what=f"{name}'s logs shipped under its role")


def fault(local, function: str, **spec: Any) -> None:
    """Inject a fault into a function (no spec clears it): `error` + `errorType`, `delay`, `timeout`."""
    requests.post(f"{local.endpoints['admin_url']}/__local/faults", json={"function": function, **spec},
                  timeout=5).raise_for_status()


def test_a_transient_step_error_is_retried_with_scaled_backoff_then_caught(local, user) -> None:
    """Reserve keeps failing with TransientError: the definition's Retry (1 s, x2, 3 attempts) runs it 4 times,
    then the Catch records FAILED (the scaling of its intervals is proven in test_moto_patches.py)."""
    reserve = local.function("orders-workflow-reserve")
    calls = local.count(f"{reserve}.invocations")
    fault(local, reserve, error="throttled by a dependency", errorType="TransientError")
    try:
        order = settled(local, user, place(local, user, unit_price="1.00", qty=1))
    finally:
        fault(local, reserve)

    assert order["status"] == "FAILED" and order["failureReason"] == "TransientError"
    assert local.count(f"{reserve}.invocations") - calls == 4


def test_a_step_over_its_timeout_fails_the_order_like_lambda(local, user) -> None:
    charge = local.function("orders-workflow-charge")
    fault(local, charge, delay=2, timeout=0.5)
    try:
        order_id = place(local, user, unit_price="1.00", qty=1)
        execution_done(local, order_id)  # Compensate runs after MarkFailed made the order FAILED
    finally:
        fault(local, charge)

    order = local.call("GET", f"/orders/{order_id}", user["IdToken"]).json()
    assert order["status"] == "FAILED" and order["failureReason"] == "Sandbox.Timedout"
    assert [h["status"] for h in order["history"]][-2:] == ["FAILED", "RELEASED"]


def test_a_task_the_state_machine_role_does_not_grant_fails_into_the_catch(local, user) -> None:
    """Confirm (a direct dynamodb:updateItem) without the role's grant: refused by IAM, not run by an all-powerful
    interpreter; the Catch compensates and the order ends FAILED, never CONFIRMED."""
    iam = local.client("iam")
    role = next(iter(local.endpoints["state_machines"].values()))["role"]
    (name,) = iam.list_role_policies(RoleName=role)["PolicyNames"]
    document = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
    document = json.loads(document) if isinstance(document, str) else document
    kept = [s for s in document["Statement"] if s.get("Sid") != "ConfirmOrFail"]
    assert len(kept) == len(document["Statement"]) - 1
    iam.put_role_policy(RoleName=role, PolicyName=name, PolicyDocument=json.dumps({**document, "Statement": kept}))
    try:
        order_id = place(local, user, unit_price="1.00", qty=1)
        order = settled(local, user, order_id)
    finally:
        iam.put_role_policy(RoleName=role, PolicyName=name, PolicyDocument=json.dumps(document))

    assert order["status"] == "FAILED", order
    assert order["failureReason"].startswith("DynamoDB.")  # moto's 403; AWS: DynamoDB.AmazonDynamoDBException
    assert "CONFIRMED" not in [h["status"] for h in order["history"]]
    assert execution_done(local, order_id)["status"] == "FAILED"

"""GET /orders/{orderId}: the caller's own receipt; one indistinguishable 404 for everything else."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest
from botocore.stub import Stubber

from tests.events import LambdaContext, api_event, cognito_claims
from tests.handlers.test_orders_process import BUCKET, Pipeline, claims_for, pipeline  # noqa: F401 - fixture
from tests.handlers.test_orders_submit import order_body


@pytest.fixture
def get(pipeline: Pipeline, load_handler: Callable[..., ModuleType]) -> ModuleType:  # noqa: F811
    return load_handler("orders_get", env={"RECEIPTS_BUCKET": BUCKET})


def fetch(get: ModuleType, order_id: str, claims: dict[str, str] | None) -> tuple[int, dict[str, Any]]:
    event = api_event("GET", "/orders/{orderId}", path=f"/orders/{order_id}", claims=claims,
                      path_parameters={"orderId": order_id})
    response = get.handler(event, LambdaContext())
    return response["statusCode"], json.loads(response["body"])


def processed_order(pipeline: Pipeline, sub: str) -> str:  # noqa: F811
    [message] = pipeline.order_messages(order_body(("A-1", 2, "4.50")), claims=claims_for(sub))
    assert pipeline.run([message]) == []
    return json.loads(message["Body"])["orderId"]


def test_the_owner_reads_the_receipt(pipeline: Pipeline, get: ModuleType) -> None:  # noqa: F811
    order_id = processed_order(pipeline, "ann")

    status, body = fetch(get, order_id, claims_for("ann"))
    assert status == 200
    assert (body["orderId"], body["status"], body["total"], body["customerId"]) == (order_id, "PROCESSED", "9.00", "ann")
    assert fetch(get, order_id.upper(), claims_for("ann"))[0] == 200


def test_unknown_foreign_and_malformed_ids_are_the_same_404(pipeline: Pipeline, get: ModuleType) -> None:  # noqa: F811
    order_id = processed_order(pipeline, "ann")
    answers = [
        fetch(get, order_id, claims_for("bob")),  # someone else's order
        fetch(get, str(uuid.uuid4()), claims_for("ann")),  # unknown (or queued, not yet processed)
        fetch(get, "../ann/" + order_id, claims_for("bob")),
        fetch(get, "not-a-uuid", claims_for("ann")),
    ]
    assert {(status, json.dumps(body, sort_keys=True)) for status, body in answers} == {
        (404, json.dumps({"error": {"code": "not_found", "message": get.NOT_FOUND}}, sort_keys=True))
    }


@pytest.mark.parametrize("code,status", [("AccessDenied", 403), ("NoSuchKey", 404)])
def test_a_missing_key_is_404_whichever_way_s3_says_it(get: ModuleType, code: str, status: int) -> None:
    """Without s3:ListBucket, S3 answers a missing key with 403 AccessDenied."""
    with Stubber(get.s3) as stub:
        stub.add_client_error("get_object", service_error_code=code, http_status_code=status)
        assert fetch(get, str(uuid.uuid4()), claims_for("ann"))[0] == 404


def test_other_s3_errors_are_a_500_without_details(get: ModuleType) -> None:
    with Stubber(get.s3) as stub:
        stub.add_client_error("get_object", service_error_code="InvalidObjectState", http_status_code=403,
                              service_message="secret internals")
        status, body = fetch(get, str(uuid.uuid4()), claims_for("ann"))
    assert (status, body) == (500, {"error": {"code": "internal_error", "message": "internal error"}})


def test_s3_throttling_is_503_with_retry_after(get: ModuleType) -> None:
    with Stubber(get.s3) as stub:
        stub.add_client_error("get_object", service_error_code="SlowDown", http_status_code=503,
                              service_message="secret internals")
        event = api_event("GET", "/orders/{orderId}", claims=claims_for("ann"), path_parameters={"orderId": str(uuid.uuid4())})
        response = get.handler(event, LambdaContext())
    assert response["statusCode"] == 503 and int(response["headers"]["Retry-After"]) > 0
    assert "secret" not in response["body"]


def test_no_identity_is_401(get: ModuleType) -> None:
    assert fetch(get, str(uuid.uuid4()), None)[0] == 401
    assert fetch(get, str(uuid.uuid4()), cognito_claims(sub="a/b"))[0] == 401

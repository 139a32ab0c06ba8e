"""handlers/common/http.py: strict JSON bodies, Content-Type, CORS, and AWS failures mapped to clear statuses."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError

from handlers.common.http import HttpError, api_handler, json_body, json_response
from tests.events import LambdaContext, api_event

# Python's json module accepts all of these; RFC 8259 (and API Gateway's validator) does not.
NOT_JSON = {
    "NaN": '{"qty": NaN}',
    "Infinity": '{"qty": Infinity}',
    "-Infinity": '{"qty": -Infinity}',
    "overflowing float": '{"qty": 1e400}',
    "duplicate keys": '{"total": "1.00", "total": "9.00"}',
    "nested duplicate keys": '{"items": [{"sku": "A", "sku": "B"}]}',
    # These two raised ValueError / RecursionError past the old except clause: a 500 instead of a 400.
    "integer past the digit limit": '{"qty": ' + "9" * 5000 + "}",
    "deep nesting": "[" * 100_000 + "]" * 100_000,
}


@pytest.mark.parametrize("raw", NOT_JSON.values(), ids=NOT_JSON.keys())
@pytest.mark.parametrize("base64_body", [False, True], ids=["text", "base64"])
def test_bodies_python_accepts_but_json_does_not_are_400(raw: str, base64_body: bool) -> None:
    with pytest.raises(HttpError) as error:
        json_body(api_event("POST", "/orders", raw_body=raw, base64_body=base64_body))
    assert (error.value.status, error.value.code) == (400, "invalid_json")


def test_valid_json_still_parses_with_its_numbers() -> None:
    raw = '{"a": [1, 2.5, -0.0, 1e3, 12345678901234567890], "b": {"c": null, "d": true}, "e": "\\u00e9"}'
    assert json_body(api_event("POST", "/orders", raw_body=raw)) == json.loads(raw)


@pytest.mark.parametrize("content_type", ["application/json", "application/json; charset=utf-8", "APPLICATION/JSON",
                                          "application/merge-patch+json", None])
def test_json_content_types_and_a_missing_one_are_accepted(content_type: str | None) -> None:
    event = api_event("POST", "/orders", raw_body='{"a": 1}')
    if content_type is None:
        del event["headers"]["Content-Type"]
    else:
        event["headers"]["Content-Type"] = content_type
    assert json_body(event) == {"a": 1}


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"])
@pytest.mark.parametrize("header", ["Content-Type", "content-type"])
def test_a_body_labelled_as_something_else_is_415(content_type: str, header: str) -> None:
    """API Gateway validates only the application/json model: a text/plain body (a CORS "simple" request, sent
    without preflight) would reach the handler unvalidated by the gateway."""
    event = api_event("POST", "/register", raw_body='{"a": 1}')
    del event["headers"]["Content-Type"]
    event["headers"][header] = content_type
    with pytest.raises(HttpError) as error:
        json_body(event)
    assert (error.value.status, error.value.code) == (415, "unsupported_media_type")


def test_a_star_in_allowed_origins_is_not_a_wildcard(monkeypatch: pytest.MonkeyPatch) -> None:
    """Echoing any Origin with Allow-Credentials would let every site read responses; settings refuse "*" and
    the handler must not honour it either."""
    monkeypatch.setenv("ALLOWED_ORIGINS", "*,https://app.example.com")
    denied = json_response(200, {}, api_event(headers={"Origin": "https://evil.example"}))["headers"]
    allowed = json_response(200, {}, api_event(headers={"origin": "https://app.example.com"}))["headers"]
    assert "Access-Control-Allow-Origin" not in denied and denied["Vary"] == "Origin"
    assert allowed["Access-Control-Allow-Origin"] == "https://app.example.com" and allowed["Vary"] == "Origin"


def _client_error(code: str, status: int) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "secret internals"},
                        "ResponseMetadata": {"HTTPStatusCode": status}}, "PutObject")


def _respond(exc: Exception) -> tuple[int, dict[str, str], dict[str, Any]]:
    @api_handler
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        raise exc

    response = handler(api_event("POST", "/orders"), LambdaContext())
    return response["statusCode"], response["headers"], json.loads(response["body"])


TRANSIENT = {
    "S3 SlowDown": _client_error("SlowDown", 503),
    "SQS throttled": _client_error("RequestThrottled", 403),
    "KMS throttled": _client_error("KMS.ThrottlingException", 400),
    "service unavailable": _client_error("ServiceUnavailable", 503),
    "connection": EndpointConnectionError(endpoint_url="https://sqs.us-east-1.amazonaws.com"),
    "read timeout": ReadTimeoutError(endpoint_url="https://sqs.us-east-1.amazonaws.com"),
}


@pytest.mark.parametrize("exc", TRANSIENT.values(), ids=TRANSIENT.keys())
def test_throttling_and_unreachable_services_are_503_with_retry_after(exc: Exception) -> None:
    status, headers, body = _respond(exc)
    assert status == 503 and int(headers["Retry-After"]) > 0
    assert body == {"error": {"code": "service_unavailable", "message": "the service is busy; retry later"}}


@pytest.mark.parametrize("exc", [_client_error("AccessDenied", 403), _client_error("NoSuchBucket", 404),
                                 RuntimeError("secret internals")], ids=["denied", "misconfigured", "bug"])
def test_other_failures_stay_a_500_without_details(exc: Exception) -> None:
    status, headers, body = _respond(exc)
    assert (status, body) == (500, {"error": {"code": "internal_error", "message": "internal error"}})
    assert "Retry-After" not in headers

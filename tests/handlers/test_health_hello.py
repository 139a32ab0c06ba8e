"""GET /health and GET /hello with real-shaped API Gateway proxy events."""

from __future__ import annotations

import json

import pytest

from tests.events import api_event, cognito_claims


@pytest.fixture
def env(monkeypatch):
    monkeypatch.setenv("ALLOWED_ORIGINS", "https://app.example.com,http://localhost:3000")
    monkeypatch.setenv("SERVICE_NAME", "secure-serverless")
    monkeypatch.setenv("STAGE", "dev")


def body(response):
    return json.loads(response["body"])


def test_health_reports_service_and_stage(env, load_handler, lambda_context) -> None:
    health = load_handler("health")
    response = health.handler(api_event("GET", "/health"), lambda_context)
    assert response["statusCode"] == 200
    assert body(response) == {"ok": True, "service": "secure-serverless", "stage": "dev"}
    assert response["headers"]["Content-Type"] == "application/json"


def test_hello_greets_the_cognito_username(env, load_handler, lambda_context) -> None:
    hello = load_handler("hello")
    claims = cognito_claims(username="testuser")
    response = hello.handler(api_event("GET", "/hello", claims=claims), lambda_context)
    assert response["statusCode"] == 200
    assert body(response) == {"message": "Hello from secured API!", "user": "testuser"}


@pytest.mark.parametrize("claims", [None, {}, {"cognito:username": "x"}, {"sub": ""}])
def test_hello_without_identity_is_401_json(env, load_handler, lambda_context, claims) -> None:
    hello = load_handler("hello")
    response = hello.handler(api_event("GET", "/hello", claims=claims), lambda_context)
    assert response["statusCode"] == 401
    assert body(response) == {"error": {"code": "unauthorized", "message": "missing or invalid identity claims"}}


def test_cors_origin_is_echoed_only_when_allowed(env, load_handler, lambda_context) -> None:
    health = load_handler("health")
    allowed = health.handler(api_event("GET", "/health", headers={"origin": "http://localhost:3000"}), lambda_context)
    assert allowed["headers"]["Access-Control-Allow-Origin"] == "http://localhost:3000"
    denied = health.handler(api_event("GET", "/health", headers={"Origin": "https://evil.example"}), lambda_context)
    assert "Access-Control-Allow-Origin" not in denied["headers"]
    assert denied["headers"]["Vary"] == "Origin"


def test_logs_are_one_json_object_per_line_with_the_request_id(env, load_handler, lambda_context, capsys) -> None:
    hello = load_handler("hello")
    event = api_event("GET", "/hello", claims=cognito_claims(sub="abc-123"))
    hello.handler(event, lambda_context)
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines and all(line["requestId"] == event["requestContext"]["requestId"] for line in lines)
    assert lines[0]["sub"] == "abc-123" and lines[0]["awsRequestId"] == lambda_context.aws_request_id


def test_unexpected_errors_are_500_without_internals(env, load_handler, lambda_context, monkeypatch) -> None:
    hello = load_handler("hello")

    def explode(event):
        raise RuntimeError("database password is hunter2")

    monkeypatch.setattr(hello, "require_caller", explode)
    response = hello.handler(api_event("GET", "/hello", claims=cognito_claims()), lambda_context)
    assert response["statusCode"] == 500
    assert "hunter2" not in response["body"]
    assert body(response)["error"]["code"] == "internal_error"


def test_responses_are_not_cacheable_and_expose_retry_after_to_allowed_origins(env, load_handler, lambda_context) -> None:
    health = load_handler("health")
    response = health.handler(api_event("GET", "/health", headers={"Origin": "https://app.example.com"}), lambda_context)
    assert response["headers"]["Cache-Control"] == "no-store"
    assert response["headers"]["Access-Control-Expose-Headers"] == "Retry-After"

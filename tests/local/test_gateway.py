"""Gateway behaviour that runs before any Lambda: CORS preflights (MOCK + VTL), gateway responses, models."""

from __future__ import annotations

ALLOWED = "http://localhost:3000"
REFUSED = "https://evil.example.com"


def test_preflight_for_an_allowed_origin_echoes_it(local) -> None:
    response = local.call("OPTIONS", "/orders", headers={"Origin": ALLOWED, "Access-Control-Request-Method": "POST"})
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == ALLOWED
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    assert "Authorization" in response.headers["Access-Control-Allow-Headers"]


def test_preflight_for_a_refused_origin_grants_nothing(local) -> None:
    response = local.call("OPTIONS", "/orders", headers={"Origin": REFUSED, "Access-Control-Request-Method": "POST"})
    assert "Access-Control-Allow-Origin" not in response.headers


def test_gateway_errors_carry_cors_headers(local) -> None:
    response = local.call("GET", "/hello", headers={"Origin": ALLOWED})
    assert response.status_code == 401
    assert response.headers["Access-Control-Allow-Origin"] == ALLOWED
    assert response.headers["Vary"] == "Origin"


def test_bad_body_is_refused_by_the_model_before_any_lambda(local) -> None:
    register = local.function("register")
    before = local.count(f"{register}.invocations")
    response = local.call("POST", "/register", json={"email": "ann@example.com", "password": "Correct-Horse-9"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "BAD_REQUEST_BODY"
    assert "name" in response.json()["error"]["message"]
    response = local.call("POST", "/register", data="{not json", headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert local.count(f"{register}.invocations") == before


def test_bad_order_body_is_refused_after_the_authorizer(local, user) -> None:
    submit = local.function("orders-submit")
    before = local.count(f"{submit}.invocations")
    assert local.call("POST", "/orders", json={"currency": "USD"}).status_code == 401  # authorizer first
    response = local.call("POST", "/orders", user["IdToken"], json={"currency": "USD", "items": []})
    assert response.status_code == 400
    assert local.count(f"{submit}.invocations") == before

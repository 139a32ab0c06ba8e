"""Seed 001 over real HTTP: the Cognito authorizer of the graph in front of /hello."""

from __future__ import annotations

import base64
import json

ERROR_SHAPE = {"code", "message"}


def test_no_token_is_401_with_our_error_body(local) -> None:
    response = local.call("GET", "/hello")
    assert response.status_code == 401
    assert set(response.json()["error"]) == ERROR_SHAPE
    assert response.json()["error"]["code"] == "UNAUTHORIZED"


def test_access_token_is_401(local, user) -> None:
    response = local.call("GET", "/hello", user["AccessToken"])
    assert response.status_code == 401


def test_tampered_token_is_401(local, user) -> None:
    header, payload, signature = user["IdToken"].split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["cognito:username"] = "admin"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    assert local.call("GET", "/hello", f"{header}.{forged}.{signature}").status_code == 401


def test_id_token_is_200_with_the_username(local, user) -> None:
    response = local.call("GET", "/hello", user["IdToken"])
    assert response.status_code == 200, response.text
    claims = json.loads(base64.urlsafe_b64decode(user["IdToken"].split(".")[1] + "=="))
    assert response.json() == {"message": "Hello from secured API!", "user": claims["cognito:username"]}


def test_raw_token_without_bearer_prefix_is_accepted(local, user) -> None:
    response = local.call("GET", "/hello", headers={"Authorization": user["IdToken"]})
    assert response.status_code == 200


def test_unknown_route_is_403_like_api_gateway(local, user) -> None:
    for path in ("/nope", "/hello/extra"):
        response = local.call("GET", path, user["IdToken"])
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "MISSING_AUTHENTICATION_TOKEN"
    assert local.call("DELETE", "/hello", user["IdToken"]).status_code == 403


def test_public_health(local) -> None:
    response = local.call("GET", "/health")
    assert response.status_code == 200
    assert response.json()["ok"] is True

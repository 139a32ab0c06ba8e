"""The docs page's script under Node: PKCE as RFC 7636 specifies it, and how it describes each route's auth."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from components.docs_site import PAGE_DIR

RUNNER = Path(__file__).with_name("docs_page_runner.js")
NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed")


def evaluate(*expressions: str) -> list:
    done = subprocess.run(  # noqa: S603
        [NODE, str(RUNNER), str(PAGE_DIR / "docs.js")],
        input=json.dumps(list(expressions)), capture_output=True, text=True, timeout=30, check=True,
    )
    return json.loads(done.stdout)


def test_s256_challenge_matches_rfc_7636_appendix_b() -> None:
    (challenge,) = evaluate("challengeFor('dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk')")
    assert challenge == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_verifiers_are_fresh_43_character_base64url_strings() -> None:
    first, second = evaluate("pkcePair()", "pkcePair()")
    for pair in (first, second):
        assert len(pair["verifier"]) == 43  # 32 random bytes; RFC 7636 wants 43..128 characters
        assert set(pair["verifier"]) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert first["verifier"] != second["verifier"]
    (check,) = evaluate(f"challengeFor({json.dumps(first['verifier'])})")
    assert check == first["challenge"]


def test_auth_is_described_from_the_documents_security() -> None:
    schemes = {"cognitoIdToken": {"type": "http"}, "cognitoOAuth": {"type": "oauth2"},
               "apiKey": {"type": "apiKey", "name": "x-api-key"}}
    results = evaluate(*(
        f"authText({json.dumps(op)}, {json.dumps(schemes)})"
        for op in (
            {"security": []},
            {"security": [{"cognitoIdToken": []}]},
            {"security": [{"cognitoOAuth": ["https://api.example.com/orders.read"], "apiKey": []}]},
            {"security": [{"cognitoOAuth": ["s/orders.read"]}, {"cognitoOAuth": ["s/orders.write"]}]},
        )
    ))
    assert results == [
        "public: no token",
        "ID token (Authorization: Bearer)",
        "access token with scope https://api.example.com/orders.read + API key in x-api-key",
        "access token with scope s/orders.read, or access token with scope s/orders.write",
    ]


def test_the_access_token_example_uses_a_route_that_requires_scopes() -> None:
    document = {
        "components": {"securitySchemes": {"cognitoIdToken": {"type": "http"}, "cognitoOAuth": {"type": "oauth2"}}},
        "paths": {
            "/hello": {"get": {"security": [{"cognitoIdToken": []}]}},
            "/orders/{orderId}": {"get": {"security": [{"cognitoOAuth": ["https://api.example.com/orders.read"]}]}},
        },
    }
    found, none = evaluate(
        f"(state.document = {json.dumps(document)}, firstScopedOperation())",
        "(state.document.paths['/orders/{orderId}'].get.security = [{cognitoIdToken: []}], firstScopedOperation())",
    )
    assert found == {"method": "get", "path": "/orders/{orderId}"}
    assert none is None

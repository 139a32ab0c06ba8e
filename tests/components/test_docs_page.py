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


CONFIG = {
    "apiUrl": "https://d111111abcdef8.cloudfront.net/api",
    "hostedUi": {
        "domain": "https://secure-serverless-dev.auth.us-east-1.amazoncognito.com",
        "clientId": "4l2gq8s1q5ia0v3bq7n6uml4fc",
        "scopes": ["openid", "email", "secure-serverless/orders.read"],
        "redirectUri": "https://d111111abcdef8.cloudfront.net/docs/",
        "logoutUri": "https://d111111abcdef8.cloudfront.net/docs/",
    },
}
SETUP = f"state.config = {json.dumps(CONFIG)}"


def test_sign_in_goes_to_the_hosted_ui_with_code_and_pkce() -> None:
    from urllib.parse import parse_qs, urlsplit

    navigated, saved = evaluate(
        f"({SETUP}, signIn({{preventDefault() {{}}}}).then(() => browser.navigatedTo))",
        "JSON.parse(sessionStorage.getItem('pkce'))",
    )
    url = urlsplit(navigated)
    assert f"{url.scheme}://{url.netloc}{url.path}" == CONFIG["hostedUi"]["domain"] + "/oauth2/authorize"
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert query["response_type"] == "code"  # never the implicit flow: no tokens in URLs
    assert query["client_id"] == CONFIG["hostedUi"]["clientId"]
    assert query["redirect_uri"] == CONFIG["hostedUi"]["redirectUri"]
    assert query["scope"] == "openid email secure-serverless/orders.read"
    assert query["code_challenge_method"] == "S256"
    assert query["state"] == saved["state"]
    (challenge,) = evaluate(f"challengeFor({json.dumps(saved['verifier'])})")
    assert query["code_challenge"] == challenge  # the verifier stays in the tab until the token exchange


def test_the_code_is_exchanged_with_the_verifier_and_a_wrong_state_is_refused() -> None:
    stored = json.dumps({"verifier": "v" * 43, "state": "s1"})
    tokens = {"id_token": "id.jwt", "access_token": "access.jwt", "token_type": "Bearer"}
    good, calls, replaced, bad, fetches = evaluate(
        f"({SETUP}, sessionStorage.setItem('pkce', {json.dumps(stored)}), window.location.search = '?code=c0de&state=s1',"
        f" browser.tokenResponse = {{status: 200, body: {json.dumps(tokens)}}}, completeSignIn())",
        "browser.fetches",
        "browser.replacedUrl",
        f"(sessionStorage.setItem('pkce', {json.dumps(stored)}), window.location.search = '?code=c0de&state=forged',"
        " completeSignIn())",
        "browser.fetches.length",
    )
    assert good == tokens
    (call,) = calls
    assert call["url"] == CONFIG["hostedUi"]["domain"] + "/oauth2/token"
    assert call["method"] == "POST"
    from urllib.parse import parse_qs

    body = {k: v[0] for k, v in parse_qs(call["body"]).items()}
    assert body == {"grant_type": "authorization_code", "client_id": CONFIG["hostedUi"]["clientId"], "code": "c0de",
                    "redirect_uri": CONFIG["hostedUi"]["redirectUri"], "code_verifier": "v" * 43}
    assert replaced == "/docs/"  # the code leaves the address bar and history at once
    assert bad == {"thrown": "sign-in state does not match; start again"}
    assert fetches == 1  # a forged state never reaches the token endpoint

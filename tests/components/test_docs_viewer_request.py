"""The docs distribution's CloudFront Function, executed under Node with real-shaped viewer-request events."""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from components.docs_site import VIEWER_REQUEST_FUNCTION

RUNNER = Path(__file__).with_name("cloudfront_function_runner.js")
NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed")

# The event CloudFront passes to a viewer-request function (event structure version 1.0).
EVENT = {
    "version": "1.0",
    "context": {
        "distributionDomainName": "d111111abcdef8.cloudfront.net",
        "endpoint": "d111111abcdef8.cloudfront.net",
        "distributionId": "EDFDVBD6EXAMPLE",
        "eventType": "viewer-request",
        "requestId": "4TyzHTaYWb1GX1qTfsHhEqV6HUDd_BzoBZnwfnvQc_1oF26ClkoUSEQ==",
    },
    "viewer": {"ip": "198.51.100.11"},
    "request": {
        "method": "GET",
        "uri": "/",
        "querystring": {"code": {"value": "abc"}, "state": {"value": "xyz", "multiValue": [{"value": "xyz"}]}},
        "headers": {
            "host": {"value": "d111111abcdef8.cloudfront.net"},
            "accept": {"value": "text/html", "multiValue": [{"value": "text/html"}]},
            "authorization": {"value": "Bearer eyJraWQiOiJrMSJ9.e30.sig"},
        },
        "cookies": {"id": {"value": "CookieIdValue"}},
    },
}


def run(*uris: str, method: str = "GET") -> list[dict]:
    events = []
    for uri in uris:
        event = copy.deepcopy(EVENT)
        event["request"]["uri"] = uri
        event["request"]["method"] = method
        events.append(event)
    done = subprocess.run(  # noqa: S603
        [NODE, str(RUNNER), str(VIEWER_REQUEST_FUNCTION)],
        input=json.dumps(events), capture_output=True, text=True, timeout=30, check=True,
    )
    outcomes = json.loads(done.stdout)
    for outcome in outcomes:
        assert "error" not in outcome, outcome
    return [o["result"] for o in outcomes]


@pytest.mark.parametrize("uri", ["/", "/docs", "/docs/"])
def test_root_and_docs_go_to_the_docs_page(uri) -> None:
    (request,) = run(uri)
    assert request["uri"] == "/docs/index.html"


def test_everything_else_of_the_request_is_passed_on_untouched() -> None:
    (request,) = run("/")
    expected = copy.deepcopy(EVENT["request"])
    expected["uri"] = "/docs/index.html"
    # The Hosted UI returns to the docs URL with ?code=&state=: the query string must survive the rewrite.
    assert request == expected


def test_assets_are_served_as_requested() -> None:
    uris = ["/docs/openapi.json", "/docs/docs.js", "/docs/docs.css", "/docs/config.json", "/favicon.ico"]
    assert [r["uri"] for r in run(*uris)] == uris


def test_other_directories_map_to_their_index_document() -> None:
    # S3 behind OAC is the REST endpoint: it has no index documents, so the edge supplies them.
    (request,) = run("/guides/")
    assert request["uri"] == "/guides/index.html"


@pytest.mark.parametrize(
    "uri, origin_uri",
    [("/api/hello", "/hello"), ("/api/orders/01J9Z6", "/orders/01J9Z6"), ("/api", "/"), ("/api/", "/")],
)
def test_api_prefix_is_removed_for_the_rest_api_origin(uri, origin_uri) -> None:
    (request,) = run(uri, method="POST")
    assert request["uri"] == origin_uri
    assert request["method"] == "POST"
    assert request["headers"]["authorization"] == EVENT["request"]["headers"]["authorization"]


def test_paths_that_only_start_like_api_are_not_api_calls() -> None:
    (request,) = run("/apidocs/x.html")
    assert request["uri"] == "/apidocs/x.html"


def test_the_code_stays_within_what_cloudfront_js_2_0_allows() -> None:
    source = VIEWER_REQUEST_FUNCTION.read_text()
    assert len(source.encode()) <= 10 * 1024  # CloudFront Functions' maximum code size
    assert re.search(r"\bfunction handler\(event\)", source)
    code = re.sub(r"/\*.*?\*/|//[^\n]*", "", source, flags=re.S)  # comments may mention what code may not use
    # The runtime offers no require() (except its own crypto/cloudfront modules), no network, no timers.
    for forbidden in ("require(", "import ", "fetch(", "setTimeout", "process.", "XMLHttpRequest"):
        assert forbidden not in code, forbidden

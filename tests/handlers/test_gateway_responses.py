"""Gateway responses (issue 11 findings 10 and 11): the validation error body is JSON for any input, and the
CORS origin of gateway-generated errors is never the request's.

The templates are rendered by airspeed-ext (the VTL engine LocalStack uses for API Gateway), with `$util`
implemented as API Gateway documents it: `escapeJavaScript` is Apache Commons Lang's
`StringEscapeUtils.escapeJavaScript` (it escapes `'` as `\\'`, which the mapping-template reference warns about).
"""

from __future__ import annotations

import json

import airspeed
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from components.secure_api import (
    GATEWAY_ERROR_TEMPLATE,
    VALIDATION_ERROR_TEMPLATE,
    gateway_response_parameters,
    gateway_response_templates,
)
from tests.hypothesis_budget import examples


def escape_javascript(text: str) -> str:
    """Commons Lang 2 escapeJavaScript: Java (UTF-16) chars, `'` `"` `\\` `/` escaped, controls and non-ASCII
    as upper-case \\uXXXX (BMP-outside characters as their two surrogate escapes)."""
    out = []
    units = text.encode("utf-16-be", "surrogatepass")
    for i in range(0, len(units), 2):
        ch = int.from_bytes(units[i:i + 2], "big")
        if ch > 0x7F:
            out.append(f"\\u{ch:04X}")
        elif ch < 32:
            out.append({8: "\\b", 10: "\\n", 9: "\\t", 12: "\\f", 13: "\\r"}.get(ch, f"\\u{ch:04X}"))
        else:
            c = chr(ch)
            out.append({"'": "\\'", '"': '\\"', "\\": "\\\\", "/": "\\/"}.get(c, c))
    return "".join(out)


class Util:
    def escapeJavaScript(self, value: object) -> str:  # noqa: N802 - the VTL name
        return escape_javascript(str(value))


def render(template: str, validation_error: str) -> str:
    context = {"error": {"validationErrorString": validation_error, "responseType": "BAD_REQUEST_BODY",
                         "messageString": json.dumps("Invalid request body")}}
    return airspeed.Template(template).merge({"util": Util(), "context": context})


HOSTILE = [
    "[ECMA 262 regex \"^...$\" does not match input string \"o'neil@example.org\"]",
    'quote " backslash \\ slash / done',
    "line\nbreak\r\ttab\x00nul\x1fus",
    "unicode é ü 😀 \u2028 \u202e",
    "'''",
    "\\'",
]


@pytest.mark.parametrize("message", HOSTILE)
def test_the_validation_error_body_is_json_carrying_the_exact_message(message: str) -> None:
    body = json.loads(render(VALIDATION_ERROR_TEMPLATE, message))
    assert body == {"error": {"code": "BAD_REQUEST_BODY", "message": message}}


@settings(max_examples=examples(200), deadline=None)
@given(st.text())
def test_any_message_renders_to_json(message: str) -> None:
    assert json.loads(render(VALIDATION_ERROR_TEMPLATE, message))["error"]["message"] == message


def test_the_unfixed_template_is_what_broke() -> None:
    """The template as it was: an apostrophe made the body invalid JSON (the finding this fixes)."""
    before = '{"error":{"code":"BAD_REQUEST_BODY","message":"$util.escapeJavaScript($context.error.validationErrorString)"}}'
    with pytest.raises(json.JSONDecodeError):
        json.loads(render(before, "o'neil"))


def test_other_gateway_errors_keep_the_error_shape() -> None:
    assert json.loads(render(GATEWAY_ERROR_TEMPLATE, "")) == {
        "error": {"code": "BAD_REQUEST_BODY", "message": "Invalid request body"}}
    assert gateway_response_templates()["BAD_REQUEST_BODY"] == VALIDATION_ERROR_TEMPLATE


ORIGIN = st.from_regex(r"https?://[a-z][a-z0-9-]{0,20}(\.[a-z]{2,6})?(:[0-9]{2,5})?", fullmatch=True)


@given(st.lists(ORIGIN, min_size=1, max_size=5, unique=True))
def test_gateway_errors_never_reflect_the_request_origin(origins: list[str]) -> None:
    parameters = gateway_response_parameters(origins, ["Content-Type", "Authorization", "X-Api-Key"])
    value = parameters["gatewayresponse.header.Access-Control-Allow-Origin"]
    assert not any(v.startswith("method.request") for v in parameters.values())
    assert value.startswith("'") and value.endswith("'") and value[1:-1] in origins


@pytest.mark.parametrize("origins", [[], ["*"], ["https://a.example'"]])
def test_unusable_origins_are_refused(origins: list[str]) -> None:
    with pytest.raises(ValueError):
        gateway_response_parameters(origins, ["Content-Type"])

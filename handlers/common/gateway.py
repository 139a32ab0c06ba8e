"""What API Gateway itself answers (gateway responses), kept as data next to the handlers' own error shape.

Not used by any Lambda: `components/secure_api.py` reads these when it declares the gateway responses, and
tests render the templates with API Gateway's VTL semantics. Pure: no Pulumi, no AWS.
"""

from __future__ import annotations

from collections.abc import Sequence

# Gateway-generated errors (401 from the authorizer, 429 throttling, 5xx) use the handlers' body shape.
# `$context.error.messageString` is already a quoted JSON string.
GATEWAY_ERROR_TEMPLATE = '{"error":{"code":"$context.error.responseType","message":$context.error.messageString}}'

# `$util.escapeJavaScript` escapes `'` as `\'`, which is not a JSON escape: a validation message that quotes an
# input holding an apostrophe (o'neil@example.org) made the body invalid JSON. The API Gateway mapping-template
# reference gives the fix: turn `\'` back into `'`. (In VTL the literal "\\'" is the regex for a backslash and a
# quote.) Every other character escapeJavaScript emits (\" \\ \/ \n \uXXXX) is valid in a JSON string.
VALIDATION_ERROR_TEMPLATE = (
    '{"error":{"code":"BAD_REQUEST_BODY","message":'
    '"$util.escapeJavaScript($context.error.validationErrorString).replaceAll("\\\\\'","\'")"}}'
)


def gateway_response_templates() -> dict[str, str]:
    """Response type -> body template of the gateway responses."""
    return {
        "DEFAULT_4XX": GATEWAY_ERROR_TEMPLATE,
        "DEFAULT_5XX": GATEWAY_ERROR_TEMPLATE,
        "BAD_REQUEST_BODY": VALIDATION_ERROR_TEMPLATE,
    }


def gateway_response_parameters(origins: Sequence[str], allowed_headers: Sequence[str]) -> dict[str, str]:
    """CORS headers on gateway-generated errors: a static origin, never the request's.

    A gateway response cannot compare the request's Origin with a list (no VTL conditions on its headers), and
    echoing `method.request.header.Origin` hands any site the right to read these responses. So the header is
    always a literal: the first allowed origin. With several allowed origins (dev's localhost ports), the others
    get a CORS failure on gateway-generated errors only (401/403/429/5xx before Lambda); handler responses keep
    exact per-request matching.
    """
    if not origins:
        raise ValueError("at least one allowed origin is required")
    if any("'" in origin or origin == "*" for origin in origins):
        raise ValueError("origins must be literal scheme://host[:port] values")
    return {
        "gatewayresponse.header.Access-Control-Allow-Origin": f"'{origins[0]}'",
        "gatewayresponse.header.Access-Control-Allow-Headers": f"'{','.join(allowed_headers)}'",
        "gatewayresponse.header.Vary": "'Origin'",
    }

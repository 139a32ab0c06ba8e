"""API Gateway proxy responses: JSON bodies, one error shape, CORS that echoes only allowed origins."""

from __future__ import annotations

import base64
import binascii
import functools
import json
import math
import os
from collections.abc import Callable, Mapping
from typing import Any

from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as AwsConnectionError

from handlers.common import log

# Responses carry personal data (receipts, download links): no shared or browser cache may keep them.
JSON_HEADERS = {"Content-Type": "application/json", "Cache-Control": "no-store"}
RETRY_AFTER_SECONDS = "5"
# AWS error codes that mean "slow down / try again": the client gets a 503 with Retry-After, not a 500.
THROTTLING_CODES = frozenset({
    "Throttling", "ThrottlingException", "ThrottledException", "TooManyRequestsException", "RequestLimitExceeded",
    "RequestThrottled", "RequestThrottledException", "SlowDown", "ProvisionedThroughputExceededException",
    "ServiceUnavailable", "KMS.ThrottlingException", "KmsThrottled",
})


class HttpError(Exception):
    """An expected failure that becomes a 4xx/5xx response with `{"error": {"code", "message"}}`."""

    def __init__(self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})


def allowed_origins() -> list[str]:
    return [o.strip() for o in os.environ.get("ALLOWED_ORIGINS", "").split(",") if o.strip()]


def _header(event: Mapping[str, Any] | None, name: str) -> str | None:
    headers = (event or {}).get("headers") or {}
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def cors_headers(event: Mapping[str, Any] | None) -> dict[str, str]:
    """Echo the request's Origin only when it is allowed; a browser then refuses everyone else."""
    origin = _header(event, "Origin")
    allowed = allowed_origins()
    # Exact matches only: a "*" entry is not a wildcard (settings refuse it), since echoing any Origin together
    # with Allow-Credentials would let every site read the responses.
    if origin and origin in allowed:
        return {
            "Access-Control-Allow-Origin": origin,
            "Vary": "Origin",
            "Access-Control-Allow-Credentials": "true",
            # Browsers hide non-safelisted headers from scripts unless exposed: a 503's retry hint must be readable.
            "Access-Control-Expose-Headers": "Retry-After",
        }
    return {"Vary": "Origin"}


def json_response(
    status: int,
    body: Any,
    event: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {**JSON_HEADERS, **cors_headers(event), **dict(headers or {})},
        "body": json.dumps(body, separators=(",", ":"), default=str),
    }


def error_response(
    status: int,
    code: str,
    message: str,
    event: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    return json_response(status, {"error": {"code": code, "message": message}}, event, headers)


def header(event: Mapping[str, Any] | None, name: str) -> str | None:
    """A request header, case-insensitively (API Gateway keeps the client's casing)."""
    return _header(event, name)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e400 parses as inf
        raise ValueError("number out of range")
    return value


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document = dict(pairs)
    if len(document) != len(pairs):
        # Which duplicate wins differs between parsers (API Gateway's validator vs this one): refuse both.
        raise ValueError("duplicate object key")
    return document


def parse_json(text: str | bytes) -> Any:
    """Strict RFC 8259 JSON (ValueError otherwise): no NaN/Infinity literals, no numbers that overflow to
    infinity, no duplicate object keys. Integers past Python's digit limit are a ValueError as well."""
    return json.loads(text, parse_constant=_no_constant, parse_float=_finite_float, object_pairs_hook=_unique_keys)


def _is_json_media_type(content_type: str | None) -> bool:
    if content_type is None:  # API Gateway treats a request without Content-Type as application/json
        return True
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or (media_type.startswith("application/") and media_type.endswith("+json"))


def json_body(event: Mapping[str, Any]) -> Any:
    """The request body parsed as strict JSON; 415 when labelled as something else, 400 for anything not JSON."""
    # API Gateway applies the route's model to application/json only: a body labelled otherwise skips it.
    if not _is_json_media_type(header(event, "Content-Type")):
        raise HttpError(415, "unsupported_media_type", "Content-Type must be application/json")
    raw = event.get("body")
    if raw is None or raw == "":
        raise HttpError(400, "invalid_body", "request body is required")
    if event.get("isBase64Encoded"):
        try:
            raw = base64.b64decode(raw, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise HttpError(400, "invalid_body", "request body is not valid base64 UTF-8") from exc
    try:
        return parse_json(raw)
    except (ValueError, TypeError, RecursionError) as exc:  # RecursionError: absurdly deep nesting
        raise HttpError(400, "invalid_json", "request body is not valid JSON") from exc


def is_transient(exc: BaseException) -> bool:
    """An AWS failure worth retrying later: throttling, a 503 from the service, a connection or read timeout."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return error.get("Code") in THROTTLING_CODES or status == 503
    return isinstance(exc, (AwsConnectionError, HTTPClientError))


def api_handler(fn: Callable[[dict[str, Any], Any], dict[str, Any]]) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """Wrap a proxy handler: bind the request id to logs, map HttpError to its response, hide internals on 500."""

    @functools.wraps(fn)
    def wrapper(event: dict[str, Any], context: Any) -> dict[str, Any]:
        request_context = (event or {}).get("requestContext") or {}
        token = log.bind(
            requestId=request_context.get("requestId"),
            awsRequestId=getattr(context, "aws_request_id", None),
            route=f"{event.get('httpMethod', '')} {event.get('resource', '')}".strip() if event else None,
        )
        try:
            return fn(event, context)
        except HttpError as exc:
            log.warning("request rejected", status=exc.status, code=exc.code, reason=exc.message)
            return error_response(exc.status, exc.code, exc.message, event, exc.headers)
        except Exception as exc:  # noqa: BLE001 - the client must never see a stack trace
            if is_transient(exc):
                log.warning("dependency unavailable", errorType=type(exc).__name__, error=str(exc))
                return error_response(503, "service_unavailable", "the service is busy; retry later", event,
                                      {"Retry-After": RETRY_AFTER_SECONDS})
            log.error("unhandled error", errorType=type(exc).__name__, error=str(exc))
            return error_response(500, "internal_error", "internal error", event)
        finally:
            log.reset(token)

    return wrapper

"""API Gateway proxy responses: JSON bodies, one error shape, CORS that echoes only allowed origins."""

from __future__ import annotations

import base64
import binascii
import functools
import json
import os
from collections.abc import Callable, Mapping
from typing import Any

from handlers.common import log

JSON_HEADERS = {"Content-Type": "application/json"}


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
    if origin and (origin in allowed or "*" in allowed):
        return {"Access-Control-Allow-Origin": origin, "Vary": "Origin", "Access-Control-Allow-Credentials": "true"}
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


def json_body(event: Mapping[str, Any]) -> Any:
    """The request body parsed as JSON; 400 for anything that is not."""
    raw = event.get("body")
    if raw is None or raw == "":
        raise HttpError(400, "invalid_body", "request body is required")
    if event.get("isBase64Encoded"):
        try:
            raw = base64.b64decode(raw, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise HttpError(400, "invalid_body", "request body is not valid base64 UTF-8") from exc
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, TypeError) as exc:
        raise HttpError(400, "invalid_json", "request body is not valid JSON") from exc


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
            log.error("unhandled error", errorType=type(exc).__name__, error=str(exc))
            return error_response(500, "internal_error", "internal error", event)
        finally:
            log.reset(token)

    return wrapper

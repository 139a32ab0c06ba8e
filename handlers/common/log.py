"""One JSON object per log line, carrying the request or message id, so CloudWatch Logs Insights can query fields.

The functions use Lambda's JSON log format, which drops lines below the function's application log level (DEBUG in
dev, INFO in prod) by their "level" — one of Lambda's names (WARN, not WARNING) — and only trusts that level when
"timestamp" is RFC 3339: any other timestamp makes Lambda file the line as INFO, an ERROR included.
"""

from __future__ import annotations

import contextvars
import json
import sys
from datetime import UTC, datetime
from typing import Any

# Never mutated in place (bind() sets a new dict), so the shared empty default is safe.
_context: contextvars.ContextVar[dict[str, Any]] = contextvars.ContextVar("log_context", default={})  # noqa: B039


def bind(**fields: Any) -> contextvars.Token:
    """Attach fields (e.g. requestId) to every following log line of this invocation."""
    return _context.set({**_context.get(), **{k: v for k, v in fields.items() if v is not None}})


def reset(token: contextvars.Token) -> None:
    _context.reset(token)


def _emit(level: str, message: str, fields: dict[str, Any]) -> None:
    timestamp = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    record = {"timestamp": timestamp, "level": level, "message": message, **_context.get(), **fields}
    # Lambda ships stdout to the function's log group; default=str keeps a bad field from losing the line.
    sys.stdout.write(json.dumps(record, default=str, separators=(",", ":")) + "\n")


def debug(message: str, **fields: Any) -> None:
    _emit("DEBUG", message, fields)


def info(message: str, **fields: Any) -> None:
    _emit("INFO", message, fields)


def warning(message: str, **fields: Any) -> None:
    _emit("WARN", message, fields)


def error(message: str, **fields: Any) -> None:
    _emit("ERROR", message, fields)

"""One JSON object per log line, carrying the request or message id, so CloudWatch Logs Insights can query fields."""

from __future__ import annotations

import contextvars
import json
import sys
import time
from typing import Any

# Never mutated in place (bind() sets a new dict), so the shared empty default is safe.
_context: contextvars.ContextVar[dict[str, Any]] = contextvars.ContextVar("log_context", default={})  # noqa: B039


def bind(**fields: Any) -> contextvars.Token:
    """Attach fields (e.g. requestId) to every following log line of this invocation."""
    return _context.set({**_context.get(), **{k: v for k, v in fields.items() if v is not None}})


def reset(token: contextvars.Token) -> None:
    _context.reset(token)


def _emit(level: str, message: str, fields: dict[str, Any]) -> None:
    record = {"timestamp": round(time.time(), 3), "level": level, "message": message, **_context.get(), **fields}
    # Lambda ships stdout to the function's log group; default=str keeps a bad field from losing the line.
    sys.stdout.write(json.dumps(record, default=str, separators=(",", ":")) + "\n")


def info(message: str, **fields: Any) -> None:
    _emit("INFO", message, fields)


def warning(message: str, **fields: Any) -> None:
    _emit("WARNING", message, fields)


def error(message: str, **fields: Any) -> None:
    _emit("ERROR", message, fields)

"""GET /health (public): liveness of the deployed stage, without touching any dependency."""

from __future__ import annotations

import os
from typing import Any

from handlers.common.http import api_handler, json_response

SERVICE_NAME = os.environ.get("SERVICE_NAME", "serverless-api")
STAGE = os.environ.get("STAGE", "unknown")


@api_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return json_response(200, {"ok": True, "service": SERVICE_NAME, "stage": STAGE}, event)

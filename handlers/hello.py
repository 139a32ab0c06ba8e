"""GET /hello (protected): greets the caller named by the Cognito authorizer's claims."""

from __future__ import annotations

from typing import Any

from handlers.common import log
from handlers.common.claims import require_caller
from handlers.common.http import api_handler, json_response


@api_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    # The authorizer already rejected anonymous calls; a missing identity here means a misconfigured
    # route (e.g. authorization removed), so refuse rather than greet "Unknown" as the seed did.
    caller = require_caller(event)
    log.info("hello", sub=caller.sub)
    return json_response(200, {"message": "Hello from secured API!", "user": caller.username}, event)

"""GET /profiles/{id}: your own profile, or anyone's for members of the `admins` group.

Everyone else gets the same 404 as for an unknown id, before the table is read: whether a profile exists is
not revealed. The role can only GetItem, so the handler's check is what keeps a user to their own profile (a
Lambda role cannot carry the caller's identity); the tests try the IDOR cases.

Environment: PROFILES_TABLE, ADMIN_GROUP.
"""

from __future__ import annotations

import os
import re
from typing import Any

import boto3

from handlers.common import log
from handlers.common.claims import require_caller
from handlers.common.http import HttpError, api_handler, json_response
from handlers.common.profiles import public_profile

PROFILES_TABLE = os.environ["PROFILES_TABLE"]
ADMIN_GROUP = os.environ.get("ADMIN_GROUP", "admins")
USER_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")
NOT_FOUND = "profile not found"

table = boto3.resource("dynamodb").Table(PROFILES_TABLE)


@api_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    caller = require_caller(event)
    user_id = str((event.get("pathParameters") or {}).get("id") or "")
    if not USER_ID.fullmatch(user_id) or (user_id != caller.sub and ADMIN_GROUP not in caller.groups):
        raise HttpError(404, "not_found", NOT_FOUND)
    item = table.get_item(Key={"userId": user_id}).get("Item")
    if item is None:
        raise HttpError(404, "not_found", NOT_FOUND)
    log.info("profile read", own=user_id == caller.sub)
    return json_response(200, {"profile": public_profile(item)}, event)

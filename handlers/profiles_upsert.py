"""POST /profiles: create or update the caller's own profile.

`userId` is the authorizer's `sub` and `email` its `email` claim once Cognito has verified it (otherwise empty:
the welcome email never goes to an unproven address); the body (schema `profile`) may carry neither,
so a request can never write someone else's profile. `updatedAt` is the request time API Gateway stamped
(`requestTimeEpoch`, ms), `createdAt` is kept from the first write. One UpdateItem (not PutItem): attributes
the body does not name, and the welcome consumer's `welcomeQueued` marker, survive an update.

Answers 201 for a new profile, 200 for an update, with the stored profile.

Environment: PROFILES_TABLE.
"""

from __future__ import annotations

import os
import re
from typing import Any

import boto3

from handlers.common import log
from handlers.common.claims import claims_of, require_caller
from handlers.common.http import HttpError, api_handler, json_body, json_response
from handlers.common.profiles import public_profile
from handlers.common.validation import require_valid

PROFILES_TABLE = os.environ["PROFILES_TABLE"]
SUB = re.compile(r"[A-Za-z0-9_-]{1,128}")
FIELDS = ("name", "locale", "bio")

table = boto3.resource("dynamodb").Table(PROFILES_TABLE)


@api_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    caller = require_caller(event)
    if not SUB.fullmatch(caller.sub):
        raise HttpError(401, "unauthorized", "missing or invalid identity claims")
    body = require_valid(json_body(event), "profile")
    request_time = int((event.get("requestContext") or {}).get("requestTimeEpoch") or 0)
    if request_time <= 0:
        raise HttpError(400, "invalid_request", "request time missing")
    names = {"#updatedAt": "updatedAt", "#createdAt": "createdAt", "#email": "email"}
    verified = str(claims_of(event).get("email_verified", "")).lower() == "true"
    values: dict[str, Any] = {":now": request_time, ":email": (caller.email or "") if verified else ""}
    assignments = ["#updatedAt = :now", "#createdAt = if_not_exists(#createdAt, :now)", "#email = :email"]
    for field in FIELDS:
        if field in body:
            names[f"#{field}"] = field
            values[f":{field}"] = body[field]
            assignments.append(f"#{field} = :{field}")
    stored = table.update_item(
        Key={"userId": caller.sub},
        UpdateExpression="SET " + ", ".join(assignments),
        ExpressionAttributeNames=names,
        ExpressionAttributeValues=values,
        ReturnValues="ALL_NEW",
    )["Attributes"]
    created = int(stored["createdAt"]) == int(stored["updatedAt"]) == request_time
    log.info("profile upserted", created=created)
    return json_response(201 if created else 200, {"profile": public_profile(stored)}, event)

"""Identity of the caller as API Gateway's Cognito authorizer passes it: never taken from the request body."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from handlers.common.http import HttpError


@dataclass(frozen=True)
class Caller:
    sub: str
    username: str
    email: str | None
    groups: tuple[str, ...]


def claims_of(event: dict[str, Any]) -> dict[str, Any]:
    authorizer = ((event or {}).get("requestContext") or {}).get("authorizer") or {}
    # REST API Cognito authorizers put claims under "claims"; HTTP API JWT authorizers under "jwt.claims".
    claims = authorizer.get("claims") or (authorizer.get("jwt") or {}).get("claims") or {}
    return claims if isinstance(claims, dict) else {}


def _groups(raw: Any) -> tuple[str, ...]:
    if isinstance(raw, list):
        return tuple(str(g) for g in raw)
    if isinstance(raw, str) and raw:
        # REST API flattens the list claim into "[admins, users]" or "admins,users".
        return tuple(g.strip() for g in raw.strip("[]").replace(",", " ").split() if g.strip())
    return ()


def require_caller(event: dict[str, Any]) -> Caller:
    """The authenticated caller; 401 when the authorizer passed no identity (defence in depth)."""
    claims = claims_of(event)
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub:
        raise HttpError(401, "unauthorized", "missing or invalid identity claims")
    username = claims.get("cognito:username") or claims.get("username") or sub
    email = claims.get("email") if isinstance(claims.get("email"), str) else None
    return Caller(sub=sub, username=str(username), email=email, groups=_groups(claims.get("cognito:groups")))

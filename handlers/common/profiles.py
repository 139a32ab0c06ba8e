"""What a profile looks like to API callers: the stored item minus internal markers."""

from __future__ import annotations

from typing import Any

PUBLIC = ("userId", "email", "name", "locale", "bio", "createdAt", "updatedAt")
TIMES = ("createdAt", "updatedAt")


def public_profile(item: dict[str, Any]) -> dict[str, Any]:
    return {k: (int(item[k]) if k in TIMES else item[k]) for k in PUBLIC if k in item}

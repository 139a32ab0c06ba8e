"""Fixed-window request limits on DynamoDB: one conditional counter per (limit, window), expired by TTL.

All counters of one request are taken in one transaction: either every counter is below its limit and each is
incremented, or the request is refused (429) and nothing is written. Counter keys hold a hash of the value
(an address, an IP), never the value itself. Items carry `expiresAt` (epoch seconds), the table's TTL
attribute, so old windows disappear on their own.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from handlers.common.http import HttpError

KEY_ATTRIBUTE = "pk"
TTL_ATTRIBUTE = "expiresAt"


def hashed(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:32]


@dataclass(frozen=True)
class Limit:
    """At most `limit` requests per `window_seconds` for one `scope` (e.g. "register-ip") and `value`."""

    scope: str
    value: str
    limit: int
    window_seconds: int

    def key(self, now: float) -> str:
        return f"rl#{self.scope}#{hashed(self.value)}#{int(now) // self.window_seconds}"

    def window_end(self, now: float) -> int:
        return (int(now) // self.window_seconds + 1) * self.window_seconds


def consume(client: Any, table: str, limits: Sequence[Limit], clock: Callable[[], float] | None = None) -> None:
    """Count one request against every limit; 429 (nothing counted) when any is exhausted."""
    now = (clock or time.time)()
    items = [
        {
            "Update": {
                "TableName": table,
                "Key": {KEY_ATTRIBUTE: {"S": limit.key(now)}},
                "UpdateExpression": "ADD hits :one SET #ttl = :ttl",
                "ConditionExpression": "attribute_not_exists(hits) OR hits < :limit",
                "ExpressionAttributeNames": {"#ttl": TTL_ATTRIBUTE},
                "ExpressionAttributeValues": {
                    ":one": {"N": "1"},
                    ":limit": {"N": str(limit.limit)},
                    # A day past the window: TTL deletion is lazy, and the window check never relies on it.
                    ":ttl": {"N": str(limit.window_end(now) + 86_400)},
                },
            }
        }
        for limit in limits
    ]
    try:
        client.transact_write_items(TransactItems=items)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "TransactionCanceledException":
            raise
        reasons = exc.response.get("CancellationReasons") or []
        refused = [limit for limit, reason in zip(limits, reasons, strict=False)
                   if reason.get("Code") == "ConditionalCheckFailed"]
        if not refused and any(r.get("Code") not in (None, "None", "ConditionalCheckFailed") for r in reasons):
            raise  # a conflict or throttling, not a limit: the caller's generic 503 path
        retry_after = max((limit.window_end(now) for limit in refused or limits), default=int(now)) - int(now)
        raise HttpError(429, "too_many_requests", "too many attempts; retry later",
                        {"Retry-After": str(max(retry_after, 1))}) from exc

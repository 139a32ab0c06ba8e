"""Physical names: unique per project and stack, within each AWS name-length limit; and the names the provider
would otherwise derive from logical names that AWS refuses.

pulumi-aws auto-names `aws.lambda_.Permission.statement_id` as `<logical name>-<7 hex>` (AutoName, max 100, "-"),
but AWS AddPermission accepts only `^[a-zA-Z0-9-_]+$` (1-100) and route labels hold `/`, `{`, `}`.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

STATEMENT_ID_MAX = 100
_NOT_ALLOWED = re.compile(r"[^A-Za-z0-9_-]+")


@dataclass(frozen=True)
class Naming:
    """`Naming("shop-dev").name("orders-queue", 80)` → "shop-dev-orders-queue" (hashed down when too long)."""

    prefix: str

    def __post_init__(self) -> None:
        if not self.prefix:
            raise ValueError("a naming prefix is required (e.g. '<project>-<stack>')")

    def name(self, suffix: str, max_length: int = 64) -> str:
        base = f"{self.prefix}-{suffix}"
        if len(base) <= max_length:
            return base
        return base[: max_length - 8] + "-" + hashlib.sha256(base.encode()).hexdigest()[:7]


def statement_id(label: str) -> str:
    """A valid, deterministic statement id, unique per label (the hash covers the label before it is cleaned)."""
    digest = hashlib.sha256(label.encode()).hexdigest()[:8]
    readable = _NOT_ALLOWED.sub("-", label).strip("-")[: STATEMENT_ID_MAX - len(digest) - 1] or "permission"
    return f"{readable}-{digest}"

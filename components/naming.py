"""Physical names: unique per project and stack, within each AWS name-length limit."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


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

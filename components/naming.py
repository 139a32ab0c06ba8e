"""Physical names the provider would otherwise derive from logical names that AWS refuses.

pulumi-aws auto-names `aws.lambda_.Permission.statement_id` as `<logical name>-<7 hex>` (AutoName, max 100, "-"),
but AWS AddPermission accepts only `^[a-zA-Z0-9-_]+$` (1-100) and route labels hold `/`, `{`, `}`.
"""

from __future__ import annotations

import hashlib
import re

STATEMENT_ID_MAX = 100
_NOT_ALLOWED = re.compile(r"[^A-Za-z0-9_-]+")


def statement_id(label: str) -> str:
    """A valid, deterministic statement id, unique per label (the hash covers the label before it is cleaned)."""
    digest = hashlib.sha256(label.encode()).hexdigest()[:8]
    readable = _NOT_ALLOWED.sub("-", label).strip("-")[: STATEMENT_ID_MAX - len(digest) - 1] or "permission"
    return f"{readable}-{digest}"

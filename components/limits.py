"""Limits and enumerations AWS publishes, shared by the components' Args checks and the stack config loader."""

from __future__ import annotations

import re

# CloudWatch Logs accepts only these retention periods (PutRetentionPolicy).
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
)
MFA_MODES = ("OFF", "ON", "OPTIONAL")
AUTH_FLOWS = (
    "ALLOW_ADMIN_USER_PASSWORD_AUTH",
    "ALLOW_CUSTOM_AUTH",
    "ALLOW_USER_PASSWORD_AUTH",
    "ALLOW_USER_SRP_AUTH",
    "ALLOW_REFRESH_TOKEN_AUTH",
    "ALLOW_USER_AUTH",
)
QUOTA_PERIODS = ("DAY", "WEEK", "MONTH")
ARCHITECTURES = ("arm64", "x86_64")
STARTING_POSITIONS = ("LATEST", "TRIM_HORIZON")
ENDPOINT_TYPES = ("REGIONAL", "EDGE", "PRIVATE")

ORIGIN = re.compile(r"^(https?)://([A-Za-z0-9.-]+)(:\d{1,5})?$")
EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@([A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+)$")
DOMAIN = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$")
CONTENT_TYPE = re.compile(r"^[a-z]+/[a-z0-9.+-]+$")
COGNITO_GROUP = re.compile(r"^[\w+=,.@-]{1,128}$")


def check_tags(tags: dict[str, str] | object) -> None:
    for key, value in dict(tags).items():  # type: ignore[call-overload]
        if key.lower().startswith("aws:") or not 1 <= len(key) <= 128 or len(value) > 256:
            raise ValueError(f"tag {key!r}: keys are 1-128 chars, not 'aws:'-prefixed; values <= 256 chars")


def check_range(label: str, value: float | None, low: float, high: float) -> None:
    if value is not None and not low <= value <= high:
        raise ValueError(f"{label} must be {low}..{high}, got {value}")

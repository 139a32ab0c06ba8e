"""One email-address grammar for every part of the system: registration, the order processor and the sender.

It is the dot-atom form of RFC 5322 (letters, digits and ``!#$%&'*+/=?^_`{|}~-``, dots between atoms) at a
domain of LDH labels under an alphabetic TLD: what SES and Cognito accept, so an address that passes here is
never refused later (o'neil@example.org included). The same text is the `pattern` of the JSON schemas that
carry addresses (a test keeps them equal), so API Gateway applies it too.
"""

from __future__ import annotations

import re

_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
ADDRESS_PATTERN = "^" + _ATOM + r"(?:\." + _ATOM + ")*@" + _LABEL + r"(?:\." + _LABEL + r")*\.[A-Za-z]{2,24}$"
MAX_ADDRESS_LENGTH = 254  # RFC 5321 path limit
MAX_LOCAL_LENGTH = 64
# JSON Schema (ECMA) `$` is the end of the string; Python's would also match before a final newline.
_ADDRESS = re.compile(ADDRESS_PATTERN[:-1] + r"\Z")


def is_address(value: object) -> bool:
    if not isinstance(value, str) or len(value) > MAX_ADDRESS_LENGTH:
        return False
    return _ADDRESS.match(value) is not None and len(value.rsplit("@", 1)[0]) <= MAX_LOCAL_LENGTH


def normalize(value: str) -> str:
    """One account per mailbox: addresses are compared case-insensitively."""
    return value.lower()

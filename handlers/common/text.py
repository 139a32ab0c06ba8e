"""Rules for customer-typed text that leaves the system: display names and values placed into emails.

Pure functions (no AWS): the same rules apply wherever a name enters (registration, confirmation, the `name`
claim a user can change through Cognito) and wherever a value reaches an email template.
"""

from __future__ import annotations

import unicodedata

MAX_NAME_LENGTH = 100

# Unicode categories refused in names: Cc (C0/C1 controls, DEL), Cf (bidi overrides and isolates, zero-width
# characters, BOM, soft hyphen...), Cs (lone surrogates from a JSON "\ud800" escape), Co (private use),
# Zl/Zp (line and paragraph separators, which break a subject or a log line like a newline does), Cn (unassigned).
REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Zl", "Zp", "Cn"})
# Markup characters are refused outright in names (as the schema always did); other HTML-special characters
# (O'Neil, "Smith & Sons") are legitimate and are neutralised where they reach an email instead.
REFUSED_CHARACTERS = frozenset("<>")


def name_problem(name: object) -> str | None:
    """Why `name` is not an acceptable display name, or None when it is."""
    if not isinstance(name, str) or not name.strip():
        return "name is empty"
    if len(name) > MAX_NAME_LENGTH:
        return f"name is longer than {MAX_NAME_LENGTH} characters"
    if name != name.strip():
        return "name must not start or end with spaces"
    for ch in name:
        if unicodedata.category(ch) in REFUSED_CATEGORIES:
            return f"name contains a control, format or separator character (U+{ord(ch):04X})"
        if ch in REFUSED_CHARACTERS:
            return "name must not contain '<' or '>'"
    return None


# SES documents Handlebars-style `{{x}}` substitution but not whether it HTML-escapes the value, and our
# templates may only use `{{x}}` (components/email_templates.py refuses the raw `{{{x}}}`). A value free of the
# characters HTML escaping would touch renders identically either way, with nothing to double-escape, and can
# never open a tag, an entity or an attribute: each is replaced by its typographic look-alike.
HTML_NEUTRAL = str.maketrans({
    "<": "\u2039",  # single left-pointing angle quotation mark
    ">": "\u203a",
    "&": "\uff06",  # fullwidth ampersand
    '"': "\u201d",
    "'": "\u2019",  # right single quotation mark: O'Neil -> O’Neil
    "`": "\u02cb",
    "=": "\uff1d",
})


def email_safe(value: str) -> str:
    """`value` as it may appear in any part of an email (HTML included), on one line."""
    neutral = value.translate(HTML_NEUTRAL)
    return "".join(" " if unicodedata.category(ch) in REFUSED_CATEGORIES else ch for ch in neutral)

"""Finding 3: no customer-controlled value can add markup to an email's HTML part.

Each `templates/email/*.html` is rendered the way SES substitutes `{{x}}`, with hostile data passed through the
sender's own job parsing. SES documents Handlebars-style substitution without promising to escape, so both
behaviours are rendered: plain substitution and Handlebars' HTML escaping. Either way the rendered document
must have exactly the template's own tags, and the visible text must be the same in both.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from html.parser import HTMLParser
from types import ModuleType
from typing import Any

import pytest

from components.email_templates import load_templates
from handlers.common.text import email_safe
from tests.handlers.test_send_email import sender_env

TEMPLATES = {t.name: t for t in load_templates()}
HOSTILE = [
    "<script>alert(document.cookie)</script>",
    '"><img src=x onerror=alert(1)>',
    "Ann' onmouseover='alert(1)",
    "&lt;b&gt;entity&lt;/b&gt; &amp;",
    "<!-- comment --><a href=`javascript:alert(1)`>x</a>",
    "Ann\u202e\u2028Lee\u0085",
    "O'Neil & Sons = \"best\"",
]
_PLACEHOLDER = re.compile(r"{{\s*([A-Za-z_][A-Za-z0-9_]*)\s*}}")


def substitute(template: str, data: dict[str, Any], escape: bool) -> str:
    """SES-style `{{x}}` substitution; `escape` = Handlebars' default escaping of & < > " ' ` =."""
    def value(match: re.Match[str]) -> str:
        text = str(data[match.group(1)])
        if escape:
            text = html.escape(text, quote=True).replace("`", "&#x60;").replace("=", "&#x3D;")
        return text
    return _PLACEHOLDER.sub(value, template)


class Shape(HTMLParser):
    """The document's structure: every tag with its attributes, comments and declarations, and the text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, ...]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(("start", tag, *(f"{k}={v}" for k, v in attrs)))

    def handle_endtag(self, tag: str) -> None:
        self.tags.append(("end", tag))

    def handle_comment(self, data: str) -> None:
        self.tags.append(("comment", data))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def shape(document: str) -> Shape:
    parser = Shape()
    parser.feed(document)
    parser.close()
    return parser


@pytest.fixture
def sender(aws: None, load_handler: Callable[..., ModuleType]) -> ModuleType:
    return load_handler("send_email", env=sender_env())


@pytest.mark.parametrize("name", sorted(TEMPLATES))
@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_values_never_change_the_html_structure(sender: ModuleType, name: str, hostile: str) -> None:
    template = TEMPLATES[name]
    benign = shape(substitute(template.html, dict.fromkeys(template.variables, "x"), escape=False))
    job = sender.parse_job(json.dumps(
        {"template": name, "to": ["ann@example.org"], "data": dict.fromkeys(template.variables, hostile)}))

    raw, escaped = (shape(substitute(template.html, job.data, escape=e)) for e in (False, True))

    assert raw.tags == benign.tags and escaped.tags == benign.tags
    assert "".join(raw.text) == "".join(escaped.text)  # nothing double-escaped, whatever SES does


def test_placeholders_sit_in_text_content_only() -> None:
    """Values go between tags, never into a tag or an attribute, where other characters would matter."""
    for template in TEMPLATES.values():
        for match in _PLACEHOLDER.finditer(template.html):
            before = template.html[: match.start()]
            assert before.rfind("<") < before.rfind(">"), f"{template.name}: {match.group(0)} inside a tag"


def test_neutral_values_read_the_same() -> None:
    assert email_safe("O'Neil & Sons") == "O\u2019Neil \uff06 Sons"
    assert email_safe("Ann\u2028Lee") == "Ann Lee"

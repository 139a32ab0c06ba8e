"""SES email templates kept as files in the repository, loaded the same way by the component and the tests.

A template `Name` is three files in `templates/email/`: `Name.subject.txt` (one line), `Name.txt` (text part)
and `Name.html` (HTML part). Placeholders are plain `{{variable}}` only: no Handlebars helpers, blocks or
triple-stash (`{{{x}}}` would put unescaped user data into the HTML), so the set of variables a template
needs is exactly known and the sender can reject a job that lacks one instead of letting SES fail to render.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .paths import TEMPLATE_DIR

# SES: template names are letters, digits, '_' and '-', at most 64 characters.
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_PLACEHOLDER = re.compile(r"{{(.*?)}}", re.DOTALL)
_VARIABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
# SES v1 caps a template at 500 KB across its parts.
MAX_TEMPLATE_BYTES = 500 * 1024
PART_SUFFIXES = {"subject": ".subject.txt", "text": ".txt", "html": ".html"}


class TemplateError(ValueError):
    """A template file set that SES would reject or that the sender could not validate jobs against."""


@dataclass(frozen=True)
class EmailTemplate:
    name: str
    subject: str
    text: str
    html: str

    @property
    def variables(self) -> frozenset[str]:
        """Every `{{variable}}` used by any part: the keys a job's `data` must carry."""
        return frozenset().union(*(placeholders(part) for part in (self.subject, self.text, self.html)))


def placeholders(part: str) -> frozenset[str]:
    """The variable names of a template part; TemplateError for anything but plain `{{name}}`."""
    names = set()
    for match in _PLACEHOLDER.finditer(part):
        inner = match.group(1).strip()
        if part[match.end() : match.end() + 1] == "}" or inner.startswith("{") or not _VARIABLE.match(inner):
            raise TemplateError(f"unsupported placeholder {match.group(0)!r}: only {{{{variable}}}} is allowed")
        names.add(inner)
    return frozenset(names)


def parse_template(name: str, subject: str, text: str, html: str) -> EmailTemplate:
    """Check one template against the SES rules and our placeholder rule."""
    if not _NAME.match(name):
        raise TemplateError(f"template name {name!r} must be 1-64 letters, digits, '_' or '-'")
    subject = subject.strip()
    if not subject or "\n" in subject or "\r" in subject:
        raise TemplateError(f"template {name}: the subject must be one non-empty line")
    if not text.strip() or not html.strip():
        raise TemplateError(f"template {name}: both a text and an HTML part are required")
    if len((subject + text + html).encode()) > MAX_TEMPLATE_BYTES:
        raise TemplateError(f"template {name}: larger than {MAX_TEMPLATE_BYTES} bytes")
    template = EmailTemplate(name=name, subject=subject, text=text, html=html)
    template.variables  # noqa: B018 - raises TemplateError on an unsupported placeholder
    return template


def load_templates(directory: Path = TEMPLATE_DIR) -> tuple[EmailTemplate, ...]:
    """Every template in `directory`, sorted by name; a missing part is an error, not a silent skip."""
    names = sorted({p.name[: -len(PART_SUFFIXES["subject"])] for p in directory.glob("*" + PART_SUFFIXES["subject"])})
    if not names:
        raise TemplateError(f"no templates (*{PART_SUFFIXES['subject']}) in {directory}")
    orphans = sorted(
        p.name for p in directory.iterdir()
        if p.is_file() and not any(p.name in (n + suffix for suffix in PART_SUFFIXES.values()) for n in names)
    )
    if orphans:
        raise TemplateError(f"files in {directory} that belong to no template: {orphans}")
    templates = []
    for name in names:
        parts = {}
        for part, suffix in PART_SUFFIXES.items():
            path = directory / f"{name}{suffix}"
            if not path.is_file():
                raise TemplateError(f"template {name}: missing {path.name}")
            parts[part] = path.read_text(encoding="utf-8")
        templates.append(parse_template(name, **parts))
    return tuple(templates)


def ses_template_input(template: EmailTemplate, physical_name: str | None = None) -> dict[str, str]:
    """The `Template` argument of SES v1 `create_template` (what moto and a real account both accept)."""
    return {
        "TemplateName": physical_name or template.name,
        "SubjectPart": template.subject,
        "TextPart": template.text,
        "HtmlPart": template.html,
    }


def sender_manifest(templates: tuple[EmailTemplate, ...], physical_names: dict[str, str]) -> dict[str, dict]:
    """What the sender needs to validate a job: logical name -> SES template name and required variables.

    Handed to `handlers/send_email.py` as the `EMAIL_TEMPLATES` environment variable (JSON).
    """
    return {
        t.name: {"templateName": physical_names.get(t.name, t.name), "variables": sorted(t.variables)}
        for t in templates
    }

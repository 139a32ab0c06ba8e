"""Upload naming and limits shared by the upload handlers: keys are always `uploads/<caller sub>/<uuid>-<name>`.

Everything here is pure (no AWS calls) so the rules that keep one user out of another's prefix are tested
directly, including with generated filenames.
"""

from __future__ import annotations

import os
import re
import unicodedata
import uuid
from dataclasses import dataclass

from handlers.common.http import HttpError

# S3 answers a missing key with 403 instead of 404 when the reader lacks s3:ListBucket: both mean "not there".
MISSING_CODES = frozenset({"404", "NoSuchKey", "403", "AccessDenied"})

UPLOADS_PREFIX = "uploads/"
PROCESSED_PREFIX = "processed/"
MAX_FILENAME_BYTES = 255

# Cognito subs are UUIDs; anything that could add a path segment (or a wildcard) is refused.
_SUB_PATTERN = r"[A-Za-z0-9][A-Za-z0-9-]{0,127}"
_SUB = re.compile(f"^{_SUB_PATTERN}$")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_UPLOAD_KEY = re.compile(f"^uploads/(?P<owner>{_SUB_PATTERN})/(?P<name>[A-Za-z0-9_-][A-Za-z0-9._-]*)$")


class InvalidFilename(ValueError):
    """The client's filename cannot name an object (the message says why)."""


@dataclass(frozen=True)
class UploadKey:
    owner: str
    name: str

    @property
    def key(self) -> str:
        return f"{UPLOADS_PREFIX}{self.owner}/{self.name}"

    @property
    def processed_key(self) -> str:
        return f"{PROCESSED_PREFIX}{self.owner}/{self.name}"


def _int_env(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    return int(value) if value.strip() else default


@dataclass(frozen=True)
class UploadEnv:
    """The upload functions' environment contract (each function is given the variables it reads)."""

    uploads_bucket: str
    processed_bucket: str
    stream_name: str
    max_bytes: int
    url_ttl_seconds: int
    content_types: frozenset[str]

    @classmethod
    def load(cls) -> UploadEnv:
        return cls(
            uploads_bucket=os.environ.get("UPLOADS_BUCKET", ""),
            processed_bucket=os.environ.get("PROCESSED_BUCKET", ""),
            stream_name=os.environ.get("STREAM_NAME", ""),
            max_bytes=_int_env("MAX_UPLOAD_BYTES", 1_048_576),
            url_ttl_seconds=_int_env("UPLOAD_URL_TTL_SECONDS", 900),
            content_types=frozenset(
                t.strip().lower() for t in os.environ.get("ALLOWED_CONTENT_TYPES", "").split(",") if t.strip()
            ),
        )


def safe_filename(raw: str) -> str:
    """The last path segment of `raw`, reduced to [A-Za-z0-9._-]; InvalidFilename for names we refuse."""
    if not isinstance(raw, str) or not raw.strip():
        raise InvalidFilename("filename is empty")
    # Cs: a lone surrogate (JSON "\ud800") cannot be encoded into a key at all.
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Zl", "Zp") for ch in raw):
        raise InvalidFilename("filename contains control characters")
    segments = re.split(r"[/\\]", raw)
    if any(segment.strip() == ".." for segment in segments):
        raise InvalidFilename("filename must not contain '..' segments")
    base = segments[-1].strip()
    if len(base.encode("utf-8")) > MAX_FILENAME_BYTES:
        raise InvalidFilename(f"filename is longer than {MAX_FILENAME_BYTES} bytes")
    # Leading dots would make hidden files (or '.'); runs of unsafe characters become one '_'.
    safe = _UNSAFE.sub("_", base).lstrip(".")
    if not safe or not safe.strip("_"):
        raise InvalidFilename("filename has no usable characters")
    return safe


def owner_segment(sub: str) -> str:
    """The caller's sub as a key segment; 403 if it could ever escape `uploads/<sub>/`."""
    if not _SUB.fullmatch(sub):  # fullmatch: `$` alone would let "abc\n" through
        raise HttpError(403, "forbidden", "this identity cannot own uploads")
    return sub


def new_upload_key(sub: str, filename: str) -> UploadKey:
    """A fresh key under the caller's own prefix for `filename` (400 when the name is refused)."""
    try:
        name = safe_filename(filename)
    except InvalidFilename as exc:
        raise HttpError(400, "invalid_filename", str(exc)) from exc
    return UploadKey(owner=owner_segment(sub), name=f"{uuid.uuid4()}-{name}")


def parse_upload_key(key: str) -> UploadKey | None:
    """`uploads/<owner>/<name>` -> UploadKey; None for any other shape (never guess an owner)."""
    match = _UPLOAD_KEY.fullmatch(key)
    return UploadKey(owner=match["owner"], name=match["name"]) if match else None


def allowed_content_type(value: str, allowed: frozenset[str]) -> str:
    """The media type (lower-case, no parameters) if allowed; 400 otherwise."""
    media_type = value.split(";", 1)[0].strip().lower() if isinstance(value, str) else ""
    if media_type not in allowed:
        raise HttpError(400, "unsupported_content_type", f"content type must be one of {', '.join(sorted(allowed))}")
    return media_type


def is_text(content_type: str) -> bool:
    return content_type.split(";", 1)[0].strip().lower().startswith("text/")


def media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def is_textual(content_type: str) -> bool:
    """Types whose bytes must be UTF-8 text: text/*, JSON and the +json/+xml structured suffixes."""
    kind = media_type(content_type)
    return kind.startswith("text/") or kind in ("application/json", "application/xml") or kind.endswith(
        ("+json", "+xml"))


# Leading bytes each binary type must start with (any one of the alternatives). A type that is not textual, not
# application/octet-stream and not listed here cannot be checked, so it is refused: content is never stored
# under a type we cannot vouch for (HTML sent as image/png would be served back as image/png).
SIGNATURES: dict[str, tuple[bytes, ...]] = {
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "image/webp": (b"RIFF",),  # + "WEBP" at offset 8, checked below
    "image/bmp": (b"BM",),
    "image/tiff": (b"II*\x00", b"MM\x00*"),
    "application/pdf": (b"%PDF-",),
    "application/zip": (b"PK\x03\x04", b"PK\x05\x06"),
    "application/gzip": (b"\x1f\x8b",),
}
UNCHECKED_TYPES = frozenset({"application/octet-stream"})


def content_problem(data: bytes, content_type: str) -> str | None:
    """Why `data` is not what `content_type` declares, or None when it is."""
    kind = media_type(content_type)
    if is_textual(kind):
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            return f"{kind} content is not valid UTF-8 text"
        return None
    if kind in UNCHECKED_TYPES:
        return None
    signatures = SIGNATURES.get(kind)
    if signatures is None:
        return f"content of type {kind} cannot be checked, so it is not accepted"
    if not data.startswith(signatures) or (kind == "image/webp" and data[8:12] != b"WEBP"):
        return f"content does not match its declared type {kind}"
    return None

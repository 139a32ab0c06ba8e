"""Where the app's own code and data live: next to `components/` in this repository, or inside the installed
package (`_code/`, see pyproject.toml) when the components come from a wheel."""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent
CODE_ROOT = _PACKAGE_DIR / "_code" if (_PACKAGE_DIR / "_code").is_dir() else _PACKAGE_DIR.parent
HANDLERS_DIR = CODE_ROOT / "handlers"
TEMPLATE_DIR = CODE_ROOT / "templates" / "email"

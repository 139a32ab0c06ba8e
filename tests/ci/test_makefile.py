"""`make` on a machine whose Python is older than 3.11 says so, and keeps the targets the README promises."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from offline.runtime import REPO_ROOT

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")

OLD_PYTHON = """#!/bin/sh
# Stands in for an old interpreter: fails the version check like Python 3.9 would.
case "$1" in
  --version) echo "Python 3.9.18" ;;
  -c) python3 -c 'import sys; sys.exit(1)' ;;
  *) exit 3 ;;
esac
"""


def test_an_old_python_stops_make_with_a_clear_message(tmp_path) -> None:
    fake = tmp_path / "python3.9"
    fake.write_text(OLD_PYTHON)
    fake.chmod(0o755)
    done = subprocess.run(["make", "-C", str(REPO_ROOT), "test", f"VENV={tmp_path / 'venv'}", f"PYTHON={fake}"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode != 0
    assert "Python >= 3.11 is required" in done.stderr and "Python 3.9.18" in done.stderr
    assert not (tmp_path / "venv").exists()  # stopped before creating anything


def test_the_documented_targets_exist() -> None:
    phony = re.search(r"^\.PHONY:(.*)$", (REPO_ROOT / "Makefile").read_text(), re.MULTILINE)
    assert phony and {"test", "preview", "lint", "bench", "clean"} <= set(phony.group(1).split())

"""The runtime's readiness file (offline/local/server.py): readers poll for endpoints.json and read it as soon as it
exists (the tests' `start_runtime`, `python -m offline.local schedule`, a developer's script), so it must never be
seen half-written."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from offline.local.server import ENDPOINTS_FILE, publish_endpoints

_WATCHING: list[list[tuple[str, str]]] = []  # the calls being watched (an audit hook cannot be removed)


def _audit(event: str, args: tuple) -> None:
    if _WATCHING and event in ("open", "os.rename"):
        _WATCHING[-1].append((event, *map(str, args[:2])))


sys.addaudithook(_audit)


def _files_touched(action) -> list[tuple[str, str]]:
    _WATCHING.append([])
    try:
        action()
    finally:
        touched = _WATCHING.pop()
    return touched


def test_the_endpoints_file_appears_whole_and_is_never_open_for_writing(tmp_path: Path) -> None:
    """A plain write creates the file empty and fills it after: a reader polling for it on a loaded machine read ''
    once in ~15 `make test` runs, failed all 43 tests on the shared runtime and left that runtime running."""
    endpoints = {"api_url": "http://127.0.0.1:1/dev", "stack_outputs": {"big": "x" * 100_000}}
    target = tmp_path / "state" / ENDPOINTS_FILE

    touched = _files_touched(lambda: publish_endpoints(tmp_path / "state", endpoints))

    written_in_place = [t for t in touched if t[0] == "open" and t[1] == str(target) and "r" not in t[2]]
    assert written_in_place == [], "the final path was opened for writing: a reader can see it partly written"
    assert [destination for event, _, destination in touched if event == "os.rename"] == [str(target)]
    assert json.loads(target.read_text()) == endpoints
    assert [p.name for p in target.parent.iterdir()] == [ENDPOINTS_FILE]  # nothing partial left behind


def test_publishing_again_replaces_what_a_reader_sees_in_one_step(tmp_path: Path) -> None:
    publish_endpoints(tmp_path, {"api_url": "old"})
    publish_endpoints(tmp_path, {"api_url": "new"})
    assert json.loads((tmp_path / ENDPOINTS_FILE).read_text()) == {"api_url": "new"}
    assert [p.name for p in tmp_path.iterdir()] == [ENDPOINTS_FILE]

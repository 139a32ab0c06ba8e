"""Program evaluations shared by the tests that only read the graph.

`run_stack` evaluates `__main__.py` once per (stack, overrides, preview) in a test session (about a second each,
and the suite asks for the same five configurations again and again); every caller gets its own deep copy, so a
test that changes what it got cannot change what the next one sees. Tests that patch the runtime or the program
(recording monitors, a modified `__main__.py`) call `offline.runtime.run_stack` itself.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from offline.runtime import ProgramRun
from offline.runtime import run_stack as evaluate

_RUNS: dict[tuple[str, str, bool], ProgramRun] = {}


def run_stack(stack: str, *, overrides: dict[str, Any] | None = None, preview: bool = True) -> ProgramRun:
    key = (stack, json.dumps(overrides or {}, sort_keys=True), preview)
    if key not in _RUNS:
        _RUNS[key] = evaluate(stack, overrides=overrides, preview=preview)  # a ConfigError is raised, never kept
    return copy.deepcopy(_RUNS[key])

"""Program evaluations shared by the tests that only read the graph.

`run_stack` evaluates `__main__.py` once per (stack, overrides, preview) in a test run (about a second each, and
the suite asks for the same few configurations again and again); every caller gets its own copy, so a test that
changes what it got cannot change what the next one sees. Under pytest-xdist the workers share them too: the first
worker to need a configuration evaluates it and leaves it (pickled) in the run's directory (`EVALUATIONS`, made by
the controller, tests/conftest.py), where the others load it instead of evaluating it again. Tests that patch the
runtime or the program (recording monitors, a modified `__main__.py`) call `offline.runtime.run_stack` itself.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from offline.runtime import ProgramRun
from offline.runtime import run_stack as evaluate

EVALUATIONS = "SECURE_SERVERLESS_EVALUATIONS"  # the directory the workers of one run share

_RUNS: dict[tuple[str, str, bool], bytes] = {}


@contextlib.contextmanager
def _shared(key: tuple[str, str, bool]) -> Iterator[Path | None]:
    """The file of this configuration in the run's directory, held under an exclusive lock (no directory: None)."""
    directory = os.environ.get(EVALUATIONS)
    if not directory:
        yield None
        return
    import fcntl

    path = Path(directory) / (hashlib.sha256(json.dumps(key).encode()).hexdigest()[:32] + ".pickle")
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another worker evaluating it: wait, then load what it left
        yield path


def run_stack(stack: str, *, overrides: dict[str, Any] | None = None, preview: bool = True) -> ProgramRun:
    key = (stack, json.dumps(overrides or {}, sort_keys=True), preview)
    if key not in _RUNS:
        with _shared(key) as path:
            if path is not None and path.exists():
                _RUNS[key] = path.read_bytes()
            else:
                # A ConfigError is raised, never kept.
                _RUNS[key] = pickle.dumps(evaluate(stack, overrides=overrides, preview=preview), pickle.HIGHEST_PROTOCOL)
                if path is not None:
                    partial = path.with_suffix(f".{os.getpid()}")
                    partial.write_bytes(_RUNS[key])
                    partial.replace(path)
    # A copy per caller (unpickling is about twice as fast as copy.deepcopy of the run).
    return pickle.loads(_RUNS[key])  # noqa: S301 - written by this test run

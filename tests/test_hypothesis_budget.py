"""The Hypothesis profiles: what a developer's `make test` and CI each run, and a clear error for a bad name."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from offline.runtime import REPO_ROOT
from tests.hypothesis_budget import PROFILE, SCALES, examples

# A property test with a stated budget and one without, counting the examples they run.
COUNTED = r'''
import json, sys
sys.path.insert(0, sys.argv[1])
import tests.hypothesis_budget
from hypothesis import given, settings, strategies as st
from tests.hypothesis_budget import examples
runs = {"stated": 0, "default": 0}
@settings(max_examples=examples(200), database=None)
@given(st.integers())
def stated(n):
    runs["stated"] += 1
@settings(database=None)
@given(st.integers())
def default(n):
    runs["default"] += 1
stated()
default()
print(json.dumps(runs))
'''


def _run(profile: str | None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "HYPOTHESIS_PROFILE"}
    if profile is not None:
        env["HYPOTHESIS_PROFILE"] = profile
    return subprocess.run([sys.executable, "-c", COUNTED, str(REPO_ROOT)], capture_output=True, text=True,
                          timeout=120, env=env, check=False)


@pytest.mark.parametrize(("profile", "stated", "default"), [(None, 50, 25), ("dev", 50, 25), ("ci", 200, 100)])
def test_each_profile_runs_its_share_of_every_budget(profile, stated, default) -> None:
    done = _run(profile)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == f'{{"stated": {stated}, "default": {default}}}'


def test_an_unknown_profile_stops_the_run_naming_the_variable() -> None:
    done = _run("thorough")
    assert done.returncode != 0
    assert "HYPOTHESIS_PROFILE='thorough' is not a profile of this suite: use one of ['ci', 'dev']" in done.stderr


def test_small_budgets_keep_at_least_ten_examples_and_ci_keeps_each_budget_whole() -> None:
    assert [examples(b, "dev") for b in (20, 40, 60, 100, 150, 300)] == [10, 10, 15, 25, 38, 75]
    assert [examples(b, "ci") for b in (20, 40, 60, 100, 150, 300)] == [20, 40, 60, 100, 150, 300]


def test_this_run_loaded_its_profile_before_any_test_module() -> None:
    assert PROFILE in SCALES
    assert settings.default.max_examples == examples(100)


def test_a_slow_example_or_slow_generation_is_not_a_failure() -> None:
    """The load of the machine decides how long an example waits for a core (tests/hypothesis_budget.py)."""
    slow_draws = st.integers().map(lambda n: (time.sleep(0.4), n)[1])

    @settings(max_examples=2, database=None)  # the profile's timing: no deadline
    @given(slow_draws)
    def slow(n: int) -> None:
        time.sleep(0.3)  # over the 200 ms deadline Hypothesis has by default

    @settings(max_examples=5, database=None)
    @given(slow_draws)
    def slowly_generated(n: int) -> None:
        pass  # the inputs alone take over the 1 s Hypothesis allows with its default deadline

    slow()
    slowly_generated()

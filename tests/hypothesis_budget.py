"""How many examples each property test runs, by Hypothesis profile (`HYPOTHESIS_PROFILE`, default `dev`).

A test states its budget once, `@settings(max_examples=examples(150))`; a test that states none has 100.
- `dev`, what `make test` runs on a developer's machine: a quarter of each budget (at least 10), so the whole
  suite answers in about a minute and a half on two cores.
- `ci`, what `.ci/run` runs before anything lands: each budget in full.
`make test HYPOTHESIS_PROFILE=ci` runs exactly what CI runs. Either way, a failing example is kept in
`.hypothesis/` and replayed first by every later run on that machine, whatever the profile.

Neither profile has a deadline. On two cores busy with three workers and the local runtime, an example can wait
for a core for a second: a 200 ms deadline (and the 1 s budget for generating inputs that Hypothesis derives from
it) then failed a test for the machine's load, not for the code. Without one, Hypothesis still fails a test whose
inputs take over 30 s to generate. What is slow is measured by the benchmarks, not timed by tests.
"""

from __future__ import annotations

import os

from hypothesis import settings

SCALES = {"dev": 0.25, "ci": 1.0}
DEFAULT_BUDGET = 100  # Hypothesis's own default

PROFILE = os.environ.get("HYPOTHESIS_PROFILE") or "dev"
if PROFILE not in SCALES:
    raise RuntimeError(f"HYPOTHESIS_PROFILE={PROFILE!r} is not a profile of this suite: use one of {sorted(SCALES)}")


def examples(budget: int, profile: str = PROFILE) -> int:
    """The examples a test with this budget runs under `profile`."""
    return max(10, round(budget * SCALES[profile]))


for _name in SCALES:
    settings.register_profile(_name, max_examples=examples(DEFAULT_BUDGET, _name), deadline=None)
settings.load_profile(PROFILE)

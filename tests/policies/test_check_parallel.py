"""`make preview` checks the stacks in forked children (policies/check.py `_parallel`): the same reports in the
same order as one by one, and a failing evaluation still ends in one `error:` line and exit 2. Run in a fresh
interpreter: forking the test process (threads, open sockets) is not what the command does."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from offline.runtime import REPO_ROOT

SCRIPT = r'''
import contextlib, io, json, os, sys
import policies.check as check
from offline.runtime import ProgramRun, RecordedResource
from policies.guard.adapters import from_program_run

def graph(name):
    def load():
        if name == "broken":
            raise RuntimeError("boom in " + name)
        kind, own = "aws:s3/bucketV2:BucketV2", f"b{os.getpid()}"  # the process that evaluated it
        bucket = RecordedResource(urn=f"urn:pulumi:{name}::p::{kind}::{own}", type=kind, name=own, custom=True,
                                  id=own, inputs={}, outputs={}, parent=None, dependencies=(), property_dependencies={})
        return from_program_run(ProgramRun(project="p", stack=name, resources=[bucket]))
    return load

forked = []
original = check._parallel
check._parallel = lambda targets: forked.append(len(targets)) or original(targets)
for scenario in sys.argv[1:]:
    names = scenario.split(",")
    check._targets = lambda args, names=names: [(f"stack {n}", graph(n), None) for n in names]
    out, err = io.StringIO(), io.StringIO()
    forked.clear()
    with contextlib.redirect_stderr(err):
        code = check.main(["--all-stacks", "--json"], out=out)
    print(json.dumps({"code": code, "forked": list(forked), "pid": os.getpid(), "cores": len(os.sched_getaffinity(0)),
                      "out": out.getvalue(), "err": err.getvalue()}))
'''


@pytest.fixture(scope="module")
def outcomes() -> dict[str, dict]:
    scenarios = ["one,two,three", "one,broken"]
    done = subprocess.run([sys.executable, "-c", SCRIPT, *scenarios], cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return dict(zip(scenarios, map(json.loads, done.stdout.strip().splitlines()[-len(scenarios):]), strict=True))


def test_stacks_are_checked_in_children_and_reported_in_order(outcomes) -> None:
    result = outcomes["one,two,three"]
    assert (result["code"], result["forked"]) == (0, [3])
    report = json.loads(result["out"])
    assert [r["label"] for r in report["reports"]] == ["stack one", "stack two", "stack three"]
    pids = {int(next(iter(r["components"])).rsplit(" b", 1)[1]) for r in report["reports"]}
    if result["cores"] > 1:
        assert len(pids) == 3 and result["pid"] not in pids  # one child per stack
    else:
        assert pids == {result["pid"]}  # one core: checked here, one by one


def test_a_failing_evaluation_in_a_child_is_one_error_line_and_exit_2(outcomes) -> None:
    result = outcomes["one,broken"]
    assert result["code"] == 2
    assert result["err"].strip().splitlines() == ["error: the program failed under mocks (RuntimeError: boom in broken)"]

"""`make preview` checks the stacks in forked children (policies/check.py `_parallel`): the same reports in the
same order as one by one, and a failing evaluation still ends in one `error:` line and exit 2. Run in fresh
interpreters: forking the test process (threads, open sockets) is not what the command does."""

from __future__ import annotations

import json
import subprocess
import sys

from offline.runtime import REPO_ROOT

SCRIPT = r'''
import json, os, sys
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

names = sys.argv[1].split(",")
check._targets = lambda args: [(f"stack {n}", graph(n), None) for n in names]
forked = []
original = check._parallel
check._parallel = lambda targets: forked.append(len(targets)) or original(targets)
code = check.main(["--all-stacks", "--json"])
print("RESULT " + json.dumps({"code": code, "forked": forked, "pid": os.getpid(),
                              "cores": len(os.sched_getaffinity(0))}))
'''


def _run(names: str) -> tuple[dict, str, str]:
    done = subprocess.run([sys.executable, "-c", SCRIPT, names], cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=120)
    result = next(line for line in done.stdout.splitlines() if line.startswith("RESULT "))
    return json.loads(result[len("RESULT "):]), done.stdout, done.stderr


def test_stacks_are_checked_in_children_and_reported_in_order() -> None:
    result, out, _ = _run("one,two,three")
    assert (result["code"], result["forked"]) == (0, [3])
    report = json.loads(out[: out.index("RESULT ")])
    assert [r["label"] for r in report["reports"]] == ["stack one", "stack two", "stack three"]
    pids = {int(next(iter(r["components"])).rsplit(" b", 1)[1]) for r in report["reports"]}
    if result["cores"] > 1:
        assert len(pids) == 3 and result["pid"] not in pids  # one child per stack
    else:
        assert pids == {result["pid"]}  # one core: checked here, one by one


def test_a_failing_evaluation_in_a_child_is_one_error_line_and_exit_2() -> None:
    result, _, err = _run("one,broken")
    assert result["code"] == 2
    assert err.strip().splitlines()[-1] == "error: the program failed under mocks (RuntimeError: boom in broken)"

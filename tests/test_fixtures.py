"""The shared test machinery itself: the session-wide moto mock really resets, and shared program evaluations
are evaluated once per configuration and never shared by reference."""

from __future__ import annotations

import boto3
import pytest

from tests import evaluations

# Two tests compare boto3 sessions across tests: under xdist they must share a worker.
pytestmark = pytest.mark.xdist_group("tests/test_fixtures.py")

_SESSIONS: list[object] = []


@pytest.mark.parametrize("round_", [1, 2])
def test_the_aws_fixture_resets_every_backend_but_keeps_the_boto3_session(aws: None, round_: int) -> None:
    """Two tests, in either order: the second sees nothing the first created, through the same boto3 session."""
    s3, sqs = boto3.client("s3"), boto3.client("sqs")
    assert s3.list_buckets()["Buckets"] == [] and "QueueUrls" not in sqs.list_queues()
    s3.create_bucket(Bucket="left-behind")
    sqs.create_queue(QueueName="left-behind")
    _SESSIONS.append(boto3.DEFAULT_SESSION)
    if len(_SESSIONS) == 2:  # whichever round runs second (a shuffled order runs round 2 first)
        assert _SESSIONS[0] is _SESSIONS[1] is not None


def test_evaluations_are_cached_per_configuration_and_copied(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple] = []
    fake_run = object()

    def evaluate(stack, *, overrides=None, preview=True):
        calls.append((stack, overrides, preview))
        return {"stack": stack, "overrides": overrides, "resources": [fake_run]}

    monkeypatch.setattr(evaluations, "evaluate", evaluate)
    monkeypatch.setattr(evaluations, "_RUNS", {})
    monkeypatch.delenv(evaluations.EVALUATIONS, raising=False)  # this process only: never the run's shared ones
    first = evaluations.run_stack("dev", overrides={"b": 1, "a": 2})
    first["resources"].clear()  # a test that changes its copy...
    again = evaluations.run_stack("dev", overrides={"a": 2, "b": 1})
    assert len(again["resources"]) == 1  # ...changes nothing for the next one
    evaluations.run_stack("dev", preview=False)  # `pulumi up`, a configuration of its own
    evaluations.run_stack("prod")  # a preview by default, like offline.runtime.run_stack
    assert calls == [("dev", {"b": 1, "a": 2}, True), ("dev", None, False), ("prod", None, True)]


# A process where boto3's default session exists before moto is first imported: what a local-runtime test
# (tests/local, boto3.client against the runtime's endpoint) left behind when it ran before the handler tests.
# Name resolution is refused, so a client that escapes the mock fails here instead of reaching AWS.
_SESSION_BEFORE_MOTO = r'''
import socket, sys
def refuse(*args, **kwargs):
    raise OSError("a mocked test tried to resolve a real host")
socket.getaddrinfo = refuse
sys.modules.pop("moto", None)
import boto3
boto3.client("sts", endpoint_url="http://127.0.0.1:9")  # builds boto3's default session
assert not any(name == "moto" or name.startswith("moto.") for name in sys.modules)
from tests.conftest import mocked_aws
with mocked_aws():
    boto3.client("s3").create_bucket(Bucket="isolated")
    print(boto3.client("s3").list_buckets()["Buckets"][0]["Name"])
'''


def test_the_aws_fixture_intercepts_clients_of_a_default_session_made_before_moto_was_imported() -> None:
    import subprocess
    import sys

    from offline.runtime import REPO_ROOT

    out = subprocess.run([sys.executable, "-c", _SESSION_BEFORE_MOTO], cwd=REPO_ROOT, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.split() == ["isolated"]


def test_xdist_workers_share_evaluations_through_the_runs_directory(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    """The first worker to need a configuration evaluates it; another one loads it instead of evaluating it."""
    calls: list[str] = []

    def evaluate_as(worker):
        def evaluate(stack, *, overrides=None, preview=True):
            calls.append(worker)
            return {"stack": stack, "by": worker}
        return evaluate

    monkeypatch.setenv(evaluations.EVALUATIONS, str(tmp_path))
    monkeypatch.setattr(evaluations, "_RUNS", {})
    monkeypatch.setattr(evaluations, "evaluate", evaluate_as("gw0"))
    assert evaluations.run_stack("dev")["by"] == "gw0"
    monkeypatch.setattr(evaluations, "_RUNS", {})  # another process: nothing in memory
    monkeypatch.setattr(evaluations, "evaluate", evaluate_as("gw1"))
    assert evaluations.run_stack("dev")["by"] == "gw0"
    assert evaluations.run_stack("prod")["by"] == "gw1"  # another configuration: evaluated where first needed
    assert calls == ["gw0", "gw1"]

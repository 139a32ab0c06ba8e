"""The shared test machinery itself: the session-wide moto mock really resets, and shared program evaluations
are evaluated once per configuration and never shared by reference."""

from __future__ import annotations

import boto3
import pytest

from tests import evaluations

_SESSIONS: list[object] = []


@pytest.mark.parametrize("round_", [1, 2])
def test_the_aws_fixture_resets_every_backend_but_keeps_the_boto3_session(aws: None, round_: int) -> None:
    """Two tests in a row: the second sees nothing the first created, through the same boto3 session."""
    s3, sqs = boto3.client("s3"), boto3.client("sqs")
    assert s3.list_buckets()["Buckets"] == [] and "QueueUrls" not in sqs.list_queues()
    s3.create_bucket(Bucket="left-behind")
    sqs.create_queue(QueueName="left-behind")
    _SESSIONS.append(boto3.DEFAULT_SESSION)
    if round_ == 2:
        assert _SESSIONS[0] is _SESSIONS[1] is not None


def test_evaluations_are_cached_per_configuration_and_copied(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple] = []
    fake_run = object()

    def evaluate(stack, *, overrides=None, preview=True):
        calls.append((stack, overrides, preview))
        return {"stack": stack, "overrides": overrides, "resources": [fake_run]}

    monkeypatch.setattr(evaluations, "evaluate", evaluate)
    monkeypatch.setattr(evaluations, "_RUNS", {})
    first = evaluations.run_stack("dev", overrides={"b": 1, "a": 2})
    first["resources"].clear()  # a test that changes its copy...
    again = evaluations.run_stack("dev", overrides={"a": 2, "b": 1})
    assert len(again["resources"]) == 1  # ...changes nothing for the next one
    evaluations.run_stack("dev", preview=False)  # `pulumi up`, a configuration of its own
    evaluations.run_stack("prod")  # a preview by default, like offline.runtime.run_stack
    assert calls == [("dev", {"b": 1, "a": 2}, True), ("dev", None, False), ("prod", None, True)]

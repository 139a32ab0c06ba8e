"""offline/stack_trace.py sends the engine exactly the stack trace the Pulumi SDK would, for every registration."""

from __future__ import annotations

import pytest
from pulumi.runtime import resource as sdk_resource
from pulumi.runtime.proto import source_pb2

from offline import stack_trace
from offline.runtime import REPO_ROOT, run_stack


@pytest.fixture
def both_traces(monkeypatch: pytest.MonkeyPatch) -> list[tuple[source_pb2.StackTrace, source_pb2.StackTrace]]:
    """Every registration computes both traces at the same call site (the SDK's answer is the one used)."""
    pairs = []
    fast = stack_trace.stack_trace

    def both() -> source_pb2.StackTrace:
        ours, theirs = fast(), stack_trace.SDK_STACK_TRACE()
        pairs.append((ours, theirs))
        return theirs

    monkeypatch.setattr(stack_trace, "stack_trace", both)  # what run_program installs
    monkeypatch.setattr(sdk_resource, "_get_stack_trace", both)
    return pairs


def test_every_registration_of_a_stack_gets_the_sdks_own_trace(both_traces) -> None:
    registered = len(run_stack("dev").resources)
    assert registered > 300 and len(both_traces) >= registered
    differing = [(ours, theirs) for ours, theirs in both_traces if ours != theirs]
    assert not differing, differing[0]
    # Not a comparison of empty traces: the program's own files are on them, as the engine shows them.
    program = (REPO_ROOT / "components").as_uri()
    assert sum(any(f.pc.uri.startswith(program) for f in theirs.frames) for _, theirs in both_traces) > 300


def test_outside_a_resource_constructor_the_trace_is_empty_like_the_sdks() -> None:
    assert stack_trace.stack_trace() == stack_trace.SDK_STACK_TRACE() == source_pb2.StackTrace()


def test_run_program_installs_it() -> None:
    run_stack("local")
    assert sdk_resource._get_stack_trace is stack_trace.stack_trace  # noqa: SLF001

"""Issue 9, finding 9: the account id is looked up once per stack (each lookup is a provider round trip in a
real preview) and passed down to every component that needs it."""

from __future__ import annotations

import runpy

import pytest

from offline.runtime import REPO_ROOT

CALLER_IDENTITY = "aws:index/getCallerIdentity:getCallerIdentity"


@pytest.mark.parametrize("stack", ["dev", "prod", "local"])
def test_one_caller_identity_lookup_per_stack(stack, evaluate_stack) -> None:
    lookups = [token for token, _args in evaluate_stack(stack).invokes if token == CALLER_IDENTITY]
    assert len(lookups) == 1, f"{len(lookups)} getCallerIdentity invokes on {stack}"


def test_a_config_error_stops_the_program_before_the_lookup(run_pulumi, recording_mocks) -> None:
    from components.settings import ConfigError

    program = lambda: runpy.run_path(str(REPO_ROOT / "__main__.py"), run_name="__pulumi_program__")  # noqa: E731
    with pytest.raises(ConfigError, match="ordersBatchSize"):
        run_pulumi(program, config={"ordersFifo": True, "ordersBatchSize": 11})
    assert [call.token for call in recording_mocks.invokes] == []
    assert recording_mocks.registrations == []

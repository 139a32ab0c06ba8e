"""Every function logs in Lambda's JSON format: DEBUG and up outside production, INFO and up in production, and
the platform's own records (platform.report, read by the saved queries) always kept."""

from __future__ import annotations

import pytest

from tests.evaluations import run_stack
from tests.graph import FUNCTION


@pytest.mark.parametrize(("stack", "level"), [("dev", "DEBUG"), ("local", "DEBUG"), ("prod", "INFO")])
def test_every_function_logs_json_at_the_stacks_level(stack: str, level: str) -> None:
    run = run_stack(stack)
    functions = run.of_type(FUNCTION)
    assert len(functions) == 22  # with registration-confirm and profiles-upsert/get/welcome
    for fn in functions:
        config = fn.inputs["loggingConfig"]
        assert (config["logFormat"], config["applicationLogLevel"], config["systemLogLevel"]) == ("JSON", level, "INFO")
        assert config["logGroup"] == f"/aws/lambda/{fn.inputs['name']}"

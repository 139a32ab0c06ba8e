"""A Lambda worker imports only its archive, the standard library and the Lambda runtime's boto3."""

from __future__ import annotations

from pathlib import Path

from offline.local.graph import FunctionSpec
from offline.local.lambdas import LocalFunction


def _function(tmp_path: Path, source: str, timeout: int = 5) -> LocalFunction:
    code = tmp_path / "fn"
    (code / "pkg").mkdir(parents=True)
    (code / "pkg" / "__init__.py").write_text("")
    (code / "pkg" / "main.py").write_text(source)
    spec = FunctionSpec(name="fn", arn="arn:aws:lambda:us-east-1:123456789012:function:fn", handler="pkg.main.handler",
                        runtime="python3.12", role_arn="", timeout=timeout, memory=128, environment={},
                        files=("pkg/__init__.py", "pkg/main.py"), reserved_concurrency=None)
    return LocalFunction(spec, {"GREETING": "hi"}, code, log=lambda _: None)


def test_boto3_and_the_environment_are_there(tmp_path: Path) -> None:
    fn = _function(tmp_path, "import os, boto3\ndef handler(e, c):\n"
                             "    return {'greeting': os.environ['GREETING'], 'left': c.get_remaining_time_in_millis() > 0}")
    try:
        result = fn.invoke({})
        assert result.ok, result.payload
        assert result.payload == {"greeting": "hi", "left": True}
    finally:
        fn.stop()


def test_packages_outside_the_archive_and_the_runtime_are_not_importable(tmp_path: Path) -> None:
    # PyYAML, pulumi and the repository itself are installed here, but not in the Lambda runtime.
    for module in ("yaml", "pulumi", "offline", "handlers"):
        fn = _function(tmp_path / module, f"import {module}\ndef handler(e, c):\n    return 1")
        try:
            result = fn.invoke({})
            assert not result.ok and result.payload["errorType"] == "ModuleNotFoundError", (module, result.payload)
        finally:
            fn.stop()


def test_timeout_kills_the_worker_and_the_next_call_is_a_cold_start(tmp_path: Path) -> None:
    fn = _function(tmp_path, "import time, os\ndef handler(e, c):\n    time.sleep(e['sleep'])\n    return os.getpid()",
                   timeout=1)
    try:
        timed_out = fn.invoke({"sleep": 3})
        assert timed_out.error_type == "Timeout"
        first = fn.invoke({"sleep": 0})
        second = fn.invoke({"sleep": 0})
        assert first.ok and first.payload == second.payload  # warm after the cold start
    finally:
        fn.stop()

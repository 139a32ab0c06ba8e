"""One local runtime (`python -m offline.local`) per test session, driven over real HTTP like a user would.

How these tests stay fast (and how a new one fits in):

- One shared runtime. A test that takes the `local` fixture (directly or through `user`) runs against the one
  runtime of its process. Collection moves all such tests to the front and marks them
  `xdist_group("local-runtime")`: under `make test` (pytest-xdist, `--dist loadgroup`) they run on a single
  worker, so the runtime starts once per run, while the other workers run the CPU-bound tests. A test that needs
  a runtime of its own (other stack, signals) calls `start_runtime` itself and runs on any worker.
- Scaled time. The runtime runs with `--time-scale TIME_SCALE`: visibility timeouts (never below SQS's 1 s),
  async retry delays, batching windows and schedules are that fraction of the stack's values. Wait on what a
  test can observe (`wait_for` on counters, queues, the mailbox, an HTTP answer), never a fixed sleep.
- Counters. `/__local/stats` (`Local.stats()`, `Local.count()`) counts per function what the runtime did:
  `<fn>.invocations`, `<fn>.errors`, `<fn>.*_denied` (a call the runtime made with the function's role was
  refused), `role:<role>.iam_denied` (any request signed with that role refused by IAM, handler calls included),
  `poll:<kind>:<fn>.polls` (a poller began a poll).
- The least-privilege matrix (test_least_privilege.py) removes each statement of each principal's role and
  expects a flow of tests/local/flows.py to fail or the principal to be refused. It schedules removals
  concurrently on principals that no single flow uses together (each flow's principals come from the baseline's
  invocation counters), and a flow's waits (`flows._until`) end as soon as the principal under test is refused.
  A new flow is one function `(local, patience) -> None | reason` in `FLOWS` that waits only through `_until`;
  a new function, state machine or statement needs no change to the matrix. `LOCAL_LP_MATRIX=0` skips it.
"""

from __future__ import annotations

import functools
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import boto3
import pytest
import requests
from requests.adapters import HTTPAdapter

from offline.runtime import REPO_ROOT

# Visibility timeouts and async retry delays scaled down so redelivery and DLQ paths run in seconds: at 0.005 the
# orders queue's 180 s visibility timeout becomes SQS's minimum of 1 s, Lambda's 60 s / 120 s async retry delays
# 0.3 s / 0.6 s.
TIME_SCALE = 0.005
RUNTIME_GROUP = "local-runtime"  # the xdist group of every test on the shared runtime
PASSWORD = "MySecurePass123!"  # noqa: S105 - the seed's test password


class Local:
    def __init__(self, endpoints: dict[str, Any], log: Path):
        self.endpoints = endpoints
        self.api = endpoints["api_url"]
        self.aws = endpoints["aws_endpoint_url"]
        self.region = endpoints["region"]
        self.pool_id = endpoints["user_pool_id"]
        self.client_id = endpoints["user_pool_client_id"]
        self.outputs = endpoints["stack_outputs"]
        self.log = log
        self.processes_when_ready: list[int] = []
        # A session of our own, not boto3's default one (the handler tests' moto mock owns that), and one client per
        # service: building a client costs tens of milliseconds, and the matrix calls from several threads
        # (botocore clients are thread-safe; building them from one session is not, hence the lock).
        self._session = boto3.session.Session()
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    def client(self, service: str) -> Any:
        with self._lock:
            if service not in self._clients:
                self._clients[service] = self._session.client(
                    service, endpoint_url=self.aws, region_name=self.region,
                    aws_access_key_id=self.endpoints["aws_access_key_id"],
                    aws_secret_access_key=self.endpoints["aws_secret_access_key"])
            return self._clients[service]

    def stats(self) -> dict[str, int]:
        return requests.get(self.api.rsplit("/", 1)[0] + "/__local/stats", timeout=5).json()["counters"]

    def count(self, key: str) -> int:
        return self.stats().get(key, 0)

    def fault(self, function: str, delay: float = 0, error: str | None = None, timeout: float | None = None) -> None:
        """Inject a delay or an error into a function (and shorten its timeout); no arguments clear it."""
        requests.post(self.api.rsplit("/", 1)[0] + "/__local/faults",
                      json={"function": function, "delay": delay, "error": error, "timeout": timeout},
                      timeout=5).raise_for_status()

    def ses_messages(self) -> list[dict[str, Any]]:
        """What moto's SES accepted (the runtime's local mailbox)."""
        return requests.get(self.api.rsplit("/", 1)[0] + "/__local/ses/sent", timeout=5).json()

    def function(self, suffix: str) -> str:
        """The deployed name of the function whose name ends with `suffix` (names are the graph's)."""
        matches = [n for n in self.endpoints["functions"] if n.endswith(suffix)]
        assert len(matches) == 1, (suffix, matches)
        return matches[0]

    def sign_in(self, email: str | None = None) -> dict[str, str]:
        email = email or f"user-{uuid.uuid4().hex[:8]}@example.com"
        idp = self.client("cognito-idp")
        idp.admin_create_user(UserPoolId=self.pool_id, Username=email, MessageAction="SUPPRESS",
                              TemporaryPassword="TempPass123!",  # noqa: S106
                              UserAttributes=[{"Name": "email", "Value": email},
                                              {"Name": "email_verified", "Value": "true"}])
        idp.admin_set_user_password(UserPoolId=self.pool_id, Username=email, Password=PASSWORD, Permanent=True)
        return self.tokens(email, PASSWORD)

    def tokens(self, email: str, password: str) -> dict[str, str]:
        result = self.client("cognito-idp").initiate_auth(
            AuthFlow="USER_PASSWORD_AUTH", ClientId=self.client_id,
            AuthParameters={"USERNAME": email, "PASSWORD": password})["AuthenticationResult"]
        return {**result, "email": email}

    @property
    def api_key(self) -> str | None:
        """The usage plan's key (the stack's secret `api_key_value` output), None when the plan is off."""
        return self.outputs.get("api_key_value")

    def call(self, method: str, path: str, token: str | None = None, *, api_key: bool = True,
             client_ip: str = "127.0.0.1", **kwargs: Any) -> requests.Response:
        """A request like a client of the stack makes: with the `x-api-key` header when the stack has a key, from
        `client_ip` (the gateway's `sourceIp`, which per-IP limits count; see `client_address`)."""
        headers = dict(kwargs.pop("headers", {}) or {})
        if api_key and self.api_key:
            headers.setdefault("x-api-key", self.api_key)
        if token:
            headers["Authorization"] = f"Bearer {token}"
        with requests.Session() as session:
            session.mount("http://", _FromAddress(client_ip))
            return session.request(method, self.api + path, headers=headers, timeout=30, **kwargs)


class _FromAddress(HTTPAdapter):
    """Connections bound to one local source address: the runtime's `sourceIp` is the peer address, as on AWS
    (a client's own `X-Forwarded-For` does not change it)."""

    def __init__(self, address: str):
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kwargs)


_CLIENTS = itertools.count(1)


def client_address() -> str:
    """A loopback address no other client of this session used: one per simulated user. The sign-up limits allow
    20 registrations per source IP per hour, as on AWS, and the least-privilege matrix alone signs up more often
    than that; real users come from addresses of their own. Where only 127.0.0.1 exists (macOS without
    `ifconfig lo0 alias`), every client shares it and a long session can meet that limit (429)."""
    if not _loopback_aliases():
        return "127.0.0.1"
    high, low = divmod(next(_CLIENTS), 254)  # next() is atomic under the GIL: the matrix signs up from threads
    return f"127.{high >> 8 & 255}.{high & 255}.{low + 1}"


@functools.cache
def _loopback_aliases() -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.2", 0))
        except OSError:
            return False
    return True


def wait_for(predicate: Callable[[], Any], timeout: float = 20, interval: float = 0.2, what: str = "") -> Any:
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what or predicate}")


def run_fresh(script: str, *, with_keys: bool = False) -> dict:
    """Run `script` in a fresh interpreter at the repository root; what its last line printed, as JSON."""
    env = {"PATH": "/usr/bin:/bin"}
    if with_keys:
        env |= {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    out = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
                         env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def start_runtime(state_dir: Path, stack: str = "dev", time_scale: float = TIME_SCALE) -> tuple[subprocess.Popen, dict]:
    log = state_dir / "runtime.log"
    endpoints_file = state_dir / "endpoints.json"
    with log.open("w") as out:  # the runtime has its own copy
        process = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "offline.local", "--stack", stack, "--time-scale", str(time_scale),
             "--state-dir", str(state_dir)],
            cwd=REPO_ROOT, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        deadline = time.time() + 60
        while not endpoints_file.exists():
            if process.poll() is not None or time.time() > deadline:
                raise RuntimeError("local runtime did not start:\n" + log.read_text()[-4000:])
            time.sleep(0.1)
        return process, json.loads(endpoints_file.read_text())
    except BaseException:
        # Whatever failed, the runtime must not outlive it: one left running kept a few percent of a core busy, with
        # its pollers, through every later run on the machine. Its workers see their stdin close and exit.
        process.kill()
        process.wait()
        raise


def stop_runtime(process: subprocess.Popen, sig: signal.Signals = signal.SIGTERM) -> int:
    process.send_signal(sig)
    try:
        return process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.kill(process.pid, signal.SIGUSR1)  # its log gets every thread's stack; then never leave it behind
        time.sleep(1)
        process.kill()  # its workers see their stdin close and exit
        raise


def listening(url: str) -> bool:
    parsed = urlparse(url)
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((parsed.hostname, parsed.port)) == 0


def processes_using(state_dir: Path) -> list[int]:
    """Every process (runtime or worker) whose command line names this runtime's state directory."""
    pids = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if str(state_dir) in (proc / "cmdline").read_bytes().decode(errors="replace"):
                    pids.append(int(proc.name))
            except OSError:
                continue
    return pids


def unclean_stop(code: int, state_dir: Path, endpoints: dict[str, Any], grace: float = 5.0) -> list[str]:
    """What a stopped runtime left behind or got wrong: its exit code, processes, listening ports, its last words."""
    deadline = time.time() + grace
    while processes_using(state_dir) and time.time() < deadline:
        time.sleep(0.1)
    problems = [f"exit code {code}"] if code != 0 else []
    if left := processes_using(state_dir):
        problems.append(f"processes left running: {left}")
    problems += [f"{url} still listening" for url in (endpoints["api_url"], endpoints["aws_endpoint_url"])
                 if listening(url)]
    if "local runtime stopped" not in (state_dir / "runtime.log").read_text():
        problems.append("no 'local runtime stopped' in its log")
    return problems


# The session's runtime while it runs: (process, state directory, endpoints).
_SHARED_RUNTIME: list[tuple[subprocess.Popen, Path, dict[str, Any]]] = []


@pytest.fixture(scope="session")
def local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Local]:
    state_dir = tmp_path_factory.mktemp("dev")
    process, endpoints = start_runtime(state_dir)
    _SHARED_RUNTIME.append((process, state_dir, endpoints))
    try:
        local = Local(endpoints, state_dir / "runtime.log")
        local.processes_when_ready = processes_using(state_dir)  # a timeout kills a worker later (a cold start follows)
        yield local
    finally:
        _stop_shared_runtime()


def _stop_shared_runtime() -> None:
    """Stopped as a developer stops `make dev`, with Ctrl-C (SIGINT), and checked for everything a stop can leave
    behind (`unclean_stop`). SIGTERM takes the same path (test_lifecycle shows it on `python -m offline.local`
    itself); a runtime of its own for it cost ~10 CPU-seconds of a two-core `make test`."""
    while _SHARED_RUNTIME:
        process, state_dir, endpoints = _SHARED_RUNTIME.pop()
        problems = unclean_stop(stop_runtime(process, signal.SIGINT), state_dir, endpoints)
        assert not problems, f"the shared runtime did not stop cleanly on SIGINT: {problems}\n" + (
            state_dir / "runtime.log").read_text()[-4000:]


def _uses_runtime(item: pytest.Item) -> bool:
    return "local" in getattr(item, "fixturenames", ())


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """Stop the shared runtime after the last test that uses it, not at the end of the session: idle, its pollers
    alone kept ~7% of a core busy while the other tests ran."""
    if _SHARED_RUNTIME and _uses_runtime(item) and not any(map(_uses_runtime, _after(item))):
        _stop_shared_runtime()


def _after(item: pytest.Item) -> list[pytest.Item]:
    items = item.session.items
    return items[items.index(item) + 1:] if item in items else []


@pytest.fixture(scope="session")
def user(local: Local) -> dict[str, str]:
    return local.sign_in()


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests on the shared runtime first and as one xdist group: the runtime starts once, on one worker.
    (tryfirst: xdist reads the groups in its own pytest_collection_modifyitems; any other group is replaced.)"""
    shared = [item for item in items if _uses_runtime(item)]
    for item in shared:
        item.own_markers[:] = [m for m in item.own_markers if m.name != "xdist_group"]
        item.add_marker(pytest.mark.xdist_group(RUNTIME_GROUP))
    chosen = set(map(id, shared))
    items[:] = shared + [item for item in items if id(item) not in chosen]

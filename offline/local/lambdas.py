"""Lambda without Docker: one warm worker process per function, with exactly that function's world.

Each worker gets the function's environment from the graph (mock identifiers rewritten), the STS session
credentials of the function's own role, AWS_ENDPOINT_URL pointing at moto, and a code directory holding only
the files of its archive. Invocations are serialised per worker (the concurrency cap, 1 unless the graph
reserves 0); a timeout kills the worker, and the next invocation starts a fresh one (a cold start).
"""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from offline.local.graph import FunctionSpec
from offline.runtime import REPO_ROOT

WORKER = Path(__file__).with_name("_worker.py")
# What the Lambda Python runtime provides besides the standard library (a function must ship anything else).
LAMBDA_RUNTIME_MODULES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six")


def runtime_packages(root: Path) -> Path:
    """A directory with links to the Lambda runtime's modules from this environment, and nothing else."""
    import importlib.util

    target = root / "lambda-runtime"
    target.mkdir(parents=True, exist_ok=True)
    for name in LAMBDA_RUNTIME_MODULES:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            continue
        origin = Path(spec.origin)
        source = origin.parent if origin.name == "__init__.py" else origin
        link = target / source.name
        if not link.exists():
            link.symlink_to(source)
    return target


@dataclass
class Invocation:
    ok: bool
    payload: Any
    error_type: str | None = None  # "Unhandled", "Timeout", "Throttled", "InitError"

    @property
    def function_error(self) -> bool:
        return not self.ok


class LocalFunction:
    def __init__(self, spec: FunctionSpec, env: dict[str, str], code_dir: Path, log: Callable[[str], None],
                 timeout_scale: float = 1.0, runtime_dir: Path | None = None):
        self.spec = spec
        self.env = env
        self.code_dir = code_dir
        self.runtime_dir = runtime_dir or runtime_packages(code_dir.parent)
        self.log = log
        self.timeout = spec.timeout * timeout_scale
        self._lock = threading.Lock()
        self._process: subprocess.Popen | None = None
        self._results: Any = None
        self.invocations = 0
        self.stopped = False
        self.ship_logs: Callable[[list[tuple[int, str]]], None] | None = None
        # Fault injection (tests, chaos by hand): a sleep before the handler, or an error instead of it.
        self.inject_delay = 0.0
        self.inject_error: str | None = None
        self.inject_error_type: str | None = None

    @property
    def short_name(self) -> str:
        return self.spec.name

    def _start(self) -> None:
        read_fd, write_fd = os.pipe()
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **self.env}
        self._process = subprocess.Popen(  # noqa: S603 - our own interpreter and worker
            [sys.executable, "-I", "-u", str(WORKER), str(self.code_dir), str(self.runtime_dir), self.spec.handler,
             str(write_fd)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, pass_fds=(write_fd,),
            env=env, text=True, start_new_session=True)
        os.close(write_fd)
        self._results = os.fdopen(read_fd, "r")
        threading.Thread(target=self._pump, args=(self._process,), daemon=True).start()

    def _pump(self, process: subprocess.Popen) -> None:
        try:
            self._pump_lines(process)
        except ValueError:
            pass  # _stop_process closed the pipe under us: the worker is gone, and so are its last lines

    def _pump_lines(self, process: subprocess.Popen) -> None:
        lines: list[tuple[int, str]] = []
        for line in process.stdout:  # type: ignore[union-attr]
            text = line.rstrip("\n")
            self.log(text)
            lines.append((int(time.time() * 1000), text))
            if text.startswith("END RequestId") and self.ship_logs is not None:
                # Lambda writes the invocation's logs with the function's own role: so do we.
                self.ship_logs(lines)
                lines = []

    def invoke(self, event: Any) -> Invocation:
        if self.spec.reserved_concurrency == 0:
            return Invocation(False, {"errorType": "TooManyRequestsException", "errorMessage": "Rate Exceeded."},
                              "Throttled")
        with self._lock:
            self.invocations += 1
            if self.stopped:
                return Invocation(False, {"errorType": "Runtime.Stopped", "errorMessage": "runtime stopping"},
                                  "Unhandled")
            if self._process is None or self._process.poll() is not None:
                self._start()
            request_id = str(uuid.uuid4())
            deadline = time.time() + self.timeout
            request = {"event": event, "requestId": request_id, "deadline": deadline, "injectDelay": self.inject_delay,
                       "injectError": self.inject_error, "injectErrorType": self.inject_error_type}
            try:
                self._process.stdin.write(json.dumps(request) + "\n")  # type: ignore[union-attr]
                self._process.stdin.flush()  # type: ignore[union-attr]
            except BrokenPipeError:
                self._stop_process()
                return Invocation(False, {"errorType": "Runtime.ExitError", "errorMessage": "worker exited"},
                                  "Unhandled")
            line = self._read_line(deadline)
            if line is None:
                self._stop_process()
                self.log(f"{request_id} Task timed out after {self.timeout:.2f} seconds")
                return Invocation(False, {"errorType": "Sandbox.Timedout",
                                          "errorMessage": f"Task timed out after {self.timeout:.2f} seconds"},
                                  "Timeout")
            if not line:
                self._stop_process()
                return Invocation(False, {"errorType": "Runtime.ExitError", "errorMessage": "worker exited"},
                                  "Unhandled")
            result = json.loads(line)
            return Invocation(bool(result["ok"]), result["payload"], None if result["ok"] else "Unhandled")

    def _read_line(self, deadline: float) -> str | None:
        # The worker writes each result as one line in one write, so readable means a whole line (or EOF).
        ready, _, _ = select.select([self._results], [], [], max(0.0, deadline - time.time()))
        return self._results.readline() if ready else None

    def _stop_process(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.kill()
        process.wait(timeout=5)
        for stream in (process.stdin, process.stdout):
            try:
                stream.close()  # type: ignore[union-attr]
            except OSError:
                pass
        try:
            self._results.close()
        except OSError:
            pass

    def stop(self) -> None:
        # Not under the lock: stopping must not wait for an invocation in flight (it fails as a crash would).
        self.stopped = True
        self._stop_process()

    def warm(self) -> None:
        with self._lock:
            if self._process is None:
                self._start()


def stage_code(spec: FunctionSpec, root: Path, repo: Path = REPO_ROOT) -> Path:
    """Copy exactly the archive's files into the function's own directory; nothing else is importable."""
    target = root / spec.name
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    if not spec.files:
        raise ValueError(f"function {spec.name}: only AssetArchive code is supported by the local runtime yet")
    for relative in spec.files:
        source = repo / relative
        destination = target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, destination)
    return target


def function_environment(spec: FunctionSpec, variables: dict[str, str], credentials: dict[str, str],
                         endpoint: str, region: str) -> dict[str, str]:
    return {
        **variables,
        "AWS_ACCESS_KEY_ID": credentials["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": credentials["SecretAccessKey"],
        "AWS_SESSION_TOKEN": credentials["SessionToken"],
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_LAMBDA_FUNCTION_NAME": spec.name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "local",
        "LOCAL_FUNCTION_ARN": spec.arn,
        "PYTHONDONTWRITEBYTECODE": "1",
    }

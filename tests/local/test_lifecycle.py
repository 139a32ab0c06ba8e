"""`python -m offline.local` (what `make dev` runs): starts fast, stops cleanly on SIGINT and SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest

from tests.local.conftest import start_runtime


def _listening(url: str) -> bool:
    parsed = urlparse(url)
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((parsed.hostname, parsed.port)) == 0


def _processes_using(state_dir: Path) -> list[int]:
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


def _banner_lines_work_verbatim(log: Path) -> None:
    """The printed `API=...` line and route lines, pasted into a shell as they are, reach the functions (dev has a
    usage plan: a line without the API key would get 403 INVALID_API_KEY)."""
    lines = log.read_text().splitlines()
    exports = next(line.strip() for line in lines if line.strip().startswith("API="))
    health = next(line.strip() for line in lines if line.strip().startswith("curl -X GET") and '/health"' in line)
    hello = next(line.strip() for line in lines if line.strip().startswith("curl -X GET") and '/hello"' in line)
    script = f"{exports}; ID_TOKEN=not-a-token; {health} -s -o /dev/null -w '%{{http_code}} '; {hello} -s"
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=30, check=True).stdout
    assert out.startswith("200 "), out
    assert '"code":"UNAUTHORIZED"' in out.replace(" ", ""), out  # past the key check, stopped by the authorizer


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_starts_within_budget_and_stops_cleanly(tmp_path: Path, sig: signal.Signals) -> None:
    process, endpoints = start_runtime(tmp_path)
    try:
        print(f"startup {endpoints['startup_seconds']} s")
        # The goal is 10 s on a developer machine; CI shares its two cores with the rest of the suite.
        assert endpoints["startup_seconds"] < 20
        assert set(endpoints) >= {"api_url", "aws_endpoint_url", "region", "user_pool_id", "user_pool_client_id"}
        assert _listening(endpoints["api_url"]) and _listening(endpoints["aws_endpoint_url"])
        _banner_lines_work_verbatim(tmp_path / "runtime.log")
        workers = _processes_using(tmp_path)
        assert len(workers) == len(endpoints["functions"]) + 1  # one warm worker per function + the runtime
    finally:
        process.send_signal(sig)
        try:
            code = process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGUSR1)  # the runtime dumps every thread's stack into its log
            time.sleep(1)
            process.kill()
            pytest.fail("did not stop:\n" + (tmp_path / "runtime.log").read_text()[-6000:])
        assert code == 0
    deadline = time.time() + 5
    while _processes_using(tmp_path) and time.time() < deadline:
        time.sleep(0.1)
    assert _processes_using(tmp_path) == []
    assert not _listening(endpoints["api_url"]) and not _listening(endpoints["aws_endpoint_url"])
    assert "local runtime stopped" in (tmp_path / "runtime.log").read_text()

"""One local runtime (`python -m offline.local`) per test session, driven over real HTTP like a user would."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests

from offline.runtime import REPO_ROOT

# Visibility timeouts and async retry delays scaled down so redelivery and DLQ paths run in seconds.
TIME_SCALE = 0.02
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

    def client(self, service: str) -> Any:
        return boto3.client(service, endpoint_url=self.aws, region_name=self.region,
                            aws_access_key_id=self.endpoints["aws_access_key_id"],
                            aws_secret_access_key=self.endpoints["aws_secret_access_key"])

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

    def call(self, method: str, path: str, token: str | None = None, **kwargs: Any) -> requests.Response:
        headers = dict(kwargs.pop("headers", {}) or {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return requests.request(method, self.api + path, headers=headers, timeout=30, **kwargs)


def wait_for(predicate: Callable[[], Any], timeout: float = 20, interval: float = 0.2, what: str = "") -> Any:
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what or predicate}")


def start_runtime(state_dir: Path, stack: str = "dev", time_scale: float = TIME_SCALE) -> tuple[subprocess.Popen, dict]:
    log = state_dir / "runtime.log"
    endpoints_file = state_dir / "endpoints.json"
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "offline.local", "--stack", stack, "--time-scale", str(time_scale),
         "--state-dir", str(state_dir)],
        cwd=REPO_ROOT, stdout=log.open("w"), stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    deadline = time.time() + 60
    while not endpoints_file.exists():
        if process.poll() is not None or time.time() > deadline:
            process.kill()
            raise RuntimeError("local runtime did not start:\n" + log.read_text()[-4000:])
        time.sleep(0.1)
    return process, json.loads(endpoints_file.read_text())


def stop_runtime(process: subprocess.Popen) -> int:
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.kill(process.pid, signal.SIGUSR1)  # its log gets every thread's stack; then never leave it behind
        time.sleep(1)
        process.kill()  # its workers see their stdin close and exit
        raise


@pytest.fixture(scope="session")
def local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Local]:
    state_dir = tmp_path_factory.mktemp("dev")
    process, endpoints = start_runtime(state_dir)
    try:
        yield Local(endpoints, state_dir / "runtime.log")
    finally:
        stop_runtime(process)


@pytest.fixture(scope="session")
def user(local: Local) -> dict[str, str]:
    return local.sign_in()

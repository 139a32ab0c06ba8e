"""`python -m offline.local --stack dev`: serve the stack locally until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import faulthandler
import os
import re
import shlex
import signal
import sys
import time
from pathlib import Path

from offline.local.server import LocalRuntime, Options
from offline.runtime import REPO_ROOT


def banner(runtime: LocalRuntime, endpoints: dict) -> str:
    api = endpoints["api_url"]
    aws = f"aws --endpoint-url {endpoints['aws_endpoint_url']}"
    # With a usage plan (dev, prod) the gateway refuses key-less calls: the printed lines must carry the key.
    keyed = bool(runtime.api) and any(spec.get("apiKeyRequired") for spec in runtime.api.methods.values())
    key = f" KEY={sorted(runtime.api.api_keys)[0]}" if keyed and runtime.api.api_keys else ""
    user = "testuser@example.com"
    lines = [
        f"local runtime of stack '{runtime.options.stack}' ready in {runtime.startup_seconds:.1f} s",
        f"  API URL            {api}",
        f"  AWS endpoint       {endpoints['aws_endpoint_url']}",
        f"  user pool / client {endpoints['user_pool_id']} / {endpoints['user_pool_client_id']}",
        f"  endpoints file     {runtime.options.state_dir / 'endpoints.json'}",
        "",
        "use the local operator's keys (IAM is enforced: the functions run under their own roles):",
        f"  export AWS_ACCESS_KEY_ID={endpoints['aws_access_key_id']}"
        f" AWS_SECRET_ACCESS_KEY={endpoints['aws_secret_access_key']} AWS_DEFAULT_REGION={endpoints['region']}",
        f"  API={api} POOL={endpoints['user_pool_id']} CLIENT={endpoints['user_pool_client_id']}{key}",
        "",
        "create a test user and sign in:",
        f"  {aws} cognito-idp admin-create-user --user-pool-id \"$POOL\" --username {user}"
        f" --temporary-password 'TempPass123!' --message-action SUPPRESS"
        f" --user-attributes Name=email,Value={user} Name=email_verified,Value=true"
        f" && {aws} cognito-idp admin-set-user-password --user-pool-id \"$POOL\" --username {user}"
        f" --password 'MySecurePass123!' --permanent",
        f"  ID_TOKEN=$({aws} cognito-idp initiate-auth --auth-flow USER_PASSWORD_AUTH --client-id \"$CLIENT\""
        f" --auth-parameters USERNAME={user},PASSWORD='MySecurePass123!'"
        f" --query AuthenticationResult.IdToken --output text)",
        "",
        "routes:",
    ]
    if runtime.api:
        for path, method in runtime.api.routes():
            if method == "OPTIONS":
                continue
            node = next(n for n in runtime.api.nodes.values() if n.path == path)
            spec = runtime.api.methods[(node.id, method)]
            auth = [] if spec.get("authorization") in (None, "NONE") else ["-H", "Authorization: Bearer $ID_TOKEN"]
            if spec.get("apiKeyRequired"):
                auth.extend(["-H", "x-api-key: $KEY"])
            body = ["-H", "Content-Type: application/json", "-d", "{}"] if method in ("POST", "PUT", "PATCH") else []
            # `{orderId}` -> `$ORDERID`: a shell variable to set, not a curl glob.
            url = '"$API' + re.sub(r"\{(\w+)\+?\}", lambda m: "$" + m.group(1).upper(), path) + '"'
            lines.append("  curl -X " + method + " " + " ".join(shlex.quote(a) if "$" not in a else f'"{a}"'
                                                                for a in [*auth, *body]) + f" {url}")
    lines.append(f"  mailbox (what SES accepted): curl {runtime.api_base}/__local/ses/sent")
    lines += schedule_lines(runtime)
    if runtime.unsupported:
        lines += ["", "not supported yet (ignored): " + ", ".join(runtime.unsupported)]
    lines += ["", "Ctrl-C stops everything."]
    return "\n".join(lines)


def schedule_lines(runtime: LocalRuntime) -> list[str]:
    """The graph's scheduled rules, fired on demand (or by themselves with --schedules auto)."""
    if not runtime.scheduler.schedules:
        return []
    state = "" if runtime.options.state_dir == REPO_ROOT / ".dev" else f" --state-dir {runtime.options.state_dir}"
    mode = "fired every period x time scale" if runtime.options.auto_schedules else "fired on demand only"
    python = os.path.relpath(sys.executable) if sys.executable.startswith(str(REPO_ROOT)) else sys.executable
    lines = ["", f"schedules ({mode}):"]
    for schedule in runtime.scheduler.schedules:
        lines.append(f"  {schedule.describe()}")
        lines.append(f"    {python} -m offline.local schedule {schedule.rule}{state}")
    return lines


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["schedule"]:
        from offline.local.schedules import cli

        return cli(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m offline.local", description=__doc__)
    parser.add_argument("--stack", default="dev")
    parser.add_argument("--port", type=int, default=0, help="API port (0: a free one)")
    parser.add_argument("--aws-port", type=int, default=0, help="moto port (0: a free one)")
    parser.add_argument("--time-scale", type=float, default=1.0,
                        help="multiply visibility timeouts and retry delays (e.g. 0.05 for fault tests)")
    parser.add_argument("--state-dir", type=Path, default=REPO_ROOT / ".dev")
    parser.add_argument("--quiet", action="store_true", help="no function logs on the console")
    parser.add_argument("--schedules", choices=("on-demand", "auto"), default="on-demand",
                        help="auto: fire rate() schedules by themselves every period x time scale")
    args = parser.parse_args(argv)
    runtime = LocalRuntime(Options(stack=args.stack, api_port=args.port, moto_port=args.aws_port,
                                   time_scale=args.time_scale, state_dir=args.state_dir, quiet=args.quiet,
                                   auto_schedules=args.schedules == "auto"))
    faulthandler.register(signal.SIGUSR1)  # `kill -USR1 <pid>` dumps every thread's stack (a stuck stop)
    # The handler only flips a flag: Event.set() from a signal handler can deadlock on the Event's own lock
    # when the signal lands while the main thread holds it inside wait().
    stopping: list[int] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda number, _frame: stopping.append(number))
    try:
        endpoints = runtime.start()
        print(banner(runtime, endpoints), flush=True)
        while not stopping:
            time.sleep(0.2)
    finally:
        runtime.stop()
        print("local runtime stopped", flush=True)
    return 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # Everything is stopped and flushed: skip the interpreter's teardown, whose final garbage collection of
    # the loaded SDKs (Pulumi, moto, botocore models) takes seconds and keeps the ports' owner alive meanwhile.
    os._exit(code)

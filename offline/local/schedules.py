"""EventBridge schedules in the local runtime: the graph's scheduled rules, fired on demand (or, optionally,
automatically at a time-scaled rate).

`Scheduler.fire(name)` sends each target of the matching rule(s) the exact event EventBridge sends for a
schedule ("Scheduled Event" from aws.events, the rule ARN in `resources`, an empty `detail`; a target's
constant `input` replaces it, as EventBridge does), as an *asynchronous* invoke (Lambda's retries, then the
function's on-failure destination), only if the function's resource policy lets events.amazonaws.com invoke it
from that rule (as Lambda checks on AWS). The function runs under its own role in its worker.

From a shell, against a running `make dev`: `python -m offline.local schedule <rule-or-function>`.
"""

from __future__ import annotations

import argparse
import json
import re
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from offline.local.graph import PERMISSION, StackGraph

RULE = "aws:cloudwatch/eventRule:EventRule"
TARGET = "aws:cloudwatch/eventTarget:EventTarget"
HANDLED_TYPES = {RULE, TARGET}
_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


@dataclass(frozen=True)
class Target:
    function: str  # the deployed function name
    input: str | None  # the target's constant JSON input, if any


@dataclass(frozen=True)
class Schedule:
    rule: str
    arn: str
    expression: str
    targets: tuple[Target, ...]

    def describe(self) -> str:
        return f"{self.rule} {self.expression} -> {', '.join(t.function for t in self.targets) or '(no target)'}"

    def matches(self, name: str) -> bool:
        return name in (self.rule, self.arn) or any(t.function == name or t.function.endswith(name)
                                                    for t in self.targets)


def plan(graph: StackGraph) -> list[Schedule]:
    """Every rule with a schedule expression and its Lambda targets, from the graph (pure)."""
    schedules = []
    for rule in graph.of_type(RULE):
        expression = rule.inputs.get("scheduleExpression")
        if not expression:
            continue
        name = rule.inputs.get("name") or rule.id
        targets = []
        for target in graph.of_type(TARGET):
            if target.inputs.get("rule") != name:
                continue
            spec = graph.function_for(target.inputs.get("arn", ""))
            if spec is not None:
                targets.append(Target(spec.name, target.inputs.get("input")))
        arn = rule.outputs.get("arn") or f"arn:aws:events:us-east-1:123456789012:rule/{name}"
        schedules.append(Schedule(name, arn, expression, tuple(targets)))
    return schedules


def scheduled_event(schedule: Schedule, now: float | None = None) -> dict[str, Any]:
    """What EventBridge sends a target of a scheduled rule."""
    _, _, _, region, account, _ = schedule.arn.split(":", 5)
    return {"version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event", "source": "aws.events",
            "account": account, "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)), "region": region,
            "resources": [schedule.arn], "detail": {}}


def rate_seconds(expression: str) -> float | None:
    match = _RATE.match(expression)
    if not match:
        return None  # cron(...) is fired on demand only
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2).rstrip("s")]


def may_invoke(graph: StackGraph, function: str, rule_arn: str) -> bool:
    """Whether the function's resource policy lets EventBridge invoke it for this rule."""
    for p in graph.of_type(PERMISSION):
        target = graph.function_for(p.inputs.get("function", ""))
        if target is not None and target.name == function and p.inputs.get("principal") == "events.amazonaws.com" \
                and p.inputs.get("action") == "lambda:InvokeFunction" and p.inputs.get("sourceArn") in (None, rule_arn):
            return True
    return False


class Scheduler:
    def __init__(self, graph: StackGraph, submit: Callable[[str, Any], None], counters: Any,
                 log: Callable[[str], None], time_scale: float, stop: threading.Event):
        self.graph = graph
        self.schedules = plan(graph)
        self.submit = submit
        self.counters = counters
        self.log = log
        self.time_scale = time_scale
        self.stop = stop

    def fire(self, name: str) -> list[dict[str, Any]]:
        """Fire every schedule whose rule name/ARN or target function (name or suffix) is `name`."""
        fired = []
        matched = [s for s in self.schedules if s.matches(name)]
        if not matched:
            raise KeyError(f"no schedule matches {name!r}; known: {[s.describe() for s in self.schedules]}")
        for schedule in matched:
            for target in schedule.targets:
                if not (target.function.endswith(name) or name in (schedule.rule, schedule.arn)):
                    continue
                event = json.loads(target.input) if target.input else scheduled_event(schedule)
                if not may_invoke(self.graph, target.function, schedule.arn):
                    # Lambda refuses EventBridge's invoke: the event is dropped (no target DLQ in the graph).
                    self.counters.add(f"{target.function}.schedule_denied")
                    self.log(f"{schedule.rule}: {target.function} has no permission for events.amazonaws.com")
                    fired.append({"rule": schedule.rule, "function": target.function, "delivered": False})
                    continue
                self.counters.add(f"{target.function}.scheduled_events")
                self.log(f"{schedule.rule} fired -> {target.function}")
                self.submit(target.function, event)
                fired.append({"rule": schedule.rule, "function": target.function, "delivered": True,
                              "event": event})
        return fired

    def start_automatic(self) -> None:
        """Fire each rate() schedule every period x time scale (off unless asked: `--schedules auto`)."""
        for schedule in self.schedules:
            period = rate_seconds(schedule.expression)
            if period is not None:
                threading.Thread(target=self._every, args=(schedule, period * self.time_scale),
                                 name=f"schedule:{schedule.rule}", daemon=True).start()

    def _every(self, schedule: Schedule, seconds: float) -> None:
        while not self.stop.wait(seconds):
            self.fire(schedule.rule)


def cli(argv: list[str]) -> int:
    """`python -m offline.local schedule <rule-or-function>`: fire it in the running runtime."""
    from offline.runtime import REPO_ROOT

    parser = argparse.ArgumentParser(prog="python -m offline.local schedule", description=cli.__doc__)
    parser.add_argument("name", nargs="?", help="rule name or ARN, or target function name (or its suffix)")
    parser.add_argument("--state-dir", type=Path, default=REPO_ROOT / ".dev")
    args = parser.parse_args(argv)
    try:
        base = json.loads((args.state_dir / "endpoints.json").read_text())["admin_url"]
        with urllib.request.urlopen(f"{base}/__local/schedules", timeout=10) as response:  # noqa: S310
            listed = json.load(response)
    except (OSError, KeyError, ValueError) as error:
        print(f"no local runtime answers (state dir {args.state_dir}): start it with `make dev` ({error})")
        return 2
    if not args.name:
        for line in listed:
            print(line)
        return 0
    request = urllib.request.Request(f"{base}/__local/schedules/fire", method="POST",  # noqa: S310
                                     data=json.dumps({"name": args.name}).encode(),
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - the local runtime
            result = json.load(response)
    except urllib.error.HTTPError as error:
        print(json.load(error)["error"]["message"])
        return 1
    for fired in result:
        state = "sent (asynchronous invoke)" if fired["delivered"] else "REFUSED: no events.amazonaws.com permission"
        print(f"{fired['rule']} -> {fired['function']}: {state}")
    return 0

"""README "When an alarm fires" against the code: every kind of alarm the stack can raise has a row, and the
replay command it gives really republishes an upload."""

from __future__ import annotations

import json
import re
from typing import Any

from components.observability_plan import (
    ApiTarget,
    FunctionTarget,
    StateMachineTarget,
    Targets,
    plan_alarms,
)
from offline.runtime import REPO_ROOT
from tests.handlers.test_uploads_common import UPLOAD_ENV, make_buckets, new_sub
from tests.handlers.test_uploads_ingest import make_stream, put_upload, stream_records

SECTION = REPO_ROOT.joinpath("README.md").read_text().split("## When an alarm fires", 1)[1].split("\n## ", 1)[0]


def test_every_alarm_kind_has_a_runbook_row() -> None:
    everything = Targets(
        functions=[FunctionTarget(key="fn", function_name="f", timeout_seconds=10, asynchronous=True,
                                  on_failure_destination=True, stream_consumer=True)],
        apis=[ApiTarget(key="api", api_name="a", stage_name="dev")],
        state_machines=[StateMachineTarget(key="machine", state_machine_arn="arn")],
    )
    rows = [line for line in SECTION.splitlines() if line.startswith("| `")]
    for alarm in plan_alarms(everything):
        kind = alarm.name.removeprefix(f"{alarm.target}-")
        assert any(f"-{kind}`" in row.split(" | ")[0] for row in rows), f"no runbook row for *-{kind} alarms"
    for dlq_alarm in ("email-dlq-alarm", "orders-dlq-alarm", "uploads-failures-alarm"):
        assert any(dlq_alarm in row.split(" | ")[0] for row in rows), dlq_alarm


def test_the_upload_replay_command_republishes_the_upload(aws: None, load_handler: Any, lambda_context: Any) -> None:
    (payload,) = re.findall(r'--payload "(\{\\"Records\\".*\})" /dev/null', SECTION)
    make_buckets()
    make_stream()
    ingest = load_handler("uploads_ingest", env=UPLOAD_ENV)
    key = f"uploads/{new_sub()}/abc-lost.txt"
    put_upload(key)
    # What bash hands the CLI after expanding the README's $B and $K.
    expanded = payload.replace('\\"', '"').replace("$B", UPLOAD_ENV["UPLOADS_BUCKET"]).replace("$K", key)
    assert ingest.handler(json.loads(expanded), lambda_context) == {"published": 1}
    (record,) = stream_records()
    assert json.loads(record["Data"])["key"] == key

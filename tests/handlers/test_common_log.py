"""handlers/common/log.py writes lines Lambda's JSON log format can filter: Lambda's level names and an RFC 3339
timestamp (otherwise Lambda files the line as INFO, and an INFO application level would hide nothing of it)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest

from handlers.common import log

LAMBDA_LEVELS = {"TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"}
RFC_3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


@pytest.mark.parametrize(("write", "level"), [(log.debug, "DEBUG"), (log.info, "INFO"), (log.warning, "WARN"),
                                              (log.error, "ERROR")])
def test_lines_carry_a_lambda_level_an_rfc3339_timestamp_and_the_bound_ids(capsys, write, level) -> None:
    token = log.bind(requestId="req-1", messageId=None)
    try:
        write("something happened", orderId="o-1")
    finally:
        log.reset(token)
    (line,) = capsys.readouterr().out.splitlines()
    record = json.loads(line)
    assert record["level"] == level and record["level"] in LAMBDA_LEVELS
    assert RFC_3339.match(record["timestamp"]), record["timestamp"]
    stamp = datetime.fromisoformat(record["timestamp"].replace("Z", "+00:00"))
    assert abs((datetime.now(UTC) - stamp).total_seconds()) < 60
    assert (record["message"], record["requestId"], record["orderId"]) == ("something happened", "req-1", "o-1")
    assert "messageId" not in record

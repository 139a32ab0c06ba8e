"""The handlers count business events in EMF (handlers/common/metrics.py) where they happen, once each, against
moto: orders accepted / confirmed / failed, uploads processed / rejected, emails sent / rejected."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from tests.handlers.test_common_metrics import emf_problems
from tests.handlers.test_orders_process import Pipeline, claims_for, pipeline  # noqa: F401 (fixture)
from tests.handlers.test_orders_submit import order_body
from tests.handlers.test_send_email import WELCOME, deliver, enqueue, outbox, sender, ses  # noqa: F401 (fixtures)
from tests.handlers.test_uploads_common import new_sub
from tests.handlers.test_uploads_ingest import put_upload, stream_records
from tests.handlers.test_uploads_process import Flow, flow  # noqa: F401 (fixture)


def counted(out: str) -> Counter[str]:
    """Business metrics in the captured stdout, each line checked against the EMF specification."""
    totals: Counter[str] = Counter()
    for line in out.splitlines():
        doc = json.loads(line)
        if "_aws" not in doc:
            continue
        assert emf_problems(doc) == [], line
        assert doc["Stage"] == "test"
        for metric in doc["_aws"]["CloudWatchMetrics"][0]["Metrics"]:
            totals[metric["Name"]] += doc[metric["Name"]]
    return totals


@pytest.fixture(autouse=True)
def stage(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STAGE", "test")


def test_orders_are_counted_accepted_then_confirmed_once_and_failures_per_attempt(pipeline: Pipeline,  # noqa: F811
                                                                                    capsys) -> None:
    [message] = pipeline.order_messages(order_body(("A-1", 1, "1.00")), claims=claims_for("ann"))
    assert counted(capsys.readouterr().out) == {"OrdersAccepted": 1}

    assert pipeline.run([message]) == []
    assert pipeline.run([message]) == []  # redelivered: the same order, not a second confirmation
    assert counted(capsys.readouterr().out) == {"OrdersConfirmed": 1}

    poison = dict(message, MessageId="poison-1", Body="not json")
    assert pipeline.run([poison]) == ["poison-1"]
    assert counted(capsys.readouterr().out) == {"OrdersFailed": 1}


def test_emails_are_counted_sent_or_rejected(sender: Any, outbox: Any, capsys) -> None:  # noqa: F811
    enqueue(outbox, WELCOME, {"template": "NoSuchTemplate", "to": ["x@example.org"], "data": {}})
    deliver(outbox, sender.handler)
    assert counted(capsys.readouterr().out) == {"EmailsSent": 1, "EmailsRejected": 1}


def test_uploads_are_counted_processed_or_rejected(flow: Flow, capsys) -> None:  # noqa: F811
    sub = new_sub()
    flow.ingest_key(flow.upload(sub, "a.txt", "fine"))
    put_upload(f"uploads/{sub}/abc-tool.sh", b"#!/bin/sh", "application/x-sh")
    flow.ingest_key(f"uploads/{sub}/abc-tool.sh")
    capsys.readouterr()
    flow.consume(stream_records())
    assert counted(capsys.readouterr().out) == {"UploadsProcessed": 1, "UploadsRejected": 1}

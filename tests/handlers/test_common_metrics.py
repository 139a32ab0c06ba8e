"""handlers/common/metrics.py: every line it writes is an EMF document, checked against a JSON Schema written from
AWS's EMF specification plus the specification's cross-references."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from components.observability_plan import BUSINESS_METRICS, BUSINESS_NAMESPACE
from handlers.common import metrics
from tests.hypothesis_budget import examples

SCHEMA = json.loads((Path(__file__).resolve().parent.parent / "data" / "emf.schema.json").read_text())
VALIDATOR = Draft202012Validator(SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER)
MAX_EVENT_BYTES = 1_048_576  # EMF documents share CloudWatch Logs' event size limit


def emf_problems(doc: Any) -> list[str]:
    """Schema errors, then what the spec requires of target members: each dimension key names a root string of
    1..1024 characters, each metric name a root number or an array of at most 100 numbers."""
    problems = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in VALIDATOR.iter_errors(doc)]
    if problems:
        return problems
    for directive in doc["_aws"]["CloudWatchMetrics"]:
        for dimension_set in directive["Dimensions"]:
            for key in dimension_set:
                value = doc.get(key)
                if not isinstance(value, str) or not 1 <= len(value) <= 1024:
                    problems.append(f"dimension {key!r} needs a root string member, got {value!r}")
        for metric in directive["Metrics"]:
            value = doc.get(metric["Name"])
            values = value if isinstance(value, list) else [value]
            if len(values) > 100 or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                                            for v in values):
                problems.append(f"metric {metric['Name']!r} needs a root number (or <= 100 numbers), got {value!r}")
    if len(json.dumps(doc).encode()) > MAX_EVENT_BYTES:
        problems.append("larger than a CloudWatch Logs event")
    return problems


def test_the_validator_rejects_what_the_spec_rejects() -> None:
    good = metrics.document({"OrdersAccepted": 1}, stage="dev", timestamp_ms=1)
    assert emf_problems(good) == []
    broken = {
        "no _aws": {k: v for k, v in good.items() if k != "_aws"},
        "timestamp as string": {**good, "_aws": {**good["_aws"], "Timestamp": "1"}},
        "unknown unit": json.loads(json.dumps(good).replace('"Count"', '"Items"')),
        "extra directive member": json.loads(json.dumps(good).replace('"Namespace"', '"Extra": 1, "Namespace"')),
        "dimension member missing": {k: v for k, v in good.items() if k != "Stage"},
        "dimension not a string": {**good, "Stage": 3},
        "metric member missing": {k: v for k, v in good.items() if k != "OrdersAccepted"},
        "metric not a number": {**good, "OrdersAccepted": "1"},
        "AWS/ namespace": json.loads(json.dumps(good).replace(BUSINESS_NAMESPACE, "AWS/Lambda")),
        "31 dimensions": {**good, "_aws": {**good["_aws"], "CloudWatchMetrics": [
            {**good["_aws"]["CloudWatchMetrics"][0], "Dimensions": [[f"d{i}" for i in range(31)]]}]}},
    }
    for case, doc in broken.items():
        assert emf_problems(doc), case


def test_one_line_per_event_on_stdout_dimensioned_by_stage(capsys, monkeypatch) -> None:
    monkeypatch.setenv("STAGE", "prod")
    metrics.emit("OrdersAccepted", orderId="o-1")
    metrics.emit("EmailsRejected", 2, reason="bad address")
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2
    first, second = map(json.loads, out)
    assert emf_problems(first) == [] and emf_problems(second) == []
    directive = first["_aws"]["CloudWatchMetrics"][0]
    assert directive == {"Namespace": BUSINESS_NAMESPACE, "Dimensions": [["Stage"]],
                         "Metrics": [{"Name": "OrdersAccepted", "Unit": "Count"}]}
    assert (first["Stage"], first["OrdersAccepted"], first["orderId"]) == ("prod", 1, "o-1")
    assert (second["EmailsRejected"], second["reason"]) == (2, "bad address")
    assert abs(first["_aws"]["Timestamp"] - time.time() * 1000) < 60_000


def test_the_dashboard_graphs_exactly_the_metrics_handlers_may_emit() -> None:
    assert set(BUSINESS_METRICS) == metrics.METRICS and BUSINESS_NAMESPACE == metrics.NAMESPACE


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: metrics.document({"OrderAccepted": 1}, stage="dev"), "unknown business metrics"),
        (lambda: metrics.document({}, stage="dev"), "at least one metric"),
        (lambda: metrics.document({"OrdersFailed": math.nan}, stage="dev"), "finite number"),
        (lambda: metrics.document({"OrdersFailed": True}, stage="dev"), "finite number"),
        (lambda: metrics.document({"OrdersFailed": 1}, stage=""), "stage"),
        (lambda: metrics.document({"OrdersFailed": 1}, stage="dev", properties={"Stage": "x"}), "replace"),
        (lambda: metrics.document({"OrdersFailed": 1}, stage="dev", properties={"_aws": {}}), "replace"),
        (lambda: metrics.document({"OrdersFailed": 1}, stage="dev", properties={"message": "x"}), "replace"),
    ],
)
def test_refused_documents(call, message) -> None:
    with pytest.raises(ValueError, match=message):
        call()


def test_a_refused_metric_never_fails_the_handler(capsys, monkeypatch) -> None:
    monkeypatch.setenv("STAGE", "dev")
    metrics.emit("NoSuchMetric")
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "unknown business metrics" in json.loads(captured.err)["error"]


json_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=50),
                         st.floats(allow_nan=False, allow_infinity=False))
property_names = st.text(min_size=1, max_size=30).filter(lambda k: k not in {"_aws", "Stage", "message",
                                                                             *metrics.METRICS})


@settings(max_examples=examples(200), deadline=None)
@given(
    chosen=st.dictionaries(st.sampled_from(sorted(metrics.METRICS)),
                           st.one_of(st.integers(0, 10**6), st.floats(0, 1e9, allow_nan=False)), min_size=1),
    stage=st.text(min_size=1, max_size=64),
    properties=st.dictionaries(property_names, json_scalars, max_size=5),
    timestamp=st.integers(0, 2**42),
)
def test_every_document_is_valid_emf(chosen, stage, properties, timestamp) -> None:
    doc = metrics.document(chosen, stage=stage, properties=properties, timestamp_ms=timestamp)
    line = json.dumps(doc, separators=(",", ":"))
    assert "\n" not in line  # one log event per document
    assert emf_problems(json.loads(line)) == []
    assert {m["Name"] for m in doc["_aws"]["CloudWatchMetrics"][0]["Metrics"]} == set(chosen)

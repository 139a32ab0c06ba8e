"""Business metrics in CloudWatch Embedded Metric Format (EMF): one JSON object per line on stdout.

CloudWatch Logs turns each line into metric datapoints (no PutMetricData call, no extra IAM, no latency on the
request path); the line stays searchable in Logs Insights with its properties (order id, key...). With Lambda's
JSON log format, lines written to stdout directly are kept as they are, so the object stays at the top level where
EMF requires it. Dimension: the stage (`STAGE`, set by PythonFunction on every function).
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from collections.abc import Mapping
from typing import Any

NAMESPACE = "SecureServerless/Business"
# The only names handlers may emit (components/observability_plan.py BUSINESS_METRICS graphs these).
METRICS = frozenset({
    "OrdersAccepted", "OrdersConfirmed", "OrdersFailed",
    "UploadsProcessed", "UploadsRejected",
    "EmailsSent", "EmailsRejected",
})
DIMENSION = "Stage"
MAX_PROPERTY_LENGTH = 1024


def document(metrics: Mapping[str, float], *, stage: str, properties: Mapping[str, Any] | None = None,
             timestamp_ms: int | None = None) -> dict[str, Any]:
    """The EMF object for `metrics` (name → count) under the stage dimension, with searchable `properties`."""
    if not metrics:
        raise ValueError("an EMF document needs at least one metric")
    unknown = sorted(set(metrics) - METRICS)
    if unknown:
        raise ValueError(f"unknown business metrics {unknown}; known: {sorted(METRICS)}")
    for name, value in metrics.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"metric {name} needs a finite number, got {value!r}")
    if not stage or len(stage) > MAX_PROPERTY_LENGTH:
        raise ValueError("the stage dimension must be 1..1024 characters")
    extra = dict(properties or {})
    clashes = sorted({"_aws", DIMENSION, "message", *metrics} & set(extra))
    if clashes:
        raise ValueError(f"properties may not replace the members EMF reads: {clashes}")
    return {
        "_aws": {
            "Timestamp": int(time.time() * 1000) if timestamp_ms is None else timestamp_ms,
            "CloudWatchMetrics": [
                {
                    "Namespace": NAMESPACE,
                    "Dimensions": [[DIMENSION]],
                    "Metrics": [{"Name": name, "Unit": "Count"} for name in sorted(metrics)],
                }
            ],
        },
        DIMENSION: stage,
        # Also an ordinary log line of handlers/common/log.py's shape (no level: Lambda files it as INFO).
        "message": "business metric " + ", ".join(sorted(metrics)),
        **extra,
        **metrics,
    }


def emit(name: str, value: float = 1, **properties: Any) -> None:
    """Count one business event, e.g. `metrics.emit("OrdersAccepted", orderId=order_id)`.

    A metric is never worth a failed request: a value this module refuses is a bug the tests catch, but at run
    time it is reported on stderr and the handler carries on.
    """
    try:
        line = json.dumps(document({name: value}, stage=os.environ.get("STAGE") or "unknown", properties=properties),
                          default=str, separators=(",", ":"))
    except ValueError as exc:
        sys.stderr.write(json.dumps({"level": "ERROR", "message": "metric not emitted", "error": str(exc)}) + "\n")
        return
    sys.stdout.write(line + "\n")

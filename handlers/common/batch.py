"""The one batch loop of every SQS, Kinesis and DynamoDB stream consumer: each reports partial batch failures.

`process_batch` runs `handle` on each record and returns `{"batchItemFailures": [...]}` with the identifier of
every record that must be retried: `handle` returned False or raised (one bad record never fails the others),
or too little time was left to start it (a timeout would fail the whole batch, the records already done
included). With `stop_after_failure` (FIFO queues) the first failure also fails the rest of the batch, so a
group's later messages never overtake it.

Measured against AWS Powertools' BatchProcessor (see tests/handlers/test_batch.py and the report): this loop is
the same contract without the dependency.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from handlers.common import log


def out_of_time(context: Any, index: int, guard_ms: int) -> bool:
    """Whether record `index` of the batch must be left for a retry: less than `guard_ms` is left of the invocation.

    A timeout fails the whole batch (the records already done included); reported records are simply retried.
    The first record is always tried, so a function whose timeout is below the guard still makes progress.
    """
    return index > 0 and context is not None and context.get_remaining_time_in_millis() < guard_ms


def sqs_message_id(record: dict[str, Any]) -> str:
    return str(record.get("messageId", ""))


def kinesis_sequence(record: dict[str, Any]) -> str:
    return str((record.get("kinesis") or {}).get("sequenceNumber", ""))


def dynamodb_sequence(record: dict[str, Any]) -> str:
    return str((record.get("dynamodb") or {}).get("SequenceNumber", ""))


def process_batch(
    records: Iterable[dict[str, Any]],
    handle: Callable[[dict[str, Any]], bool],
    *,
    context: Any,
    guard_ms: int,
    item_id: Callable[[dict[str, Any]], str],
    log_fields: Callable[[dict[str, Any]], dict[str, Any]] = lambda record: {},
    stop_after_failure: Callable[[dict[str, Any]], bool] = lambda record: False,
) -> dict[str, list[dict[str, str]]]:
    failures: list[dict[str, str]] = []
    stop = False
    for index, record in enumerate(records):
        identifier = item_id(record)
        if not stop and out_of_time(context, index, guard_ms):
            log.warning("not enough time left, the rest of the batch is left for a retry", itemIdentifier=identifier)
            stop = True
        if stop:
            failures.append({"itemIdentifier": identifier})
            continue
        token = log.bind(**log_fields(record), awsRequestId=getattr(context, "aws_request_id", None))
        try:
            done = handle(record)
        except Exception as exc:  # noqa: BLE001 - one bad record must not fail (or lose) the others
            log.error("record failed", errorType=type(exc).__name__, error=str(exc))
            done = False
        finally:
            log.reset(token)
        if not done:
            failures.append({"itemIdentifier": identifier})
            stop = stop_after_failure(record)
    return {"batchItemFailures": failures}

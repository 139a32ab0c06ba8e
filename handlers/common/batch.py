"""Helpers shared by the batch consumers (SQS, Kinesis): each reports partial batch failures."""

from __future__ import annotations

from typing import Any


def out_of_time(context: Any, index: int, guard_ms: int) -> bool:
    """Whether record `index` of the batch must be left for a retry: less than `guard_ms` is left of the invocation.

    A timeout fails the whole batch (the records already done included); reported records are simply retried.
    The first record is always tried, so a function whose timeout is below the guard still makes progress.
    """
    return index > 0 and context is not None and context.get_remaining_time_in_millis() < guard_ms

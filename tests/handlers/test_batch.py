"""The shared batch loop every SQS/Kinesis consumer uses (issue 10: one helper instead of three loops)."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from handlers.common.batch import process_batch, sqs_message_id
from tests.events import LambdaContext


def records(n: int, fifo: bool = False) -> list[dict[str, Any]]:
    arn = "arn:aws:sqs:us-east-1:123456789012:q" + (".fifo" if fifo else "")
    return [{"messageId": f"m{i}", "eventSourceARN": arn} for i in range(n)]


def fifo(record: dict[str, Any]) -> bool:
    return record["eventSourceARN"].endswith(".fifo")


@given(st.lists(st.sampled_from(["ok", "false", "raise"]), max_size=12), st.booleans())
def test_exactly_the_failed_records_are_reported_and_fifo_stops_at_the_first(outcomes: list[str], ordered: bool) -> None:
    seen: list[str] = []

    def handle(record: dict[str, Any]) -> bool:
        seen.append(record["messageId"])
        outcome = outcomes[int(record["messageId"][1:])]
        if outcome == "raise":
            raise RuntimeError("boom")
        return outcome == "ok"

    result = process_batch(records(len(outcomes), ordered), handle, context=LambdaContext(), guard_ms=1000,
                           item_id=sqs_message_id, stop_after_failure=fifo)

    failed = [r["itemIdentifier"] for r in result["batchItemFailures"]]
    first_bad = next((i for i, o in enumerate(outcomes) if o != "ok"), len(outcomes))
    if ordered:
        assert failed == [f"m{i}" for i in range(first_bad, len(outcomes))]
        assert seen == [f"m{i}" for i in range(min(first_bad + 1, len(outcomes)))]
    else:
        assert failed == [f"m{i}" for i, o in enumerate(outcomes) if o != "ok"]
        assert len(seen) == len(outcomes)


def test_records_not_started_for_lack_of_time_are_reported_but_the_first_is_always_tried() -> None:
    done: list[str] = []
    context = LambdaContext(remaining_ms=500)
    result = process_batch(records(3), lambda r: done.append(r["messageId"]) is None, context=context,
                           guard_ms=1000, item_id=sqs_message_id)
    assert done == ["m0"]
    assert result == {"batchItemFailures": [{"itemIdentifier": "m1"}, {"itemIdentifier": "m2"}]}

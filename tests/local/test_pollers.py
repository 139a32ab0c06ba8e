"""The Kinesis poller's delivery rules with a stub function: bisect on error, partial batch failures
(checkpoint before the lowest failed record), retries, max record age; every record counted."""

from __future__ import annotations

import datetime
import threading
import time

from offline.local.events import Counters, KinesisPoller, Poller, Wakeup
from offline.local.lambdas import Invocation


class StubSession:
    def client(self, *args, **kwargs):
        return None


def _records(n: int, age_seconds: float = 0) -> list[dict]:
    arrived = datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=age_seconds)
    return [{"SequenceNumber": str(100 + i), "PartitionKey": "k", "Data": f"r{i}".encode(),
             "ApproximateArrivalTimestamp": arrived} for i in range(n)]


def _poller(invoke, **mapping) -> tuple[KinesisPoller, list[list[str]]]:
    failed: list[list[str]] = []
    poller = KinesisPoller(
        mapping={"batchSize": 10, "startingPosition": "TRIM_HORIZON", **mapping},
        stream_arn="arn:aws:kinesis:us-east-1:123456789012:stream/s", function="f",
        function_arn="arn:aws:lambda:us-east-1:123456789012:function:f", invoke=invoke, session=StubSession(),
        queue_urls={}, endpoint="http://127.0.0.1:1", region="us-east-1", stop=threading.Event(),
        log=lambda _: None, counters=Counters(), time_scale=0.0)
    poller.fail = lambda shard, batch, result, attempts: failed.append([r["SequenceNumber"] for r in batch])
    return poller, failed


def _data(event) -> list[str]:
    import base64

    return [base64.b64decode(r["kinesis"]["data"]).decode() for r in event["Records"]]


def test_bisect_isolates_the_poison_record() -> None:
    calls: list[list[str]] = []

    def invoke(_name, event):
        calls.append(_data(event))
        return Invocation(False, {"errorMessage": "boom"}, "Unhandled") if "r2" in calls[-1] else Invocation(True, None)

    poller, failed = _poller(invoke, bisectBatchOnFunctionError=True, maximumRetryAttempts=2)
    poller.deliver("shard-0", _records(4))
    assert failed == [["102"]]  # only the poison record goes to the on-failure destination
    done = [d for c in calls for d in c if "r2" not in c]
    assert sorted(done) == ["r0", "r1", "r3"]
    assert poller.counters.values["f.records_done"] == 3
    # Splits are free; the isolated record is then tried 1 + maximumRetryAttempts times.
    assert sum(c == ["r2"] for c in calls) == 3


def test_partial_failure_retries_from_the_lowest_failed_record() -> None:
    calls: list[list[str]] = []

    def invoke(_name, event):
        calls.append(_data(event))
        if len(calls) == 1:
            return Invocation(True, {"batchItemFailures": [{"itemIdentifier": "102"}]})
        return Invocation(True, {"batchItemFailures": []})

    poller, failed = _poller(invoke, functionResponseTypes=["ReportBatchItemFailures"], maximumRetryAttempts=3)
    poller.deliver("shard-0", _records(4))
    assert calls == [["r0", "r1", "r2", "r3"], ["r2", "r3"]]
    assert failed == []


def test_unknown_item_identifier_fails_the_whole_batch() -> None:
    calls: list[list[str]] = []

    def invoke(_name, event):
        calls.append(_data(event))
        return Invocation(True, {"batchItemFailures": [{"itemIdentifier": "nope"}]})

    poller, failed = _poller(invoke, functionResponseTypes=["ReportBatchItemFailures"], maximumRetryAttempts=1)
    poller.deliver("shard-0", _records(2))
    assert calls == [["r0", "r1"], ["r0", "r1"]]
    assert failed == [["100", "101"]]


def test_records_older_than_the_max_age_are_not_delivered() -> None:
    calls: list[list[str]] = []
    poller, failed = _poller(lambda _n, e: calls.append(_data(e)) or Invocation(True, None),
                             maximumRecordAgeInSeconds=60)
    poller.deliver("shard-0", _records(2, age_seconds=120))
    assert calls == [] and failed == [["100", "101"]]


class IdlePoller(Poller):
    """Finds nothing at every poll, and notes when each poll began."""

    def __init__(self, wakeup: Wakeup):
        super().__init__("idle", threading.Event(), lambda _: None, Counters(), wakeup)
        self.began: list[float] = []

    def step(self) -> bool:
        self.began.append(time.monotonic())
        return True


def _polls_after(poller: IdlePoller, count: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if len(poller.began) >= count:
            return True
        time.sleep(0.005)
    return False


def test_an_idle_poller_waits_its_second_and_a_wakeup_or_stop_ends_the_wait_at_once() -> None:
    wakeup = Wakeup()
    poller = IdlePoller(wakeup)
    poller.IDLE_SECONDS = 30.0  # a poll within the test's patience can only be a wakeup's doing
    poller.start()
    try:
        assert _polls_after(poller, 1, 5)
        time.sleep(0.2)
        assert len(poller.began) == 1  # idle: no second poll before a wakeup
        wakeup.notify()
        assert _polls_after(poller, 2, 2)
    finally:
        stopped = time.monotonic()
        poller.stop_event.set()
        wakeup.notify()
        poller.join(timeout=5)
    assert not poller.is_alive() and time.monotonic() - stopped < 2
    assert len(poller.began) == 2


def test_news_during_a_poll_is_not_lost() -> None:
    """A record written while a poll runs (after it read the shard) starts the next poll without waiting."""
    wakeup = Wakeup()

    class WrittenDuringThePoll(IdlePoller):
        def step(self) -> bool:
            idle = super().step()
            if len(self.began) == 1:
                wakeup.notify()
            return idle

    poller = WrittenDuringThePoll(wakeup)
    poller.IDLE_SECONDS = 30.0
    poller.start()
    try:
        assert _polls_after(poller, 2, 2)
    finally:
        poller.stop_event.set()
        wakeup.notify()
        poller.join(timeout=5)


def test_stop_set_before_the_wait_begins_is_not_missed() -> None:
    stop = threading.Event()
    stop.set()
    started = time.monotonic()
    Wakeup().wait(since=0, timeout=30, stop=stop)
    assert time.monotonic() - started < 1

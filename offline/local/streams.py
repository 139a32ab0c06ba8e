"""DynamoDB Streams event source mappings, run by the local runtime as the Lambda service runs them.

moto keeps a table's stream (its `dynamodbstreams` API) but has no poller we can use, so this one reads the
stream with the *function's own role* (as Lambda does: a missing stream grant shows up as a stuck flow), from
the mapping's starting position, in batches of its batch size. Records the mapping's filter criteria do not
match are dropped before the function sees them (Lambda event filtering: the filters are OR-ed, a pattern is
matched against the record as the function would receive it; moto's EventBridge pattern matcher does the
matching). Delivery is the Kinesis poller's (`events.KinesisPoller.deliver`): bisect on function error, finite
retries, max record age, partial batch responses by sequence number, and records that exhaust those go to the
on-failure destination as a record with `DDBStreamBatchInfo` (the shape Lambda sends, built by
`events.destination_record`).
"""

from __future__ import annotations

import base64
import datetime
import json
from collections.abc import Callable, Iterable
from typing import Any

from offline.local.events import KinesisPoller

STREAM_ARN_PREFIX = "arn:aws:dynamodb:"


def _json_value(value: Any) -> Any:
    # What Lambda puts in the event: epoch seconds for the creation time, base64 for binary attribute values.
    if isinstance(value, datetime.datetime):
        return int(value.timestamp())
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def lambda_record(record: dict[str, Any], stream_arn: str) -> dict[str, Any]:
    """A GetRecords record as the function receives it (JSON, with `eventSourceARN`)."""
    return {**json.loads(json.dumps(record, default=_json_value)), "eventSourceARN": stream_arn}


class FilterCriteria:
    """A mapping's `filterCriteria`: no filters lets everything through, otherwise any one matching filter."""

    def __init__(self, criteria: dict[str, Any] | None):
        from moto.events.models import EventPattern

        filters = (criteria or {}).get("filters") or []
        self.patterns = [EventPattern.load(f["pattern"]) for f in filters if f.get("pattern")]

    def matches(self, record: dict[str, Any]) -> bool:
        return not self.patterns or any(p.matches_event(record) for p in self.patterns)


class DynamoStreamPoller(KinesisPoller):
    """One DynamoDB stream -> one function. Records are wrapped as `{"SequenceNumber",
    "ApproximateArrivalTimestamp", "record"}` so the Kinesis poller's delivery rules apply unchanged."""

    BATCH_INFO = "DDBStreamBatchInfo"  # what Lambda's on-failure record calls the batch of a DynamoDB stream

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.name = f"dynamodb-stream:{self.function}"
        self.streams = self.session.client("dynamodbstreams", endpoint_url=self.endpoint, region_name=self.region)
        self.filters = FilterCriteria(self.mapping.get("filterCriteria"))
        self.rewind_requested = False

    def start_iterators(self, position: str | None = None) -> None:
        position = position or self.mapping.get("startingPosition", "LATEST")
        shards = self.streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]["Shards"]
        for shard in shards:
            self.iterators[shard["ShardId"]] = self.streams.get_shard_iterator(
                StreamArn=self.stream_arn, ShardId=shard["ShardId"], ShardIteratorType=position)["ShardIterator"]
        self.ready.set()

    def rewind(self) -> None:
        """Deliver again everything the stream holds (as a new mapping at TRIM_HORIZON would): from the next poll."""
        self.rewind_requested = True
        self.wakeup.notify()

    def step(self) -> bool:
        if self.rewind_requested:
            self.rewind_requested = False
            self.start_iterators("TRIM_HORIZON")
        return super().step()

    @property
    def records_client(self) -> Any:
        return self.streams

    def selected(self, records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        """The records the filter criteria let through, wrapped for `deliver`; the rest count as done."""
        wrapped = []
        for raw in records:
            record = lambda_record(raw, self.stream_arn)
            if not self.filters.matches(record):
                self.counters.add(f"{self.function}.records_filtered")
                continue
            created = raw["dynamodb"].get("ApproximateCreationDateTime")
            if not isinstance(created, datetime.datetime):
                created = datetime.datetime.fromtimestamp(float(created or 0), datetime.UTC)
            wrapped.append({"SequenceNumber": raw["dynamodb"]["SequenceNumber"],
                            "ApproximateArrivalTimestamp": created, "record": record})
        return wrapped

    def event(self, shard: str, records: list[dict[str, Any]]) -> dict[str, Any]:
        return {"Records": [r["record"] for r in records]}


def stream_poller(mapping: dict[str, Any], rewrite: Callable[[Any], Any], queue_urls: dict[str, str],
                  **common: Any) -> DynamoStreamPoller:
    """The poller of one DynamoDB stream mapping of the graph (its ARNs rewritten to the provisioned ones)."""
    mapping = rewrite(mapping)
    poller = DynamoStreamPoller(mapping=mapping, stream_arn=mapping["eventSourceArn"], queue_urls=queue_urls,
                                **common)
    poller.start_iterators()  # LATEST means "from start-up", not "from the first poll"
    return poller


def rewind(pollers: Iterable[Any], function: str) -> int:
    """Test hook (`POST /__local/streams/rewind`): redeliver `function`'s streams from their oldest record."""
    rewound = [p for p in pollers if isinstance(p, DynamoStreamPoller) and p.function == function]
    for poller in rewound:
        poller.rewind()
    return len(rewound)

"""Event sources run by the runtime: SQS and Kinesis event source mappings, S3 notifications (async invokes).

moto's own mappings are unusable here (its SQS->Lambda runs inside SendMessage and deletes the messages a
function reported in batchItemFailures; its Kinesis delivers one record per call without retries), so these
pollers do what the Lambda service does, with the *function's own role* for reading the source and for the
on-failure destination (as Lambda does), so a missing statement shows up as a stuck or failed flow.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from offline.local.lambdas import Invocation


@dataclass
class Counters:
    """What every poller did, for tests and the console (messages are counted, never guessed)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    values: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def add(self, key: str, amount: int = 1) -> None:
        with self.lock:
            self.values[key] = self.values.get(key, 0) + amount

    def error(self, text: str) -> None:
        with self.lock:
            self.errors.append(text)
            del self.errors[:-50]


class Wakeup:
    """What an idle stream poller waits for: the runtime's moto calls `notify` when a stream record is written or a
    role's policy changes (moto_patches.stream_pollers_woken_by_writes_and_grants), and so do a rewind and stop."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self.generation = 0

    def notify(self) -> None:
        with self._changed:
            self.generation += 1
            self._changed.notify_all()

    def wait(self, since: int, timeout: float, stop: threading.Event) -> None:
        """Until something happened after generation `since` was read, `stop` is set, or `timeout` seconds."""
        with self._changed:
            self._changed.wait_for(lambda: self.generation != since or stop.is_set(), timeout)


class Poller(threading.Thread):
    # Lambda polls an idle shard about once a second; a wakeup (a record written) starts the next poll at once.
    IDLE_SECONDS = 1.0

    def __init__(self, name: str, stop: threading.Event, log: Callable[[str], None], counters: Counters,
                 wakeup: Wakeup | None = None):
        super().__init__(name=name, daemon=True)
        self.stop_event = stop
        self.log = log
        self.counters = counters
        self.wakeup = wakeup or Wakeup()

    def sleep(self, seconds: float) -> bool:
        return self.stop_event.wait(seconds)

    def run(self) -> None:
        while not self.stop_event.is_set():
            # Counted as it begins: whoever changed the function's role can wait for the next poll, the first one
            # surely authorised under the change (one already under way was checked before it).
            self.counters.add(f"poll:{self.name}.polls")
            seen = self.wakeup.generation  # read before the poll: a write during it is news for the next one
            try:
                idle = self.step()
            except (ClientError, BotoCoreError) as error:
                self.counters.error(f"{self.name}: {error}")
                self.log(f"{self.name}: {error}")
                self.sleep(0.5)
                continue
            if idle:
                self.wakeup.wait(seen, self.IDLE_SECONDS, self.stop_event)

    def step(self) -> bool:  # pragma: no cover - abstract
        """One poll; True when it found nothing and should not poll again before a wakeup or IDLE_SECONDS."""
        raise NotImplementedError


def destination_record(invocation: Invocation, event: Any, function_arn: str, condition: str, attempts: int,
                       extra: dict[str, Any] | None = None) -> dict[str, Any]:
    record = {
        "version": "1.0",
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
        "requestContext": {"requestId": str(uuid.uuid4()), "functionArn": f"{function_arn}:$LATEST",
                           "condition": condition, "approximateInvokeCount": attempts},
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "responsePayload": invocation.payload,
    }
    if extra:
        record.update(extra)
    else:
        record["requestPayload"] = event
    return record


class SqsPoller(Poller):
    def __init__(self, *, mapping: dict[str, Any], queue_url: str, queue_arn: str, function: str, function_arn: str,
                 invoke: Callable[[str, Any], Invocation], session: Any, endpoint: str, region: str,
                 stop: threading.Event, log: Callable[[str], None], counters: Counters, time_scale: float):
        super().__init__(f"sqs:{function}", stop, log, counters)
        self.queue_url = queue_url
        self.queue_arn = queue_arn
        self.function = function
        self.invoke = invoke
        self.session = session
        self.sqs = session.client("sqs", endpoint_url=endpoint, region_name=region)
        self.batch_size = int(mapping.get("batchSize") or 10)
        self.window = float(mapping.get("maximumBatchingWindowInSeconds") or 0) * time_scale
        self.partial = "ReportBatchItemFailures" in (mapping.get("functionResponseTypes") or [])
        self.region = region

    def step(self) -> bool:
        """Never idle: the long poll already waited for a message."""
        # Lambda reads the queue's attributes with the function's role (the mapping fails without the grant).
        self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["VisibilityTimeout"])
        messages: list[dict[str, Any]] = []
        deadline = time.time() + self.window
        while len(messages) < self.batch_size and not self.stop_event.is_set():
            got = self.sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=min(10, self.batch_size - len(messages)),
                WaitTimeSeconds=1, AttributeNames=["All"], MessageAttributeNames=["All"]).get("Messages", [])
            messages.extend(got)
            if not got or time.time() >= deadline:
                break
        if not messages:
            return False
        self.counters.add(f"{self.function}.received", len(messages))
        records = [{
            "messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
            "attributes": m.get("Attributes", {}), "messageAttributes": {
                k: {"stringValue": v.get("StringValue"), "dataType": v["DataType"]}
                for k, v in (m.get("MessageAttributes") or {}).items()},
            "md5OfBody": m.get("MD5OfBody"), "eventSource": "aws:sqs", "eventSourceARN": self.queue_arn,
            "awsRegion": self.region} for m in messages]
        result = self.invoke(self.function, {"Records": records})
        if not result.ok:
            # The whole batch comes back after the visibility timeout; moto moves it to the DLQ after maxReceiveCount.
            self.counters.add(f"{self.function}.batch_failed")
            return False
        failed: set[str] = set()
        if self.partial and isinstance(result.payload, dict):
            items = result.payload.get("batchItemFailures") or []
            ids = {r["messageId"] for r in records}
            for item in items:
                identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
                if identifier not in ids:
                    # Lambda treats an unknown or empty identifier as a failure of the whole batch.
                    self.counters.add(f"{self.function}.batch_failed")
                    return False
                failed.add(identifier)
        done = [r for r in records if r["messageId"] not in failed]
        for index in range(0, len(done), 10):
            chunk = done[index:index + 10]
            self.sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=[
                {"Id": str(i), "ReceiptHandle": r["receiptHandle"]} for i, r in enumerate(chunk)])
        self.counters.add(f"{self.function}.deleted", len(done))
        self.counters.add(f"{self.function}.item_failures", len(failed))
        return False


class AsyncInvoker:
    """Lambda's asynchronous invocation: retries with back-off, max event age, then the on-failure destination."""

    def __init__(self, *, invoke: Callable[[str, Any], Invocation], sessions: dict[str, Any],
                 configs: dict[str, dict[str, Any]], arns: dict[str, str], queue_urls: dict[str, str], endpoint: str,
                 region: str, stop: threading.Event, log: Callable[[str], None], counters: Counters,
                 time_scale: float):
        self.invoke = invoke
        self.sessions = sessions
        self.configs = configs
        self.arns = arns
        self.queue_urls = queue_urls
        self.endpoint = endpoint
        self.region = region
        self.stop = stop
        self.log = log
        self.counters = counters
        self.time_scale = time_scale

    def submit(self, function: str, event: Any) -> None:
        threading.Thread(target=self._run, args=(function, event), name=f"async:{function}", daemon=True).start()

    def _run(self, function: str, event: Any) -> None:
        config = self.configs.get(function, {})
        retries = int(config.get("maximumRetryAttempts", 2))
        max_age = float(config.get("maximumEventAgeInSeconds", 21600))
        started = time.time()
        attempts = 0
        delays = [60.0, 120.0]
        while True:
            attempts += 1
            result = self.invoke(function, event)
            self.counters.add(f"{function}.async_attempts")
            if result.ok:
                self.counters.add(f"{function}.async_ok")
                return
            if attempts > retries or time.time() - started > max_age:
                break
            if self.stop.wait(delays[min(attempts - 1, 1)] * self.time_scale):
                return
        condition = "RetriesExhausted" if attempts > retries else "EventAgeExceeded"
        self.counters.add(f"{function}.async_failed")
        destination = ((config.get("destinationConfig") or {}).get("onFailure") or {}).get("destination")
        if not destination:
            self.log(f"{function}: async event dropped after {attempts} attempts (no on-failure destination)")
            return
        send_to_destination(self.sessions[function], self.queue_urls, destination, self.endpoint, self.region,
                            destination_record(result, event, self.arns[function], condition, attempts),
                            self.counters, function, self.log)


def send_to_destination(session: Any, queue_urls: dict[str, str], destination: str, endpoint: str,
                        region: str, record: dict[str, Any], counters: Counters, function: str,
                        log: Callable[[str], None]) -> None:
    if not destination.startswith("arn:aws:sqs:"):
        log(f"{function}: on-failure destination {destination} is not supported yet by the local runtime")
        return
    try:
        session.client("sqs", endpoint_url=endpoint, region_name=region).send_message(
            QueueUrl=queue_urls[destination], MessageBody=json.dumps(record, default=str))
        counters.add(f"{function}.on_failure_sent")
    except ClientError as error:
        counters.add(f"{function}.on_failure_denied")
        counters.error(f"{function}: on-failure destination refused: {error}")
        log(f"{function}: on-failure destination refused: {error}")


class S3NotificationPoller(Poller):
    """Drains the internal queue moto notifies and turns each record into an async invoke of its function."""

    def __init__(self, *, queue_url: str, targets: dict[str, str], resolve: Callable[[str], str | None],
                 async_invoker: AsyncInvoker, credentials: dict[str, str] | None, endpoint: str, region: str,
                 stop: threading.Event, log: Callable[[str], None], counters: Counters):
        super().__init__(f"s3:{queue_url.rsplit('/', 1)[-1]}", stop, log, counters)
        self.queue_url = queue_url
        self.targets = targets
        self.resolve = resolve
        self.async_invoker = async_invoker
        from offline.local.provision import admin_client

        self.sqs = admin_client("sqs", endpoint, region, credentials)

    def step(self) -> bool:
        """Never idle: the long poll already waited for a notification."""
        messages = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10,
                                            WaitTimeSeconds=1).get("Messages", [])
        for message in messages:
            body = json.loads(message["Body"])
            for record in body.get("Records") or []:
                record = s3_record_as_aws_sends_it(record)
                function_arn = self.targets.get(record.get("s3", {}).get("configurationId", ""))
                function = self.resolve(function_arn) if function_arn else None
                if function:
                    self.counters.add(f"{function}.s3_events")
                    self.async_invoker.submit(function, {"Records": [record]})
            self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        return False


def s3_record_as_aws_sends_it(record: dict[str, Any]) -> dict[str, Any]:
    """moto percent-encodes `/` in event keys (`uploads%2Fsub%2Fa.txt`); S3 keeps the slashes."""
    record = json.loads(json.dumps(record))
    obj = record.get("s3", {}).get("object", {})
    if "key" in obj:
        obj["key"] = obj["key"].replace("%2F", "/").replace("%2f", "/")
    return record


class KinesisPoller(Poller):
    BATCH_INFO = "KinesisBatchInfo"

    def __init__(self, *, mapping: dict[str, Any], stream_arn: str, function: str, function_arn: str,
                 invoke: Callable[[str, Any], Invocation], session: Any, queue_urls: dict[str, str],
                 endpoint: str, region: str, stop: threading.Event, log: Callable[[str], None], counters: Counters,
                 time_scale: float, wakeup: Wakeup | None = None):
        super().__init__(f"kinesis:{function}", stop, log, counters, wakeup)
        self.mapping = mapping
        self.stream_arn = stream_arn
        self.stream_name = stream_arn.rsplit("/", 1)[-1]
        self.function = function
        self.function_arn = function_arn
        self.invoke = invoke
        self.session = session
        self.kinesis = session.client("kinesis", endpoint_url=endpoint, region_name=region)
        self.queue_urls = queue_urls
        self.endpoint = endpoint
        self.region = region
        self.batch_size = int(mapping.get("batchSize") or 100)
        self.bisect = bool(mapping.get("bisectBatchOnFunctionError"))
        retries = mapping.get("maximumRetryAttempts", -1)
        self.max_retries = None if retries in (None, -1) else int(retries)
        age = mapping.get("maximumRecordAgeInSeconds", -1)
        self.max_age = None if age in (None, -1) else float(age)
        self.partial = "ReportBatchItemFailures" in (mapping.get("functionResponseTypes") or [])
        self.destination = ((mapping.get("destinationConfig") or {}).get("onFailure") or {}).get("destinationArn")
        self.time_scale = time_scale
        self.iterators: dict[str, str] = {}
        self.ready = threading.Event()

    def start_iterators(self) -> None:
        position = self.mapping.get("startingPosition", "LATEST")
        shards = self.kinesis.list_shards(StreamName=self.stream_name)["Shards"]
        for shard in shards:
            kwargs: dict[str, Any] = {"StreamName": self.stream_name, "ShardId": shard["ShardId"],
                                      "ShardIteratorType": position}
            if position == "AT_TIMESTAMP":
                kwargs["Timestamp"] = self.mapping.get("startingPositionTimestamp")
            self.iterators[shard["ShardId"]] = self.kinesis.get_shard_iterator(**kwargs)["ShardIterator"]
        self.ready.set()

    def step(self) -> bool:
        if not self.ready.is_set():
            self.start_iterators()
        idle = True
        for shard, iterator in list(self.iterators.items()):
            response = self.records_client.get_records(ShardIterator=iterator, Limit=self.batch_size)
            self.iterators[shard] = response["NextShardIterator"]
            records = response.get("Records") or []
            if records:
                idle = False
                self.counters.add(f"{self.function}.records", len(records))
                selected = self.selected(records)
                if selected:  # a batch the filters emptied invokes nothing
                    self.deliver(shard, selected)
        return idle

    @property
    def records_client(self) -> Any:
        """The client whose GetRecords reads this stream's shards."""
        return self.kinesis

    def selected(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The records to deliver, in the shape `deliver` takes: here all of them, as they are."""
        return records

    def event(self, shard: str, records: list[dict[str, Any]]) -> dict[str, Any]:
        return {"Records": [{
            "kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": r["PartitionKey"],
                        "sequenceNumber": r["SequenceNumber"], "data": base64.b64encode(r["Data"]).decode(),
                        "approximateArrivalTimestamp": r["ApproximateArrivalTimestamp"].timestamp()},
            "eventSource": "aws:kinesis", "eventVersion": "1.0", "eventID": f"{shard}:{r['SequenceNumber']}",
            "eventName": "aws:kinesis:record", "invokeIdentityArn": "", "awsRegion": self.region,
            "eventSourceARN": self.stream_arn} for r in records]}

    def deliver(self, shard: str, records: list[dict[str, Any]]) -> None:
        """Process `records` in order until each is done or sent to the on-failure destination."""
        pending = [(records, 0)]  # (batch, failed attempts so far)
        while pending and not self.stop_event.is_set():
            batch, attempts = pending.pop(0)
            if self.max_age is not None:
                now = time.time()
                old = [r for r in batch if now - r["ApproximateArrivalTimestamp"].timestamp() > self.max_age]
                if old:
                    self.fail(shard, old, Invocation(False, {"errorMessage": "record too old"}), attempts)
                    batch = [r for r in batch if r not in old]
                    if not batch:
                        continue
            result = self.invoke(self.function, self.event(shard, batch))
            retry_from = None
            if result.ok and self.partial and isinstance(result.payload, dict):
                sequences = [r["SequenceNumber"] for r in batch]
                reported = [i.get("itemIdentifier") for i in result.payload.get("batchItemFailures") or []]
                indexes = [sequences.index(s) for s in reported if s in sequences]
                if reported and len(indexes) != len(reported):
                    retry_from = 0  # unknown identifier: the whole batch failed
                elif indexes:
                    retry_from = min(indexes)  # checkpoint before the lowest failed record
            elif not result.ok:
                retry_from = 0
            if retry_from is None:
                self.counters.add(f"{self.function}.records_done", len(batch))
                continue
            self.counters.add(f"{self.function}.records_done", retry_from)
            remaining = batch[retry_from:]
            if self.bisect and len(remaining) > 1 and not result.ok:
                # Splitting a failed batch does not count against the retry quota; the halves keep the count.
                middle = len(remaining) // 2
                pending[:0] = [(remaining[:middle], attempts), (remaining[middle:], attempts)]
                continue
            attempts += 1
            if self.max_retries is not None and attempts > self.max_retries:
                self.fail(shard, remaining, result, attempts)
                continue
            pending.insert(0, (remaining, attempts))
            self.sleep(0.05 * self.time_scale)

    def fail(self, shard: str, batch: list[dict[str, Any]], result: Invocation, attempts: int) -> None:
        self.counters.add(f"{self.function}.records_failed", len(batch))
        if not self.destination:
            return
        info = {self.BATCH_INFO: {
            "shardId": shard, "startSequenceNumber": batch[0]["SequenceNumber"],
            "endSequenceNumber": batch[-1]["SequenceNumber"],
            "approximateArrivalOfFirstRecord": batch[0]["ApproximateArrivalTimestamp"].isoformat(),
            "approximateArrivalOfLastRecord": batch[-1]["ApproximateArrivalTimestamp"].isoformat(),
            "batchSize": len(batch), "streamArn": self.stream_arn}}
        record = destination_record(result, None, self.function_arn, "RetryAttemptsExhausted", attempts, info)
        send_to_destination(self.session, self.queue_urls, self.destination, self.endpoint, self.region, record,
                            self.counters, self.function, self.log)


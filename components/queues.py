"""SQS building blocks shared by every component that queues work: encrypted dead-letter queues that only
their source may redrive into, and an alarm as soon as anything waits where nothing should."""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_aws as aws

DLQ_RETENTION_SECONDS = 14 * 24 * 3600  # the SQS maximum: time for a human to look and redrive


def dead_letter_queue(
    name: str, physical_name: str, tags: dict[str, str], opts: pulumi.ResourceOptions, *, fifo: bool = False
) -> aws.sqs.Queue:
    """`f"{name}-dlq"`: SSE, the longest retention SQS allows, FIFO when its source is."""
    return aws.sqs.Queue(
        f"{name}-dlq",
        name=physical_name,
        message_retention_seconds=DLQ_RETENTION_SECONDS,
        sqs_managed_sse_enabled=True,
        tags=tags,
        opts=opts,
        **({"fifo_queue": True, "content_based_deduplication": False} if fifo else {}),
    )


def redrive_policy(dlq: aws.sqs.Queue, max_receive_count: int) -> pulumi.Output[str]:
    """The source queue's redrive policy: after `max_receive_count` receives a message moves to `dlq`."""
    return pulumi.Output.json_dumps({"deadLetterTargetArn": dlq.arn, "maxReceiveCount": max_receive_count})


def backlog_alarm(
    resource_name: str,
    queue: aws.sqs.Queue,
    description: str,
    tags: dict[str, str],
    opts: pulumi.ResourceOptions,
    actions: Sequence[str] = (),
) -> aws.cloudwatch.MetricAlarm:
    """Alarm the moment one message is visible in `queue` (a DLQ or an on-failure queue), notifying `actions`."""
    return aws.cloudwatch.MetricAlarm(
        resource_name,
        alarm_description=description,
        alarm_actions=list(actions),
        ok_actions=list(actions),  # on-call also hears when the queue is empty again
        namespace="AWS/SQS",
        metric_name="ApproximateNumberOfMessagesVisible",
        dimensions={"QueueName": queue.name},
        statistic="Maximum",
        period=300,
        evaluation_periods=1,
        threshold=0,
        comparison_operator="GreaterThanThreshold",
        treat_missing_data="notBreaching",
        tags=tags,
        opts=opts,
    )


def failure_queue(
    resource_name: str,
    physical_name: pulumi.Input[str],
    description: str,
    tags: dict[str, str],
    opts: pulumi.ResourceOptions,
    actions: Sequence[str] = (),
    **queue_args: object,
) -> aws.sqs.Queue:
    """`resource_name`: an encrypted queue a human reads (on-failure destination, a workflow's last Catch), kept as
    long as SQS allows, with `f"{resource_name}-alarm"` as soon as one message waits in it."""
    queue = aws.sqs.Queue(
        resource_name,
        name=physical_name,
        message_retention_seconds=DLQ_RETENTION_SECONDS,
        sqs_managed_sse_enabled=True,
        tags=tags,
        opts=opts,
        **queue_args,
    )
    backlog_alarm(f"{resource_name}-alarm", queue, description, tags, opts, actions)
    return queue


def guard_dead_letter_queue(
    name: str,
    dlq: aws.sqs.Queue,
    source: aws.sqs.Queue,
    what: str,
    tags: dict[str, str],
    opts: pulumi.ResourceOptions,
    actions: Sequence[str] = (),
) -> None:
    """Only `source` may redrive into `dlq` (`f"{name}-dlq-redrive-allow"`), and `f"{name}-dlq-alarm"` fires
    as soon as anything waits there."""
    aws.sqs.RedriveAllowPolicy(
        f"{name}-dlq-redrive-allow",
        queue_url=dlq.url,
        redrive_allow_policy=pulumi.Output.json_dumps({"redrivePermission": "byQueue", "sourceQueueArns": [source.arn]}),
        opts=opts,
    )
    backlog_alarm(
        f"{name}-dlq-alarm",
        dlq,
        f"{what} failed every attempt and wait in the DLQ: read the consumer's logs, then redrive.",
        tags,
        opts,
        actions,
    )


def sqs_trigger(
    resource_name: str,
    queue: aws.sqs.Queue,
    function_arn: pulumi.Input[str],
    opts: pulumi.ResourceOptions,
    *,
    batch_size: int,
    batching_window_seconds: int = 0,
    max_concurrency: int | None = None,
) -> aws.lambda_.EventSourceMapping:
    """Feed `queue` to a function that reports partial batch failures: a failed message is retried (then
    dead-lettered) alone, the rest of its batch is deleted. Every SQS consumer of the program goes through here."""
    return aws.lambda_.EventSourceMapping(
        resource_name,
        event_source_arn=queue.arn,
        function_name=function_arn,
        batch_size=batch_size,
        maximum_batching_window_in_seconds=batching_window_seconds or None,
        function_response_types=["ReportBatchItemFailures"],
        scaling_config=(
            aws.lambda_.EventSourceMappingScalingConfigArgs(maximum_concurrency=max_concurrency)
            if max_concurrency
            else None
        ),
        opts=opts,
    )

"""Serverless hygiene: failure handling, encryption, retention and throttling (advisory unless configured)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from ..iam import Statement, is_public, raw_documents, statements
from ..model import UNKNOWN, Graph, Resource, Unverifiable, as_flag, as_number, walk
from ..rule import ADVISORY, Outcome, rule

QUEUE = "aws:sqs/queue:Queue"
REDRIVE_POLICY = "aws:sqs/redrivePolicy:RedrivePolicy"
REDRIVE_ALLOW_POLICY = "aws:sqs/redriveAllowPolicy:RedriveAllowPolicy"
FUNCTION = "aws:lambda/function:Function"
INVOKE_CONFIG = "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig"
MAPPING = "aws:lambda/eventSourceMapping:EventSourceMapping"
STREAM = "aws:kinesis/stream:Stream"
BUCKETS = frozenset({"aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2"})
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
ACCOUNT_PUBLIC_ACCESS_BLOCK = "aws:s3/accountPublicAccessBlock:AccountPublicAccessBlock"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
STAGE = "aws:apigateway/stage:Stage"
HTTP_STAGE = "aws:apigatewayv2/stage:Stage"
METHOD_SETTINGS = "aws:apigateway/methodSettings:MethodSettings"
USAGE_PLAN = "aws:apigateway/usagePlan:UsagePlan"
USER_POOL = "aws:cognito/userPool:UserPool"

# AWS defaults when the property is not set.
DEFAULT_VISIBILITY_TIMEOUT = 30
DEFAULT_FUNCTION_TIMEOUT = 3
DEFAULT_MINIMUM_PASSWORD_LENGTH = 8


def _json(value: Any) -> Any:
    """A JSON-valued property given as a string or an object (unknown stays unknown)."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return None
    return value


def _dead_letter_arns(graph: Graph) -> set[str]:
    """Every known ARN something in the stack uses as a dead-letter or on-failure target."""
    arns: set[Any] = set()
    for source in graph.of_type(QUEUE, REDRIVE_POLICY):
        redrive = _json(source.peek("redrivePolicy"))
        if isinstance(redrive, Mapping):
            arns.add(redrive.get("deadLetterTargetArn"))
    for function in graph.of_type(FUNCTION):
        arns.add(function.peek("deadLetterConfig", "targetArn"))
    for mapping in graph.of_type(MAPPING):
        arns.add(mapping.peek("destinationConfig", "onFailure", "destinationArn"))
    for invoke_config in graph.of_type(INVOKE_CONFIG):
        arns.add(invoke_config.peek("destinationConfig", "onFailure", "destination"))
    return {a for a in arns if isinstance(a, str)}


def _is_dead_letter_queue(queue: Resource, graph: Graph) -> bool:
    return bool(
        queue.peek("redriveAllowPolicy")
        or queue.peek("arn") in graph.derived(_dead_letter_arns)
        or graph.referencing(queue, "redrivePolicy", {QUEUE, REDRIVE_POLICY})
        or graph.referencing(queue, "deadLetterConfig", {FUNCTION})
        or graph.referencing(queue, "destinationConfig", {MAPPING, INVOKE_CONFIG})
        or graph.referencing(queue, "queueUrl", {REDRIVE_ALLOW_POLICY})
    )


@rule(
    "sqs-queue-has-dlq",
    description="Every SQS queue that is not itself a dead-letter queue has one (redrivePolicy).",
    remediation="Create a `<name>-dlq` queue and set redrive_policy={'deadLetterTargetArn': dlq.arn, 'maxReceiveCount': 3}.",
    types={QUEUE},
    enforcement=ADVISORY,
    needs_graph=True,
)
def queue_has_dlq(queue: Resource, graph: Graph, settings: Mapping[str, Any]) -> Iterator[Outcome]:
    if _is_dead_letter_queue(queue, graph):
        return
    redrive = queue.peek("redrivePolicy")
    if redrive is UNKNOWN and graph.referenced(queue, "redrivePolicy", {QUEUE}):
        return  # a preview: the policy is computed from a queue of the stack
    target = walk(_json(queue.get("redrivePolicy")), "deadLetterTargetArn", where=f"{queue.name}.redrivePolicy")
    if not target and not graph.referencing(queue, "queueUrl", {REDRIVE_POLICY}):
        yield f"{queue.name} has no dead-letter queue: failed messages are retried until they expire"


@rule(
    "sqs-queue-encrypted",
    description="SQS queues are encrypted at rest (SSE-SQS or a KMS key).",
    remediation="Set sqs_managed_sse_enabled=True, or kms_master_key_id for a customer-managed key.",
    types={QUEUE},
    enforcement=ADVISORY,
)
def queue_encrypted(queue: Resource, settings: Mapping[str, Any]) -> Iterator[Outcome]:
    sse, key = as_flag(queue.peek("sqsManagedSseEnabled")), queue.peek("kmsMasterKeyId")
    if sse is True or (key and key is not UNKNOWN):
        return
    if UNKNOWN in (sse, key):
        yield Unverifiable(f"{queue.name}.sqsManagedSseEnabled")
    else:
        yield f"{queue.name} sets neither sqsManagedSseEnabled nor kmsMasterKeyId"


def _mapping_source(mapping: Resource, graph: Graph, source_type: str, service: str) -> Resource | None | bool:
    """The mapping's event source of `source_type` in the stack; False if the source is another service."""
    sources = graph.referenced(mapping, "eventSourceArn", {source_type})
    if sources:
        return sources[0]
    arn = mapping.get("eventSourceArn")
    return None if isinstance(arn, str) and f":{service}:" in arn else False


@rule(
    "sqs-visibility-timeout-covers-function",
    description="A queue feeding a Lambda keeps messages invisible for at least 6x the function timeout.",
    remediation=(
        "Raise the queue's visibility_timeout_seconds to at least factor x the function's timeout (AWS "
        "recommends 6x), or lower the timeout."
    ),
    types={MAPPING},
    enforcement=ADVISORY,
    needs_graph=True,
    config={"factor": {"type": "number", "minimum": 1, "default": 6, "description": "Timeout multiple required."}},
)
def visibility_covers_function(mapping: Resource, graph: Graph, settings: Mapping[str, Any]) -> Iterator[Outcome]:
    queue = _mapping_source(mapping, graph, QUEUE, "sqs")
    if queue is False:
        return
    functions = graph.referenced(mapping, "functionName", {FUNCTION})
    if queue is None or not functions:
        yield Unverifiable(f"{mapping.name}: its queue or function is not in this stack")
        return
    visibility = queue.number("visibilityTimeoutSeconds") or DEFAULT_VISIBILITY_TIMEOUT
    timeout = functions[0].number("timeout") or DEFAULT_FUNCTION_TIMEOUT
    if visibility < settings["factor"] * timeout:
        yield (
            f"{queue.name} visibility timeout {visibility:g}s < {settings['factor']:g} x {functions[0].name} "
            f"timeout {timeout:g}s: messages reappear while still being processed"
        )


@rule(
    "kinesis-stream-encrypted",
    description="Kinesis streams are encrypted with KMS.",
    remediation="Set encryption_type='KMS' and kms_key_id='alias/aws/kinesis' (or a customer-managed key).",
    types={STREAM},
    enforcement=ADVISORY,
)
def stream_encrypted(stream: Resource, settings: Mapping[str, Any]) -> Iterator[Outcome]:
    if stream.get("encryptionType") != "KMS" or not stream.get("kmsKeyId"):
        yield f"{stream.name} is not encrypted with KMS"


@rule(
    "kinesis-mapping-failure-handling",
    description=(
        "Kinesis event source mappings split failing batches, retry a finite number of times and send what "
        "still fails to an on-failure destination."
    ),
    remediation=(
        "Set bisect_batch_on_function_error=True, maximum_retry_attempts (0..maximumRetryAttempts) and "
        "destination_config.on_failure.destination_arn (an SQS queue or SNS topic)."
    ),
    types={MAPPING},
    enforcement=ADVISORY,
    needs_graph=True,
    config={
        "maximumRetryAttempts": {
            "type": "integer",
            "minimum": 0,
            "default": 10,
            "description": "The most retries accepted (-1, the AWS default, retries until the record expires).",
        }
    },
)
def kinesis_failure_handling(mapping: Resource, graph: Graph, settings: Mapping[str, Any]) -> Iterator[Outcome]:
    if _mapping_source(mapping, graph, STREAM, "kinesis") is False:
        return
    if mapping.flag("bisectBatchOnFunctionError") is not True:
        yield f"{mapping.name} does not bisect failing batches: one bad record blocks its shard"
    retries = mapping.number("maximumRetryAttempts")
    if retries is None or retries < 0 or retries > settings["maximumRetryAttempts"]:
        yield f"{mapping.name} retries {'forever' if retries in (None, -1) else f'{retries:g}'} times"
    destination = mapping.peek("destinationConfig", "onFailure", "destinationArn")
    if destination is UNKNOWN and not mapping.property_dependencies.get("destinationConfig"):
        yield Unverifiable(f"{mapping.name}.destinationConfig")
    elif not destination:
        yield f"{mapping.name} has no on-failure destination: records that keep failing are lost"


_BLOCK_FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")


@rule(
    "s3-bucket-public-access-blocked",
    description="S3 buckets block public access (all four settings, on the bucket or the account).",
    remediation="Add aws.s3.BucketPublicAccessBlock(bucket=bucket.id) with all four block/ignore/restrict flags True.",
    types=BUCKETS,
    enforcement=ADVISORY,
    needs_graph=True,
)
def bucket_public_access_blocked(bucket: Resource, graph: Graph, settings: Mapping[str, Any]) -> Iterator[Outcome]:
    blocks = [*graph.of_type(ACCOUNT_PUBLIC_ACCESS_BLOCK), *graph.referencing(bucket, "bucket", {PUBLIC_ACCESS_BLOCK})]
    missing = min(([f for f in _BLOCK_FLAGS if block.flag(f) is not True] for block in blocks), key=len, default=None)
    if missing is None:
        yield f"{bucket.name} has no public access block"
    elif missing:
        yield f"{bucket.name} public access block leaves {', '.join(missing)} off"


def _denies_plain_http(st: Statement) -> bool:
    if st.effect != "Deny" or not is_public(st.principal):
        return False
    actions = {a.lower() for a in st.action or () if isinstance(a, str)}
    for operator, clauses in (st.condition or {}).items():
        for key, value in (clauses or {}).items():
            values = {str(v).lower() for v in (value if isinstance(value, list) else [value])}
            if operator.lower() == "bool" and key.lower() == "aws:securetransport" and values == {"false"}:
                return bool(actions & {"*", "s3:*"})
    return False


@rule(
    "s3-bucket-enforces-tls",
    description="S3 bucket policies deny every request that is not made over TLS (aws:SecureTransport false).",
    remediation=(
        "Add a bucket policy statement: Effect Deny, Principal '*', Action 's3:*', Resource [bucket, bucket/*], "
        "Condition {'Bool': {'aws:SecureTransport': 'false'}}."
    ),
    types=BUCKETS,
    enforcement=ADVISORY,
    needs_graph=True,
)
def bucket_enforces_tls(bucket: Resource, graph: Graph, settings: Mapping[str, Any]) -> Iterator[Outcome]:
    unknown = None
    for policy in graph.referencing(bucket, "bucket", {BUCKET_POLICY}):
        for st in statements(raw_documents(policy)):
            if isinstance(st, Statement) and _denies_plain_http(st):
                return
            if isinstance(st, Unverifiable):
                unknown = st
    yield unknown or f"{bucket.name} has no bucket policy statement denying aws:SecureTransport=false"


def _log_groups(function: Resource, graph: Graph) -> list[Resource]:
    """The log groups the function writes to: its loggingConfig's, or /aws/lambda/<name> managed here."""
    groups = graph.referenced(function, "loggingConfig", {LOG_GROUP})
    groups += graph.with_value({LOG_GROUP}, "name", function.peek("loggingConfig", "logGroup"))
    groups += graph.referencing(function, "name", {LOG_GROUP})
    name = function.peek("name")
    if isinstance(name, str):
        groups += graph.with_value({LOG_GROUP}, "name", f"/aws/lambda/{name}")
    elif not groups:
        raise Unverifiable(f"{function.name}.name")
    return list({g.urn: g for g in groups}.values())


@rule(
    "lambda-log-group-retention",
    description="Every Lambda function's log group is managed by the stack with a retention period.",
    remediation="Create the function's log group (/aws/lambda/<name>) with retention_in_days (e.g. 30).",
    types={FUNCTION},
    enforcement=ADVISORY,
    needs_graph=True,
)
def log_group_retention(function: Resource, graph: Graph, settings: Mapping[str, Any]) -> Iterator[Outcome]:
    groups = _log_groups(function, graph)
    if not groups:
        yield f"{function.name} has no log group in the stack: Lambda creates one that keeps logs forever"
    for group in groups:
        if not group.number("retentionInDays"):
            yield f"{group.name} (logs of {function.name}) keeps logs forever: no retentionInDays"


@rule(
    "apigateway-stage-access-logging",
    description="API stages write access logs.",
    remediation="Set access_log_settings={'destination_arn': log_group.arn, 'format': <JSON format>} on the stage.",
    types={STAGE, HTTP_STAGE},
    enforcement=ADVISORY,
)
def stage_access_logging(stage: Resource, settings: Mapping[str, Any]) -> Iterator[Outcome]:
    if not stage.get("accessLogSettings", "destinationArn") or not stage.get("accessLogSettings", "format"):
        yield f"{stage.name} writes no access logs"


def _throttled(burst: Any, rate: Any) -> bool:
    """Both limits set; the provider writes -1 for "not throttled" (old states: "-1")."""
    burst, rate = as_number(burst, "throttlingBurstLimit"), as_number(rate, "throttlingRateLimit")
    return burst is not None and rate is not None and burst > 0 and rate > 0


def _stage_limits(stage: Resource, graph: Graph) -> Iterator[tuple[Any, Any]]:
    """(burst, rate) of every throttle that applies to the stage."""
    if stage.type == HTTP_STAGE:
        yield stage.get("defaultRouteSettings", "throttlingBurstLimit"), stage.get(
            "defaultRouteSettings", "throttlingRateLimit"
        )
        return
    settings = graph.referencing(stage, "stageName", {METHOD_SETTINGS}) or [
        s
        for s in graph.with_value({METHOD_SETTINGS}, "stageName", stage.peek("stageName"))
        if s.peek("restApi") == stage.peek("restApi")
    ]
    for method_settings in settings:
        yield method_settings.get("settings", "throttlingBurstLimit"), method_settings.get(
            "settings", "throttlingRateLimit"
        )
    for plan in graph.referencing(stage, "apiStages", {USAGE_PLAN}):
        yield plan.get("throttleSettings", "burstLimit"), plan.get("throttleSettings", "rateLimit")


@rule(
    "apigateway-stage-throttling",
    description="API stages are throttled (method settings, a usage plan or HTTP API default route settings).",
    remediation=(
        "Add aws.apigateway.MethodSettings(method_path='*/*', settings={'throttling_burst_limit': ..., "
        "'throttling_rate_limit': ...}) for the stage (HTTP APIs: default_route_settings)."
    ),
    types={STAGE, HTTP_STAGE},
    enforcement=ADVISORY,
    needs_graph=True,
)
def stage_throttling(stage: Resource, graph: Graph, settings: Mapping[str, Any]) -> Iterator[Outcome]:
    if not any(_throttled(burst, rate) for burst, rate in _stage_limits(stage, graph)):
        yield f"{stage.name} is not throttled: a burst of requests reaches every function"


@rule(
    "cognito-password-policy",
    description="Cognito user pools require passwords of at least the configured length.",
    remediation="Set password_policy.minimum_length to at least minimumLength (and require mixed characters).",
    types={USER_POOL},
    enforcement=ADVISORY,
    config={
        "minimumLength": {
            "type": "integer",
            "minimum": 6,
            "maximum": 99,
            "default": 12,
            "description": "The shortest password a user pool may accept.",
        }
    },
)
def password_policy(pool: Resource, settings: Mapping[str, Any]) -> Iterator[Outcome]:
    length = pool.number("passwordPolicy", "minimumLength") or DEFAULT_MINIMUM_PASSWORD_LENGTH
    if length < settings["minimumLength"]:
        yield f"{pool.name} accepts passwords of {length:g} characters (minimum {settings['minimumLength']:g})"

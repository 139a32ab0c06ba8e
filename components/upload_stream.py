"""UploadStream: authenticated uploads → S3 → Kinesis → consumer → processed objects.

    client ─POST /uploads──────> create ──s3:PutObject──┐
    client ─POST /uploads/url──> presign (presigned POST pinned to one key) ─── browser ──┤
                                                         uploads bucket `uploads/<sub>/<uuid>-<name>`
                                                         │ ObjectCreated, prefix uploads/ (the one publisher)
                                                         ▼
                                         ingest ──kinesis:PutRecord (partition key = owner sub)──> stream
                                                                 (on-demand, KMS, retention from settings)
    stream ──ESM: bisect, finite retries/age, partial batch──> process ──> processed bucket `processed/<sub>/<name>`
                                                   └ records that exhaust retries ─> on-failure queue (SSE, alarmed)
    client ─GET /uploads──> list ──> the caller's own uploads, their status, short-lived links to results

Each function has its own role with exactly the grants in the `*_statements` planners below. The consumer's
event source mapping is planned from the Args by `plan_consumer`, a pure function.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from .bucket import SecureBucket, SecureBucketArgs
from .function import FunctionDefaults, PythonFunction, PythonFunctionArgs
from .limits import CONTENT_TYPE, ORIGIN, STARTING_POSITIONS, check_range, check_tags
from .link import Condition, Link, Statement
from .naming import statement_id
from .queues import failure_queue
from .secure_api import Route
from .tokens import component_type, with_legacy_alias

UPLOADS_PREFIX = "uploads/"
PROCESSED_PREFIX = "processed/"
AWS_MANAGED_KINESIS_KEY = "alias/aws/kinesis"
# An upload event older than this is no longer retried by Lambda: it goes to the failure queue.
INGEST_MAX_EVENT_AGE_SECONDS = 6 * 3600
KINESIS_MAX_BATCH = 10_000
KINESIS_MAX_RETRIES = 10_000
KINESIS_RECORD_AGE = (60, 604_800)  # -1 (forever) is deliberately outside this range
CONSUMER_MIN_TIMEOUT_SECONDS = 60
LAMBDA_MAX_MEMORY_MB = 10_240
MIB = 1_048_576
# The Kinesis actions Lambda's poller uses with the function's role (AWSLambdaKinesisExecutionRole minus
# SubscribeToShard, which only enhanced fan-out consumers need). ListStreams has no resource-level permission.
STREAM_READ_ACTIONS = (
    "kinesis:DescribeStream",
    "kinesis:DescribeStreamSummary",
    "kinesis:GetRecords",
    "kinesis:GetShardIterator",
    "kinesis:ListShards",
)
STREAM_LIST_ACTIONS = ("kinesis:ListStreams",)

# The environment each handler reads (handlers/common/uploads.py UploadEnv); nothing else is passed.
ENVIRONMENT_CONTRACT: Mapping[str, tuple[str, ...]] = {
    "uploads_create": ("UPLOADS_BUCKET", "MAX_UPLOAD_BYTES", "ALLOWED_CONTENT_TYPES"),
    "uploads_presign": ("UPLOADS_BUCKET", "MAX_UPLOAD_BYTES", "UPLOAD_URL_TTL_SECONDS", "ALLOWED_CONTENT_TYPES"),
    "uploads_list": ("UPLOADS_BUCKET", "PROCESSED_BUCKET", "UPLOAD_URL_TTL_SECONDS"),
    "uploads_ingest": ("UPLOADS_BUCKET", "STREAM_NAME"),
    "uploads_process": ("UPLOADS_BUCKET", "PROCESSED_BUCKET", "MAX_UPLOAD_BYTES", "ALLOWED_CONTENT_TYPES"),
}


# ------------------------------------------------------------------------------------------- planning


@dataclass(frozen=True)
class ConsumerPlan:
    """The consumer function's sizing and its Kinesis event source mapping, from settings alone."""

    starting_position: str
    batch_size: int
    max_retry_attempts: int
    max_record_age_seconds: int
    timeout_seconds: int
    memory_mb: int

    def __post_init__(self) -> None:
        problems = []
        if self.starting_position not in STARTING_POSITIONS:
            problems.append(f"starting position must be one of {', '.join(STARTING_POSITIONS)}")
        if not 1 <= self.batch_size <= KINESIS_MAX_BATCH:
            problems.append(f"batch size must be 1..{KINESIS_MAX_BATCH}, got {self.batch_size}")
        if not 0 <= self.max_retry_attempts <= KINESIS_MAX_RETRIES:
            problems.append(f"retries must be finite, 0..{KINESIS_MAX_RETRIES}, got {self.max_retry_attempts}")
        low, high = KINESIS_RECORD_AGE
        if not low <= self.max_record_age_seconds <= high:
            problems.append(f"maximum record age must be finite, {low}..{high} s, got {self.max_record_age_seconds}")
        if not 1 <= self.timeout_seconds <= 900:
            problems.append(f"timeout must be 1..900 s, got {self.timeout_seconds}")
        if not 128 <= self.memory_mb <= LAMBDA_MAX_MEMORY_MB:
            problems.append(f"memory must be 128..{LAMBDA_MAX_MEMORY_MB} MB, got {self.memory_mb}")
        if problems:
            raise ValueError("invalid upload consumer plan: " + "; ".join(problems))


def plan_consumer(uploads: UploadStreamArgs) -> ConsumerPlan:
    """Args → consumer plan. Memory leaves room for an object at the size limit held ~6 times over
    (bytes, decoded text, upper-cased text, encoded result) on top of the runtime's own 128 MB."""
    defaults = uploads.functions
    needed_mb = 128 + math.ceil(6 * uploads.max_bytes / MIB)
    return ConsumerPlan(
        starting_position=uploads.starting_position,
        batch_size=uploads.batch_size,
        max_retry_attempts=uploads.max_retry_attempts,
        max_record_age_seconds=uploads.max_record_age_seconds,
        timeout_seconds=max(defaults.timeout_seconds, CONSUMER_MIN_TIMEOUT_SECONDS),
        memory_mb=min(LAMBDA_MAX_MEMORY_MB, max(defaults.memory_mb, needed_mb)),
    )


def plan_environment(
    uploads: UploadStreamArgs,
    uploads_bucket: pulumi.Input[str],
    processed_bucket: pulumi.Input[str],
    stream_name: pulumi.Input[str],
) -> dict[str, dict[str, pulumi.Input[str]]]:
    """{handler: its environment}, each restricted to the variables in ENVIRONMENT_CONTRACT."""
    values: dict[str, pulumi.Input[str]] = {
        "UPLOADS_BUCKET": uploads_bucket,
        "PROCESSED_BUCKET": processed_bucket,
        "STREAM_NAME": stream_name,
        "MAX_UPLOAD_BYTES": str(uploads.max_bytes),
        "UPLOAD_URL_TTL_SECONDS": str(uploads.url_ttl_seconds),
        "ALLOWED_CONTENT_TYPES": ",".join(uploads.allowed_content_types),
    }
    return {handler: {key: values[key] for key in keys} for handler, keys in ENVIRONMENT_CONTRACT.items()}


def create_statements(uploads_objects: pulumi.Input[str]) -> list[Statement]:
    return [Statement(actions=["s3:PutObject"], resources=[uploads_objects], sid="WriteUploads")]


def presign_statements(uploads_objects: pulumi.Input[str]) -> list[Statement]:
    # A presigned POST carries the signer's rights: this grant, narrowed by the POST policy to one key.
    return [Statement(actions=["s3:PutObject"], resources=[uploads_objects], sid="SignUploads")]


def ingest_statements(
    uploads_objects: pulumi.Input[str],
    stream_arn: pulumi.Input[str],
    failure_queue_arn: pulumi.Input[str],
    customer_key_arn: pulumi.Input[str] | None,
) -> list[Statement]:
    statements = [
        Statement(actions=["s3:GetObject"], resources=[uploads_objects], sid="ReadUploads"),
        Statement(actions=["kinesis:PutRecord"], resources=[stream_arn], sid="PublishUploads"),
        # S3 invokes ingest asynchronously: an event that still fails after Lambda's retries is sent (with
        # this role) to the failure queue instead of being dropped.
        Statement(actions=["sqs:SendMessage"], resources=[failure_queue_arn], sid="ReportFailures"),
    ]
    if customer_key_arn is not None:  # the AWS-managed key needs no grant; a customer key does
        statements.append(Statement(actions=["kms:GenerateDataKey"], resources=[customer_key_arn], sid="EncryptStream"))
    return statements


def process_statements(
    stream_arn: pulumi.Input[str],
    uploads_objects: pulumi.Input[str],
    processed_objects: pulumi.Input[str],
    failure_queue_arn: pulumi.Input[str],
    customer_key_arn: pulumi.Input[str] | None,
) -> list[Statement]:
    statements = [
        Statement(actions=list(STREAM_READ_ACTIONS), resources=[stream_arn], sid="ReadStream"),
        Statement(actions=list(STREAM_LIST_ACTIONS), resources=["*"], sid="ListStreams"),
        Statement(actions=["s3:GetObject"], resources=[uploads_objects], sid="ReadUploads"),
        Statement(actions=["s3:PutObject"], resources=[processed_objects], sid="WriteProcessed"),
        # Lambda sends the on-failure record with the function's role.
        Statement(actions=["sqs:SendMessage"], resources=[failure_queue_arn], sid="ReportFailures"),
    ]
    if customer_key_arn is not None:
        statements.append(Statement(actions=["kms:Decrypt"], resources=[customer_key_arn], sid="DecryptStream"))
    return statements


def list_statements(uploads_bucket_arn: pulumi.Input[str], processed_objects: pulumi.Input[str]) -> list[Statement]:
    # IAM cannot scope a Lambda role per API caller: `uploads/${aws:PrincipalTag/...}` would name the
    # function's own session, not the Cognito user. The role may list the `uploads/*` prefix shape only; the
    # handler lists exactly `uploads/<caller sub>/` from the authorizer's claims (tested).
    return [
        Statement(
            actions=["s3:ListBucket"],
            resources=[uploads_bucket_arn],
            conditions=[Condition(test="StringLike", variable="s3:prefix", values=[f"{UPLOADS_PREFIX}*"])],
            sid="ListUploads",
        ),
        Statement(actions=["s3:GetObject"], resources=[processed_objects], sid="ReadProcessed"),
    ]


# ------------------------------------------------------------------------------------------ component


@dataclass(frozen=True)
class UploadStreamArgs:
    functions: FunctionDefaults
    # Browser origins allowed to post presigned forms to the uploads bucket (the API's CORS origins).
    cors_origins: Sequence[str] = ("http://localhost:3000",)
    max_bytes: int = 1_048_576
    url_ttl_seconds: int = 900
    allowed_content_types: Sequence[str] = ("text/plain", "text/csv", "application/json", "image/png", "image/jpeg")
    stream_retention_hours: int = 24
    starting_position: str = "LATEST"
    batch_size: int = 10
    max_retry_attempts: int = 3
    max_record_age_seconds: int = 3600
    # None: the stream uses the AWS-managed key (alias/aws/kinesis), which needs no IAM grant.
    customer_key_arn: pulumi.Input[str] | None = None
    protect: bool = False
    force_destroy: bool = False
    tags: Mapping[str, str] = field(default_factory=dict)
    alarm_actions: Sequence[str] = ()

    def __post_init__(self) -> None:
        bad = [o for o in self.cors_origins if not ORIGIN.match(o)]
        if bad or not self.cors_origins:
            raise ValueError(f"cors_origins {list(self.cors_origins)}: one or more scheme://host[:port] origins")
        check_range("max_bytes", self.max_bytes, 1, 100 * MIB)
        check_range("url_ttl_seconds", self.url_ttl_seconds, 60, 604800)
        check_range("stream_retention_hours", self.stream_retention_hours, 24, 8760)
        bad = [t for t in self.allowed_content_types if not CONTENT_TYPE.match(t)]
        if bad or not self.allowed_content_types:
            raise ValueError(f"allowed_content_types {list(self.allowed_content_types)}: one or more type/subtype")
        if self.max_record_age_seconds > self.stream_retention_hours * 3600:
            # The stream trims the record first: the age limit would never fire and its failure never be reported.
            raise ValueError(f"max_record_age_seconds must not exceed the stream retention "
                             f"({self.stream_retention_hours * 3600} s)")
        check_tags(self.tags)
        plan_consumer(self)  # raises before any resource exists


class UploadStream(pulumi.ComponentResource):
    uploads: SecureBucket
    processed: SecureBucket
    stream: aws.kinesis.Stream
    failure_queue: aws.sqs.Queue
    create: PythonFunction
    presign: PythonFunction
    lister: PythonFunction
    ingest: PythonFunction
    process: PythonFunction
    uploads_bucket: pulumi.Output[str]
    processed_bucket: pulumi.Output[str]
    stream_name: pulumi.Output[str]
    stream_arn: pulumi.Output[str]
    failure_queue_url: pulumi.Output[str]

    def __init__(self, name: str, args: UploadStreamArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(component_type("UploadStream"), name, None, with_legacy_alias("UploadStream", opts))
        tags = dict(args.tags)
        functions = args.functions
        naming = functions.naming
        child = pulumi.ResourceOptions(parent=self)
        plan = plan_consumer(args)
        key = args.customer_key_arn

        bucket_args = SecureBucketArgs(tags=tags, force_destroy=args.force_destroy, protect=args.protect)
        self.uploads = SecureBucket(f"{name}-uploads", bucket_args, opts=child)
        self.processed = SecureBucket(f"{name}-processed", bucket_args, opts=child)
        uploads_objects = self.uploads.objects_arn(UPLOADS_PREFIX)
        processed_objects = self.processed.objects_arn(PROCESSED_PREFIX)
        # Browsers post presigned forms cross-origin: only POST, only from the API's allowed origins.
        aws.s3.BucketCorsConfiguration(
            f"{name}-uploads-cors",
            bucket=self.uploads.bucket.id,
            cors_rules=[
                aws.s3.BucketCorsConfigurationCorsRuleArgs(
                    allowed_methods=["POST"], allowed_origins=list(args.cors_origins), max_age_seconds=3000
                )
            ],
            opts=child,
        )

        self.stream = aws.kinesis.Stream(
            f"{name}-stream",
            name=naming.name(f"{name}-stream", 128),
            stream_mode_details=aws.kinesis.StreamStreamModeDetailsArgs(stream_mode="ON_DEMAND"),
            retention_period=args.stream_retention_hours,
            encryption_type="KMS",
            kms_key_id=key if key is not None else AWS_MANAGED_KINESIS_KEY,
            tags=tags,
            opts=child,
        )
        self.failure_queue = failure_queue(
            f"{name}-failures", naming.name(f"{name}-failures", 80),
            "Upload records or events exhausted their retries: each message names the shard and sequence range "
            "(or the S3 event); re-read them before the stream's retention ends and check the functions' logs.",
            tags, child, args.alarm_actions)

        environment = plan_environment(args, self.uploads.bucket_name, self.processed.bucket_name,
                                       self.stream.name)

        def function(role: str, handler: str, statements: list[Statement], description: str,
                     schemas: tuple[str, ...] = (), **sizing: int) -> PythonFunction:
            return PythonFunction(
                f"{name}-{role}",
                PythonFunctionArgs(
                    handler=handler,
                    defaults=functions,
                    # This component's own resources, each variable with the grants that make it usable.
                    links=[Link(env=environment[handler], statements=statements)],
                    schemas=schemas,
                    description=functions.describe(description),
                    **sizing,
                ),
                opts=child,
            )

        self.create = function("create", "uploads_create", create_statements(uploads_objects),
                               "Stores a small upload under the caller's prefix", schemas=("upload",))
        self.presign = function("presign", "uploads_presign", presign_statements(uploads_objects),
                                "Issues a presigned POST for one key under the caller's prefix", schemas=("upload_url",))
        self.lister = function("list", "uploads_list", list_statements(self.uploads.arn, processed_objects),
                             "Lists the caller's uploads and links to their results")
        self.ingest = function("ingest", "uploads_ingest",
                               ingest_statements(uploads_objects, self.stream.arn, self.failure_queue.arn, key),
                               "Publishes each new upload to the stream")
        self.process = function(
            "process",
            "uploads_process",
            process_statements(self.stream.arn, uploads_objects, processed_objects, self.failure_queue.arn, key),
            "Turns streamed uploads into processed objects",
            timeout_seconds=plan.timeout_seconds,
            memory_mb=plan.memory_mb,
        )

        self.trigger = aws.lambda_.EventSourceMapping(
            f"{name}-process-trigger",
            event_source_arn=self.stream.arn,
            function_name=self.process.arn,
            starting_position=plan.starting_position,
            batch_size=plan.batch_size,
            bisect_batch_on_function_error=True,
            maximum_retry_attempts=plan.max_retry_attempts,
            maximum_record_age_in_seconds=plan.max_record_age_seconds,
            function_response_types=["ReportBatchItemFailures"],
            destination_config=aws.lambda_.EventSourceMappingDestinationConfigArgs(
                on_failure=aws.lambda_.EventSourceMappingDestinationConfigOnFailureArgs(
                    destination_arn=self.failure_queue.arn
                )
            ),
            opts=child,
        )

        # S3 may invoke ingest only for this bucket, in this account (a deleted-and-recreated bucket name in
        # another account cannot). The notification depends on it: S3 validates the destination on creation.
        account_id = functions.account_id
        if account_id is None:
            account_id = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self)).account_id
        permission = aws.lambda_.Permission(
            f"{name}-ingest-permission",
            statement_id=statement_id(f"{name}-ingest-permission"),
            action="lambda:InvokeFunction",
            function=self.ingest.function_name,
            principal="s3.amazonaws.com",
            source_arn=self.uploads.arn,
            source_account=account_id,
            opts=child,
        )
        aws.lambda_.FunctionEventInvokeConfig(
            f"{name}-ingest-on-failure",
            function_name=self.ingest.function_name,
            maximum_retry_attempts=2,
            maximum_event_age_in_seconds=INGEST_MAX_EVENT_AGE_SECONDS,
            destination_config=aws.lambda_.FunctionEventInvokeConfigDestinationConfigArgs(
                on_failure=aws.lambda_.FunctionEventInvokeConfigDestinationConfigOnFailureArgs(
                    destination=self.failure_queue.arn
                )
            ),
            opts=child,
        )
        aws.s3.BucketNotification(
            f"{name}-uploads-notification",
            bucket=self.uploads.bucket.id,
            lambda_functions=[
                aws.s3.BucketNotificationLambdaFunctionArgs(
                    lambda_function_arn=self.ingest.arn,
                    events=["s3:ObjectCreated:*"],
                    filter_prefix=UPLOADS_PREFIX,
                )
            ],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[permission]),
        )

        # Data for the program to add to its API (`api.add_routes(uploads.routes)`).
        self.routes = (
            Route("POST", "/uploads", self.create, request_schema="upload"),
            Route("POST", "/uploads/url", self.presign, request_schema="upload_url"),
            Route("GET", "/uploads", self.lister),
        )

        self.uploads_bucket = self.uploads.bucket_name
        self.processed_bucket = self.processed.bucket_name
        self.stream_name = self.stream.name
        self.stream_arn = self.stream.arn
        self.failure_queue_url = self.failure_queue.url
        self.register_outputs(
            {
                "uploads_bucket": self.uploads_bucket,
                "processed_bucket": self.processed_bucket,
                "stream_name": self.stream_name,
                "stream_arn": self.stream_arn,
                "failure_queue_url": self.failure_queue_url,
            }
        )

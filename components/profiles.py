"""Profiles: a DynamoDB `profiles` table, POST /profiles and GET /profiles/{id}, and a welcome email per new
profile from the table's stream.

    client ─POST /profiles──────> upsert ──dynamodb:UpdateItem──> profiles table (on-demand, PITR, SSE, stream
    client ─GET  /profiles/{id}─> get ─────dynamodb:GetItem─────┤  NEW_AND_OLD_IMAGES, deletion protection)
    sign-up (creator_link) ────────────────dynamodb:PutItem─────┘  the new user's row: its INSERT welcomes them
    stream ──ESM: INSERT only, bisect, finite retries/age, partial batch──> welcome ──> email outbox (WelcomeEmail)
                                         └ records that exhaust retries ─> on-failure queue (SSE, alarmed)

Who may read or write which profile is decided in the handlers (the caller's `sub`, the `admins` group): a
Lambda role cannot carry the caller's identity. Each role holds exactly the statements of the planners below.
Issue-10 shape: own frozen Args (no app Settings), the email outbox as a Link, `.routes` for the program to
add to its API, and `creator_link()` for a sign-up flow to create the row (so each user is welcomed once, by the
stream, however they signed up).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from .function import FunctionDefaults, PythonFunction, PythonFunctionArgs
from .limits import check_tags
from .link import Link, Statement
from .order_states import TablePlan, profiles_table
from .queues import failure_queue
from .secure_api import Route
from .tokens import component_type

# What Lambda's poller does with the function's role on a DynamoDB stream (AWSLambdaDynamoDBExecutionRole's
# stream actions); ListStreams has no resource-level permission in IAM, so it alone is granted on "*".
STREAM_READ_ACTIONS = ("dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator")
STREAM_LIST_ACTIONS = ("dynamodb:ListStreams",)
STREAM_MAX_RETRIES = 10_000
STREAM_RECORD_AGE = (60, 604_800)


def table_resource(name: str, plan: TablePlan, tags: Mapping[str, str], parent: pulumi.Resource) -> aws.dynamodb.Table:
    """`f"{name}-table"` from its plan: on-demand, PITR, SSE with the AWS managed key, deletion protection and
    Pulumi `protect` + retain-on-delete when the plan says so."""
    return aws.dynamodb.Table(
        f"{name}-table",
        name=plan.name,
        billing_mode="PAY_PER_REQUEST",
        hash_key=plan.hash_key,
        attributes=[aws.dynamodb.TableAttributeArgs(name=k, type=t) for k, t in plan.attributes.items()],
        global_secondary_indexes=[
            # key_schemas, not the deprecated hash_key/range_key of an index (pulumi-aws 7.x warns on every run).
            aws.dynamodb.TableGlobalSecondaryIndexArgs(
                name=ix.name, projection_type=ix.projection,
                key_schemas=[aws.dynamodb.TableGlobalSecondaryIndexKeySchemaArgs(attribute_name=key, key_type=kind)
                             for key, kind in ((ix.hash_key, "HASH"), (ix.range_key, "RANGE")) if key])
            for ix in plan.indexes
        ] or None,
        ttl=(aws.dynamodb.TableTtlArgs(attribute_name=plan.ttl_attribute, enabled=True)
             if plan.ttl_attribute else None),
        point_in_time_recovery=aws.dynamodb.TablePointInTimeRecoveryArgs(enabled=plan.point_in_time_recovery),
        server_side_encryption=aws.dynamodb.TableServerSideEncryptionArgs(enabled=True),
        stream_enabled=plan.stream_view_type is not None,
        stream_view_type=plan.stream_view_type,
        deletion_protection_enabled=plan.protect,
        tags=dict(tags),
        opts=pulumi.ResourceOptions(parent=parent, protect=plan.protect, retain_on_delete=plan.protect),
    )


def upsert_statements(table_arn: pulumi.Input[str]) -> list[Statement]:
    # UpdateItem only: the upsert never replaces the whole item (PutItem would drop the welcome marker).
    return [Statement(actions=["dynamodb:UpdateItem"], resources=[table_arn], sid="UpsertOwnProfile")]


def get_statements(table_arn: pulumi.Input[str]) -> list[Statement]:
    return [Statement(actions=["dynamodb:GetItem"], resources=[table_arn], sid="ReadProfile")]


def creator_statements(table_arn: pulumi.Input[str]) -> list[Statement]:
    # PutItem only, guarded in the handler by attribute_not_exists(userId): it creates a profile, never updates one.
    return [Statement(actions=["dynamodb:PutItem"], resources=[table_arn], sid="CreateProfile")]


def welcome_statements(table_arn: pulumi.Input[str], stream_arn: pulumi.Input[str],
                       failure_queue_arn: pulumi.Input[str]) -> list[Statement]:
    """Read the stream (what the event source mapping needs), mark the profile welcomed, and send a record that
    exhausts its retries to the on-failure queue (Lambda sends it with the function's role)."""
    return [
        Statement(actions=list(STREAM_READ_ACTIONS), resources=[stream_arn], sid="ReadProfileStream"),
        Statement(actions=list(STREAM_LIST_ACTIONS), resources=["*"], sid="ListStreamsHasNoResourceLevel"),
        # Claim and mark in conditional updates (the condition reads the item: no GetItem needed).
        Statement(actions=["dynamodb:UpdateItem"], resources=[table_arn], sid="WelcomeMarker"),
        Statement(actions=["sqs:SendMessage"], resources=[failure_queue_arn], sid="OnFailureDestination"),
    ]


@dataclass(frozen=True)
class ProfilesArgs:
    functions: FunctionDefaults
    # The welcome-email outbox: `EmailSender.producer_link()` (EMAIL_QUEUE_URL + sqs:SendMessage).
    email: Link | None = None
    protect: bool = False
    admin_group: str = "admins"
    batch_size: int = 10
    max_retry_attempts: int = 3
    max_record_age_seconds: int = 3600
    tags: Mapping[str, str] = field(default_factory=dict)
    alarm_actions: Sequence[str] = ()

    def __post_init__(self) -> None:
        problems = []
        if not 1 <= self.batch_size <= 10_000:
            problems.append(f"batch_size must be 1..10000, got {self.batch_size}")
        if not 0 <= self.max_retry_attempts <= STREAM_MAX_RETRIES:
            problems.append(f"max_retry_attempts must be finite, 0..{STREAM_MAX_RETRIES}")
        low, high = STREAM_RECORD_AGE
        if not low <= self.max_record_age_seconds <= high:
            problems.append(f"max_record_age_seconds must be finite, {low}..{high}")
        if self.email is not None and set(self.email.env) != {"EMAIL_QUEUE_URL"}:
            problems.append("email must be the outbox's producer link (exactly EMAIL_QUEUE_URL)")
        try:
            check_tags(self.tags)
            self.plan("profiles")
        except ValueError as exc:
            problems.append(str(exc))
        if problems:
            raise ValueError("invalid profiles args: " + "; ".join(problems))

    def plan(self, name: str) -> TablePlan:
        return profiles_table(self.functions.naming.name(name, 255), self.protect)


class Profiles(pulumi.ComponentResource):
    table: aws.dynamodb.Table
    upsert: PythonFunction
    get: PythonFunction
    welcome: PythonFunction
    failure_queue: aws.sqs.Queue
    routes: tuple[Route, ...]

    def __init__(self, name: str, args: ProfilesArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(component_type("Profiles"), name, None, opts)
        if args.email is None:
            raise ValueError("ProfilesArgs.email is required: pass the outbox's producer_link()")
        tags = dict(args.tags)
        functions = args.functions
        child = pulumi.ResourceOptions(parent=self)

        self.table = table_resource(name, args.plan(name), tags, self)
        table_env = {"PROFILES_TABLE": self.table.name}
        self.failure_queue = failure_queue(
            f"{name}-welcome-failures", functions.naming.name(f"{name}-welcome-failures", 80),
            "Profile stream records exhausted their retries: each message names the shard and sequence "
            "range; re-read them within 24 h (stream retention) and check the welcome function's logs.",
            tags, child, args.alarm_actions)

        self.upsert = PythonFunction(f"{name}-upsert", PythonFunctionArgs(
            handler="profiles_upsert", defaults=functions, environment=table_env,
            statements=upsert_statements(self.table.arn), schemas=("profile",),
            description=functions.describe("Creates or updates the caller's own profile")), opts=child)
        self.get = PythonFunction(f"{name}-get", PythonFunctionArgs(
            handler="profiles_get", defaults=functions, environment={**table_env, "ADMIN_GROUP": args.admin_group},
            statements=get_statements(self.table.arn),
            description=functions.describe("Returns the caller's own profile (any profile for admins)")), opts=child)
        self.welcome = PythonFunction(f"{name}-welcome", PythonFunctionArgs(
            handler="profiles_welcome", defaults=functions, environment=table_env, links=[args.email],
            statements=welcome_statements(self.table.arn, self.table.stream_arn, self.failure_queue.arn),
            description=functions.describe("Queues one WelcomeEmail per new profile")), opts=child)
        self.trigger = aws.lambda_.EventSourceMapping(
            f"{name}-welcome-trigger",
            event_source_arn=self.table.stream_arn,
            function_name=self.welcome.arn,
            # Every record the stream still holds (24 h): a new profile created while the function was being
            # deployed is welcomed too. LATEST would skip it.
            starting_position="TRIM_HORIZON",
            batch_size=args.batch_size,
            bisect_batch_on_function_error=True,
            maximum_retry_attempts=args.max_retry_attempts,
            maximum_record_age_in_seconds=args.max_record_age_seconds,
            function_response_types=["ReportBatchItemFailures"],
            # Only INSERTs wake the function: updates (and the welcome marker's own write) are filtered out by Lambda.
            filter_criteria=aws.lambda_.EventSourceMappingFilterCriteriaArgs(
                filters=[aws.lambda_.EventSourceMappingFilterCriteriaFilterArgs(pattern='{"eventName":["INSERT"]}')]
            ),
            destination_config=aws.lambda_.EventSourceMappingDestinationConfigArgs(
                on_failure=aws.lambda_.EventSourceMappingDestinationConfigOnFailureArgs(
                    destination_arn=self.failure_queue.arn)
            ),
            opts=child,
        )
        # Data for the program to add to its API (`api.add_routes(profiles.routes)`).
        self.routes = (
            Route("POST", "/profiles", self.upsert, request_schema="profile"),
            Route("GET", "/profiles/{id}", self.get),
        )

        self.table_name = self.table.name
        self.table_arn = self.table.arn
        self.stream_arn = self.table.stream_arn
        self.failure_queue_url = self.failure_queue.url
        self.register_outputs({"table_name": self.table_name, "table_arn": self.table_arn,
                               "stream_arn": self.stream_arn, "failure_queue_url": self.failure_queue_url})

    def creator_link(self) -> Link:
        """For a function that creates a user's profile row (sign-up): PROFILES_TABLE + PutItem on the table.
        The row's INSERT on the stream is what sends that user's one welcome email."""
        return Link(env={"PROFILES_TABLE": self.table.name}, statements=creator_statements(self.table.arn))

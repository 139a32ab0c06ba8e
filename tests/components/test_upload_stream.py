"""UploadStream under recording mocks: stream, consumer mapping, S3 notification, exact roles, protected routes."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from components import settings as stack_settings
from components.queues import DLQ_RETENTION_SECONDS
from components.secure_api import SecureApi
from components.settings import ConfigError, UploadSettings, settings_from, stack_args
from components.upload_stream import (
    AWS_MANAGED_KINESIS_KEY,
    ENVIRONMENT_CONTRACT,
    ConsumerPlan,
    UploadStream,
    UploadStreamArgs,
    plan_consumer,
)
from handlers.common.uploads import UploadEnv
from offline.runtime import ProgramRun, stack_config
from policies.check import stack_config_path
from policies.guard import RULES
from policies.guard.adapters import from_program_run
from policies.guard.config import load
from policies.guard.engine import evaluate
from tests.graph import FUNCTION, PERMISSION, actions_by_resource, dependency, role_statements, routes

STACKS = ("dev", "prod")
FUNCTIONS = ("uploads-create", "uploads-presign", "uploads-list", "uploads-ingest", "uploads-process")
CUSTOMER_KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def program(customer_key_arn: str | None = None):
    def run() -> None:
        from components.user_pool import UserPool

        stack = stack_settings.load()
        users = UserPool("api", stack.user_pool)
        api = SecureApi("api", stack.api.with_user_pools(users.arn))
        uploads = UploadStream("uploads", replace(stack.uploads, customer_key_arn=customer_key_arn))
        api.add_routes(uploads.routes)
        api.deploy()

    return run


def settings_for(stack: str, config: dict[str, Any] | None = None) -> stack_settings.Settings:
    project, values = stack_config(stack, overrides=config)
    return settings_from(lambda key: values.get(f"{project}:{key}"), project=project, stack=stack)


def uploads_args(stack: str) -> UploadStreamArgs:
    return stack_args(settings_for(stack)).uploads


def arn(run: ProgramRun, name: str) -> str:
    return run.named(name).outputs["arn"]


def bucket_name(run: ProgramRun, component: str) -> str:
    return run.named(f"{component}-bucket").outputs["bucket"]


@pytest.fixture(scope="module")
def runs() -> dict[str, ProgramRun]:
    """One recorded program per stack, shared by the read-only assertions below (each run takes ~1 s)."""
    from offline.mocks import RealisticMocks
    from offline.runtime import run_program

    recorded = {}
    for stack in STACKS:
        project, values = stack_config(stack)
        recorded[stack] = run_program(program(), project=project, stack=stack, config=values, mocks=RealisticMocks())
    return recorded


# ------------------------------------------------------------------------------------------ stream


@pytest.mark.parametrize("stack", STACKS)
def test_stream_is_on_demand_kms_encrypted_with_configured_retention(runs: dict[str, ProgramRun], stack: str) -> None:
    stream = runs[stack].named("uploads-stream").inputs
    assert stream["streamModeDetails"] == {"streamMode": "ON_DEMAND"}
    assert "shardCount" not in stream  # on-demand streams size themselves
    assert (stream["encryptionType"], stream["kmsKeyId"]) == ("KMS", AWS_MANAGED_KINESIS_KEY)
    assert stream["retentionPeriod"] == settings_for(stack).uploads.stream_retention_hours == 24
    assert stream["name"] == f"secure-serverless-{stack}-uploads-stream"


def test_configured_retention_reaches_the_stream(run_pulumi) -> None:
    run = run_pulumi(program(), config={"uploadsStreamRetentionHours": 72})
    assert run.named("uploads-stream").inputs["retentionPeriod"] == 72


def test_a_record_age_beyond_the_stream_retention_is_a_config_error(run_pulumi) -> None:
    with pytest.raises(ConfigError, match="uploadsMaxRecordAgeSeconds = 90000"):
        run_pulumi(program(), config={"uploadsMaxRecordAgeSeconds": 90000})


# ------------------------------------------------------------------------------------- the consumer


@pytest.mark.parametrize("stack", STACKS)
def test_mapping_bisects_retries_finitely_and_reports_to_the_failure_queue(
    runs: dict[str, ProgramRun], stack: str
) -> None:
    run = runs[stack]
    uploads = settings_for(stack).uploads
    trigger = run.named("uploads-process-trigger")
    inputs = trigger.inputs

    assert dependency(run, trigger, "eventSourceArn") == run.named("uploads-stream")
    assert inputs["eventSourceArn"] == run.named("uploads-stream").outputs["arn"]
    assert inputs["functionName"] == arn(run, "uploads-process-function")
    assert inputs["startingPosition"] == uploads.starting_position == "LATEST"
    assert inputs["batchSize"] == uploads.batch_size
    assert inputs["bisectBatchOnFunctionError"] is True
    assert inputs["maximumRetryAttempts"] == uploads.max_retry_attempts == 3
    assert inputs["maximumRecordAgeInSeconds"] == uploads.max_record_age_seconds == 3600
    assert inputs["functionResponseTypes"] == ["ReportBatchItemFailures"]
    assert inputs["destinationConfig"] == {"onFailure": {"destinationArn": arn(run, "uploads-failures")}}

    queue = run.named("uploads-failures").inputs
    assert queue["sqsManagedSseEnabled"] is True
    assert queue["messageRetentionSeconds"] == DLQ_RETENTION_SECONDS == 14 * 24 * 3600
    alarm = run.named("uploads-failures-alarm").inputs
    assert alarm["dimensions"] == {"QueueName": run.named("uploads-failures").outputs["name"]}
    assert (alarm["metricName"], alarm["threshold"]) == ("ApproximateNumberOfMessagesVisible", 0)


def test_configured_consumer_settings_reach_the_mapping(run_pulumi) -> None:
    config = {"uploadsStartingPosition": "TRIM_HORIZON", "uploadsBatchSize": 100, "uploadsMaxRetryAttempts": 0,
              "uploadsMaxRecordAgeSeconds": 120, "uploadsMaxBytes": 50 * 1_048_576}
    run = run_pulumi(program(), config=config)
    inputs = run.named("uploads-process-trigger").inputs
    assert (inputs["startingPosition"], inputs["batchSize"]) == ("TRIM_HORIZON", 100)
    assert (inputs["maximumRetryAttempts"], inputs["maximumRecordAgeInSeconds"]) == (0, 120)
    function = run.named("uploads-process-function").inputs
    assert function["memorySize"] == 128 + 6 * 50 and function["timeout"] == 60


@pytest.mark.parametrize("value", [-1, 10_001])
def test_infinite_or_excessive_retries_are_config_errors(run_pulumi, value: int) -> None:
    with pytest.raises(ConfigError, match="uploadsMaxRetryAttempts"):
        run_pulumi(program(), config={"uploadsMaxRetryAttempts": value})


_upload_settings = st.builds(
    UploadSettings,
    max_bytes=st.integers(1, 100 * 1_048_576),
    url_ttl_seconds=st.integers(60, 604_800),
    allowed_content_types=st.just(("text/plain",)),
    stream_retention_hours=st.integers(24, 8760),
    starting_position=st.sampled_from(("LATEST", "TRIM_HORIZON")),
    batch_size=st.integers(1, 10_000),
    max_retry_attempts=st.integers(0, 10_000),
    max_record_age_seconds=st.integers(60, 604_800),
)


@given(uploads=_upload_settings, memory=st.integers(128, 10_240), timeout=st.integers(1, 900))
def test_every_valid_setting_plans_a_finite_consumer_that_fits_an_object(
    uploads: UploadSettings, memory: int, timeout: int
) -> None:
    assume(uploads.max_record_age_seconds <= uploads.stream_retention_hours * 3600)
    base = uploads_args("dev")
    functions = replace(base.functions, memory_mb=memory, timeout_seconds=timeout)
    plan = plan_consumer(replace(base, functions=functions, max_bytes=uploads.max_bytes,
                                 url_ttl_seconds=uploads.url_ttl_seconds,
                                 stream_retention_hours=uploads.stream_retention_hours,
                                 starting_position=uploads.starting_position, batch_size=uploads.batch_size,
                                 max_retry_attempts=uploads.max_retry_attempts,
                                 max_record_age_seconds=uploads.max_record_age_seconds))
    assert 0 <= plan.max_retry_attempts <= 10_000 and 60 <= plan.max_record_age_seconds <= 604_800
    assert plan.timeout_seconds >= max(timeout, 60)
    assert plan.memory_mb >= memory
    assert plan.memory_mb == 10_240 or plan.memory_mb * 1_048_576 >= 6 * uploads.max_bytes + 128 * 1_048_576


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"max_retry_attempts": -1}, "retries must be finite"),
        ({"max_record_age_seconds": -1}, "record age must be finite"),
        ({"batch_size": 10_001}, "batch size"),
        ({"starting_position": "AT_TIMESTAMP"}, "starting position"),
        ({"memory_mb": 10_241}, "memory"),
    ],
)
def test_consumer_plan_refuses_what_aws_refuses_or_never_ends(change: dict[str, Any], problem: str) -> None:
    valid = plan_consumer(uploads_args("dev"))
    with pytest.raises(ValueError, match=problem):
        replace(valid, **change)


# ------------------------------------------------------------------------------- the one publisher


@pytest.mark.parametrize("stack", STACKS)
def test_s3_notifies_ingest_for_uploads_only_after_the_scoped_permission(
    runs: dict[str, ProgramRun], stack: str
) -> None:
    run = runs[stack]
    ingest = run.named("uploads-ingest-function")
    (notification,) = run.of_type("aws:s3/bucketNotification:BucketNotification")
    permission = run.named("uploads-ingest-permission")

    assert dependency(run, notification, "bucket") == run.named("uploads-uploads-bucket")
    assert notification.inputs["lambdaFunctions"] == [
        {"lambdaFunctionArn": ingest.outputs["arn"], "events": ["s3:ObjectCreated:*"], "filterPrefix": "uploads/"}
    ]
    assert permission.urn in notification.dependencies  # S3 validates the destination when it is created
    assert permission.inputs["principal"] == "s3.amazonaws.com"
    assert permission.inputs["action"] == "lambda:InvokeFunction"
    assert permission.inputs["sourceArn"] == arn(run, "uploads-uploads-bucket")
    assert permission.inputs["sourceAccount"] == "123456789012"
    assert dependency(run, permission, "function") == ingest
    s3_permissions = [p for p in run.of_type(PERMISSION) if p.inputs["principal"] == "s3.amazonaws.com"]
    assert s3_permissions == [permission]


# ---------------------------------------------------------------------------------------- the roles


@pytest.mark.parametrize("stack", STACKS)
def test_each_role_has_exactly_its_grants(runs: dict[str, ProgramRun], stack: str) -> None:
    run = runs[stack]
    uploads_bucket, processed_bucket = arn(run, "uploads-uploads-bucket"), arn(run, "uploads-processed-bucket")
    uploads, processed = f"{uploads_bucket}/uploads/*", f"{processed_bucket}/processed/*"
    stream, failures = run.named("uploads-stream").outputs["arn"], arn(run, "uploads-failures")
    tracing = {"xray:PutTraceSegments", "xray:PutTelemetryRecords"} if stack == "prod" else set()

    def grants(component: str) -> dict[str, set[str]]:
        found = actions_by_resource(role_statements(run, component))
        assert found.pop(arn(run, f"{component}-logs") + ":*") == {"logs:CreateLogStream", "logs:PutLogEvents"}
        return found

    def wildcard(*actions: str) -> dict[str, set[str]]:
        return {"*": {*actions, *tracing}} if actions or tracing else {}

    assert grants("uploads-create") == {uploads: {"s3:PutObject"}, **wildcard()}
    assert grants("uploads-presign") == {uploads: {"s3:PutObject"}, **wildcard()}
    assert grants("uploads-ingest") == {
        uploads: {"s3:GetObject"}, stream: {"kinesis:PutRecord"}, failures: {"sqs:SendMessage"}, **wildcard()
    }
    assert grants("uploads-process") == {
        stream: {"kinesis:GetRecords", "kinesis:GetShardIterator", "kinesis:DescribeStream",
                 "kinesis:DescribeStreamSummary", "kinesis:ListShards"},
        uploads: {"s3:GetObject"},
        processed: {"s3:PutObject"},
        failures: {"sqs:SendMessage"},
        **wildcard("kinesis:ListStreams"),
    }
    assert grants("uploads-list") == {uploads_bucket: {"s3:ListBucket"}, processed: {"s3:GetObject"}, **wildcard()}

    # ListStreams (no resource-level permission) stands alone on "*"; ListBucket is limited to the uploads/ shape.
    process = role_statements(run, "uploads-process")
    assert [s["Action"] for s in process if s["Resource"] == ["*"] and s.get("Sid") == "ListStreams"] == [
        ["kinesis:ListStreams"]
    ]
    (listing,) = [s for s in role_statements(run, "uploads-list") if "s3:ListBucket" in s["Action"]]
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["uploads/*"]}}
    assert not any("kms:" in a for c in FUNCTIONS for s in role_statements(run, c) for a in s["Action"])


def test_a_customer_key_encrypts_the_stream_and_only_its_users_get_it(run_pulumi) -> None:
    run = run_pulumi(program(CUSTOMER_KEY))
    assert run.named("uploads-stream").inputs["kmsKeyId"] == CUSTOMER_KEY

    def key_actions(component: str) -> set[str]:
        return actions_by_resource(role_statements(run, component)).get(CUSTOMER_KEY, set())

    assert key_actions("uploads-process") == {"kms:Decrypt"}
    assert key_actions("uploads-ingest") == {"kms:GenerateDataKey"}
    assert all(key_actions(c) == set() for c in ("uploads-create", "uploads-presign", "uploads-list"))


# ----------------------------------------------------------------------------- routes, env, buckets


@pytest.mark.parametrize("stack", STACKS)
def test_every_upload_route_is_cognito_protected_and_invokes_only_its_function(
    runs: dict[str, ProgramRun], stack: str
) -> None:
    run = runs[stack]
    table = routes(run)
    authorizer = run.of_type("aws:apigateway/authorizer:Authorizer")[0].urn
    execution_arn = run.of_type("aws:apigateway/restApi:RestApi")[0].outputs["executionArn"]
    expected = {
        "POST /uploads": ("uploads-create", "/*/POST/uploads", "UploadModel"),
        "POST /uploads/url": ("uploads-presign", "/*/POST/uploads/url", "UploadUrlModel"),
        "GET /uploads": ("uploads-list", "/*/GET/uploads", None),
    }
    for key, (component, source, model) in expected.items():
        route = table[key]
        assert (route.authorization, route.authorizer_urn) == ("COGNITO_USER_POOLS", authorizer)
        assert route.resource.inputs.get("requestModels") == ({"application/json": model} if model else None)
        function = run.named(f"{component}-function")
        permissions = [p for p in run.of_type(PERMISSION) if dependency(run, p, "function") == function]
        assert [p.inputs["sourceArn"] for p in permissions] == [execution_arn + source]
    models = {m.inputs["name"]: json.loads(m.inputs["schema"])["title"]
              for m in run.of_type("aws:apigateway/model:Model")}
    assert models == {"UploadModel": "Upload", "UploadUrlModel": "UploadUrl"}


def test_each_function_gets_exactly_its_environment_contract(runs: dict[str, ProgramRun]) -> None:
    run = runs["dev"]
    uploads = settings_for("dev").uploads
    values = {
        "UPLOADS_BUCKET": bucket_name(run, "uploads-uploads"),
        "PROCESSED_BUCKET": bucket_name(run, "uploads-processed"),
        "STREAM_NAME": run.named("uploads-stream").outputs["name"],
        "MAX_UPLOAD_BYTES": str(uploads.max_bytes),
        "UPLOAD_URL_TTL_SECONDS": str(uploads.url_ttl_seconds),
        "ALLOWED_CONTENT_TYPES": "text/plain,text/csv,application/json,image/png,image/jpeg",
    }
    foundation = {"ALLOWED_ORIGINS", "STAGE", "SERVICE_NAME"}
    for component in FUNCTIONS:
        function = run.named(f"{component}-function").inputs
        handler = function["handler"].removeprefix("handlers.").removesuffix(".handler")
        own = {k: v for k, v in function["environment"]["variables"].items() if k not in foundation}
        assert own == {k: values[k] for k in ENVIRONMENT_CONTRACT[handler]}, component
    assert {h for h in ENVIRONMENT_CONTRACT} == {f"uploads_{c.split('-')[1]}" for c in FUNCTIONS}


def test_the_environment_round_trips_into_the_handlers_configuration(runs: dict[str, ProgramRun],
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    variables = runs["dev"].named("uploads-process-function").inputs["environment"]["variables"]
    for key, value in variables.items():
        monkeypatch.setenv(key, value)
    loaded = UploadEnv.load()
    uploads = settings_for("dev").uploads
    assert loaded.max_bytes == uploads.max_bytes
    assert loaded.content_types == frozenset(uploads.allowed_content_types)
    assert loaded.processed_bucket == variables["PROCESSED_BUCKET"]


def test_archives_carry_the_upload_helpers_and_only_the_schema_they_validate(runs: dict[str, ProgramRun]) -> None:
    run = runs["dev"]
    archives = {f.name: f.inputs["code"]["__archive"] for f in run.of_type(FUNCTION) if f.name.startswith("uploads-")}
    assert all("handlers/common/uploads.py" in files for files in archives.values())
    schemas = {name: sorted(p for p in files if p.startswith("handlers/schemas/")) for name, files in archives.items()}
    assert schemas == {
        "uploads-create-function": ["handlers/schemas/upload.json"],
        "uploads-presign-function": ["handlers/schemas/upload_url.json"],
        "uploads-list-function": [],
        "uploads-ingest-function": [],
        "uploads-process-function": [],
    }


@pytest.mark.parametrize("stack", STACKS)
def test_both_buckets_are_secure_buckets_and_only_uploads_accepts_browser_posts(
    runs: dict[str, ProgramRun], stack: str
) -> None:
    run = runs[stack]
    for component in ("uploads-uploads", "uploads-processed"):
        assert run.named(component).type == "secure-serverless:components:SecureBucket"
        assert run.named(f"{component}-bucket").protect is (stack == "prod")
    (cors,) = run.of_type("aws:s3/bucketCorsConfiguration:BucketCorsConfiguration")
    assert dependency(run, cors, "bucket") == run.named("uploads-uploads-bucket")
    (rule,) = cors.inputs["corsRules"]
    assert rule["allowedMethods"] == ["POST"]
    assert rule["allowedOrigins"] == list(settings_for(stack).cors_origins)


@pytest.mark.parametrize("stack", STACKS)
def test_the_policy_pack_finds_nothing_in_the_upload_stream(runs: dict[str, ProgramRun], stack: str) -> None:
    # The pack as the stack runs it: with its config (dev keeps X-Ray off; the app's public routes are listed there).
    report = evaluate(from_program_run(runs[stack]), RULES, load(RULES, stack_config_path(stack)))
    ours = [f for f in report.findings if "uploads" in f.urn.rsplit("::", 1)[-1]]
    assert ours == []


def test_outputs_name_the_buckets_stream_and_failure_queue(runs: dict[str, ProgramRun]) -> None:
    run = runs["dev"]
    [component] = run.of_type("secure-serverless:components:UploadStream")
    outputs = run.component_outputs[component.urn]
    assert outputs == {
        "uploads_bucket": bucket_name(run, "uploads-uploads"),
        "processed_bucket": bucket_name(run, "uploads-processed"),
        "stream_name": run.named("uploads-stream").outputs["name"],
        "stream_arn": run.named("uploads-stream").outputs["arn"],
        "failure_queue_url": run.named("uploads-failures").outputs["url"],
    }


def test_consumer_plan_is_what_the_component_deploys(runs: dict[str, ProgramRun]) -> None:
    plan = plan_consumer(uploads_args("dev"))
    assert isinstance(plan, ConsumerPlan)
    function = runs["dev"].named("uploads-process-function").inputs
    assert (function["timeout"], function["memorySize"]) == (plan.timeout_seconds, plan.memory_mb) == (60, 256)


@pytest.mark.parametrize("stack", STACKS)
def test_failed_asynchronous_ingest_events_go_to_the_failure_queue(runs: dict[str, ProgramRun], stack: str) -> None:
    run = runs[stack]
    (config,) = run.of_type("aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig")
    assert config.inputs["functionName"] == run.named("uploads-ingest-function").outputs["name"]
    assert config.inputs["destinationConfig"]["onFailure"]["destination"] == arn(run, "uploads-failures")
    assert 0 <= config.inputs["maximumRetryAttempts"] <= 2
    assert config.inputs["maximumEventAgeInSeconds"] <= run.named("uploads-stream").inputs["retentionPeriod"] * 3600


def test_upload_stream_alone_from_explicit_args(run_pulumi, recording_mocks) -> None:
    """No stack config, no API: the flow stands alone and hands its routes back as data."""
    from components.function import FunctionDefaults
    from components.naming import Naming

    def alone():
        functions = FunctionDefaults(naming=Naming("media-test"), account_id="210987654321")
        stream = UploadStream("media", UploadStreamArgs(functions=functions, cors_origins=("https://media.example.org",),
                                                        max_bytes=2 * 1_048_576, stream_retention_hours=48))
        assert [f"{r.method} {r.path}" for r in stream.routes] == ["POST /uploads", "POST /uploads/url", "GET /uploads"]

    run = run_pulumi(alone)
    assert run.named("media-stream").inputs["retentionPeriod"] == 48
    assert run.named("media-create-function").inputs["environment"]["variables"]["MAX_UPLOAD_BYTES"] == str(2 * 1_048_576)
    assert run.named("media-ingest-permission").inputs["sourceAccount"] == "210987654321"
    assert run.of_type("aws:apigateway/method:Method") == []
    assert not [c for c in recording_mocks.invokes if c.token == "aws:index/getCallerIdentity:getCallerIdentity"]
    with pytest.raises(ValueError, match="stream retention"):
        UploadStreamArgs(functions=FunctionDefaults(naming=Naming("m")), max_record_age_seconds=200_000)

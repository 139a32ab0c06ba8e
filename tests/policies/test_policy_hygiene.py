"""Serverless hygiene rules, each broken once in the compliant reference app."""

from __future__ import annotations

from dataclasses import replace

import pytest

from policies.guard.model import UNKNOWN, Graph
from tests.policies.policy_builders import StackBuilder, arn, findings, fired, judge, named, with_props, with_resource


def without(graph: Graph, *names: str) -> Graph:
    return Graph(r for r in graph.resources if r.name not in names)


def unverified(graph: Graph, rule_id: str) -> set[str]:
    return {f.urn.rsplit("::", 1)[-1] for f in findings(graph, rule_id) if not f.verified}


# --- SQS -----------------------------------------------------------------------------------------------------


def test_queue_without_dlq(reference):
    graph = with_props(reference, "orders-queue", redrivePolicy=None)
    # The former DLQ is now an ordinary queue without one, too.
    assert fired(graph) == {"sqs-queue-has-dlq": {"orders-queue", "orders-dlq"}}


def test_dead_letter_queues_are_recognised_without_property_dependencies(reference):
    stripped = Graph(replace(r, property_dependencies={}) for r in reference.resources)
    assert "sqs-queue-has-dlq" not in fired(stripped)


def test_redrive_allow_policy_and_redrive_policy_resources():
    b = StackBuilder()
    dlq = b.add("aws:sqs/queue:Queue", "dlq",
                {"sqsManagedSseEnabled": True, "redriveAllowPolicy": '{"redrivePermission":"allowAll"}'})
    source = b.add("aws:sqs/queue:Queue", "source", {"sqsManagedSseEnabled": True, "arn": arn("sqs", "source")},
                   id="https://sqs/source")
    assert fired(b.graph()) == {"sqs-queue-has-dlq": {"source"}}
    b.add("aws:sqs/redrivePolicy:RedrivePolicy", "source-redrive", {"queueUrl": source.id, "redrivePolicy": "{}"},
          deps={"queueUrl": source, "redrivePolicy": dlq})
    assert fired(b.graph()) == {}


@pytest.mark.parametrize(
    ("type_", "props"),
    [
        ("aws:sqs/redriveAllowPolicy:RedriveAllowPolicy", {"queueUrl": "https://sqs/target"}),
        ("aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig",
         {"destinationConfig": {"onFailure": {"destination": arn("sqs", "target")}}}),
        ("aws:lambda/function:Function", {"deadLetterConfig": {"targetArn": arn("sqs", "target")}}),
    ],
)
def test_what_makes_a_queue_a_dead_letter_queue(type_, props):
    b = StackBuilder()
    b.add("aws:sqs/queue:Queue", "target", {"sqsManagedSseEnabled": True, "arn": arn("sqs", "target")},
          id="https://sqs/target")
    assert fired(b.graph()) == {"sqs-queue-has-dlq": {"target"}}
    b.add(type_, "marker", props)
    assert "sqs-queue-has-dlq" not in fired(b.graph())


def test_redrive_policy_unknown_in_preview(reference):
    assert "sqs-queue-has-dlq" not in fired(with_props(reference, "orders-queue", redrivePolicy=UNKNOWN))
    orphan = Graph(replace(r, property_dependencies={}) if r.name == "orders-queue" else r for r in reference.resources)
    assert unverified(with_props(orphan, "orders-queue", redrivePolicy=UNKNOWN), "sqs-queue-has-dlq") == {"orders-queue"}


@pytest.mark.parametrize(
    ("props", "expected"),
    [({"sqsManagedSseEnabled": True}, False), ({"kmsMasterKeyId": "alias/aws/sqs"}, False), ({}, True),
     ({"sqsManagedSseEnabled": False}, True)],
)
def test_queue_encryption(props, expected):
    assert bool(judge("sqs-queue-encrypted", "aws:sqs/queue:Queue", props).violations) is expected


def test_queue_encryption_unknown():
    assert judge("sqs-queue-encrypted", "aws:sqs/queue:Queue", {"sqsManagedSseEnabled": UNKNOWN}).unknown


def test_visibility_timeout_covers_six_function_timeouts(reference):
    assert fired(with_props(reference, "worker-function", timeout=11)) == {
        "sqs-visibility-timeout-covers-function": {"worker-mapping"}
    }
    # AWS defaults: 30 s visibility against the 10 s function.
    assert "sqs-visibility-timeout-covers-function" in fired(with_props(reference, "orders-queue", visibilityTimeoutSeconds=None))
    config = {"sqs-visibility-timeout-covers-function": {"factor": 2}}
    assert "sqs-visibility-timeout-covers-function" not in fired(with_props(reference, "worker-function", timeout=30), config)


def test_visibility_timeout_of_a_queue_outside_the_stack_is_unverifiable(reference):
    mapping = named(reference, "worker-mapping")
    external = replace(mapping, property_dependencies={"functionName": mapping.property_dependencies["functionName"]},
                       props={**mapping.props, "eventSourceArn": arn("sqs", "someone-elses-queue")})
    graph = Graph(external if r is mapping else r for r in reference.resources)
    assert unverified(graph, "sqs-visibility-timeout-covers-function") == {"worker-mapping"}


# --- Kinesis -------------------------------------------------------------------------------------------------


def test_stream_encryption(reference):
    assert fired(with_props(reference, "stream", encryptionType="NONE")) == {"kinesis-stream-encrypted": {"stream"}}


@pytest.mark.parametrize(
    ("changes", "expected_text"),
    [
        ({"bisectBatchOnFunctionError": None}, "does not bisect"),
        ({"maximumRetryAttempts": None}, "retries forever"),
        ({"maximumRetryAttempts": -1}, "retries forever"),
        ({"maximumRetryAttempts": 50}, "retries 50 times"),
        ({"destinationConfig": None}, "no on-failure destination"),
    ],
)
def test_kinesis_mapping_failure_handling(reference, changes, expected_text):
    graph = with_props(reference, "processor-mapping", **changes)
    (finding,) = findings(graph, "kinesis-mapping-failure-handling")
    assert expected_text in finding.message and finding.urn.endswith("::processor-mapping")


def test_kinesis_retry_limit_is_configurable(reference):
    graph = with_props(reference, "processor-mapping", maximumRetryAttempts=50)
    config = {"kinesis-mapping-failure-handling": {"maximumRetryAttempts": 100}}
    assert not findings(graph, "kinesis-mapping-failure-handling", config)


# --- S3 ------------------------------------------------------------------------------------------------------


def test_bucket_public_access_block(reference):
    assert fired(without(reference, "uploads-pab")) == {"s3-bucket-public-access-blocked": {"uploads"}}
    (finding,) = findings(with_props(reference, "uploads-pab", ignorePublicAcls=False), "s3-bucket-public-access-blocked")
    assert "ignorePublicAcls" in finding.message
    b = StackBuilder()
    b.add("aws:s3/accountPublicAccessBlock:AccountPublicAccessBlock", "account",
          dict.fromkeys(("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"), True))
    account_wide = Graph([*without(reference, "uploads-pab").resources, *b.resources])
    assert "s3-bucket-public-access-blocked" not in fired(account_wide)


def test_bucket_enforces_tls(reference):
    assert fired(without(reference, "uploads-policy")) == {"s3-bucket-enforces-tls": {"uploads"}}
    allow_only = with_props(reference, "uploads-policy",
                            policy='{"Statement": {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, '
                                   '"Action": "s3:GetObject", "Resource": "arn:aws:s3:::uploads-bucket/*"}}')
    assert fired(allow_only) == {"s3-bucket-enforces-tls": {"uploads"}}
    assert unverified(with_props(reference, "uploads-policy", policy=UNKNOWN), "s3-bucket-enforces-tls") == {"uploads"}
    as_v2 = Graph(replace(r, type="aws:s3/bucketV2:BucketV2") if r.name == "uploads" else r
                  for r in without(reference, "uploads-policy").resources)
    assert "s3-bucket-enforces-tls" in fired(as_v2)


# --- logs, stages, Cognito -----------------------------------------------------------------------------------


def test_lambda_log_group_retention(reference):
    forever = with_props(reference, "worker-logs", retentionInDays=None)
    assert fired(forever) == {"lambda-log-group-retention": {"worker-function"},
                              "cloudwatch-log-group-retention": {"worker-logs"}}
    (finding,) = findings(without(reference, "health-logs"), "lambda-log-group-retention")
    assert "no log group" in finding.message and finding.urn.endswith("::health-function")


def test_lambda_log_group_from_logging_config(reference):
    graph = with_props(without(reference, "health-logs"), "health-function", loggingConfig={"logGroup": "/app/health"})
    custom = StackBuilder()
    custom.add("aws:cloudwatch/logGroup:LogGroup", "custom-logs", {"name": "/app/health", "retentionInDays": 7})
    assert "lambda-log-group-retention" not in fired(with_resource(graph, custom.resources[0]))


def test_stage_access_logging(reference):
    assert fired(with_props(reference, "api-stage", accessLogSettings=None)) == {"apigateway-stage-access-logging": {"api-stage"}}


def test_stage_throttling(reference):
    assert fired(without(reference, "api-throttling")) == {"apigateway-stage-throttling": {"api-stage"}}
    unthrottled = with_props(reference, "api-throttling", settings={"throttlingBurstLimit": -1, "throttlingRateLimit": -1})
    assert fired(unthrottled) == {"apigateway-stage-throttling": {"api-stage"}}
    stage = named(reference, "api-stage")
    plan = StackBuilder().add("aws:apigateway/usagePlan:UsagePlan", "plan",
                              {"apiStages": [{"apiId": "api1234", "stage": "v1"}],
                               "throttleSettings": {"burstLimit": 10, "rateLimit": 5}}, deps={"apiStages": stage})
    assert "apigateway-stage-throttling" not in fired(with_resource(without(reference, "api-throttling"), plan))


@pytest.mark.parametrize(
    ("props", "expected"),
    [({"defaultRouteSettings": {"throttlingBurstLimit": 100, "throttlingRateLimit": 50},
       "accessLogSettings": {"destinationArn": arn("logs", "log-group:api"), "format": "$context.requestId"}}, set()),
     ({"accessLogSettings": {"destinationArn": arn("logs", "log-group:api"), "format": "x"}}, {"apigateway-stage-throttling"}),
     ({"defaultRouteSettings": {"throttlingBurstLimit": 100, "throttlingRateLimit": 50}}, {"apigateway-stage-access-logging"})],
)
def test_http_api_stage(props, expected):
    b = StackBuilder()
    b.add("aws:apigatewayv2/stage:Stage", "http-stage", props)
    assert set(fired(b.graph())) == expected


@pytest.mark.parametrize(
    ("length", "minimum", "expected"), [(12, None, False), (8, None, True), (None, None, True), (8, 8, False)]
)
def test_cognito_password_policy(length, minimum, expected):
    props = {"passwordPolicy": {"minimumLength": length}} if length else {}
    config = {"minimumLength": minimum} if minimum else None
    assert bool(judge("cognito-password-policy", "aws:cognito/userPool:UserPool", props, config).violations) is expected


def test_hygiene_is_advisory_by_default(reference):
    graph = with_props(reference, "stream", encryptionType="NONE")
    (finding,) = findings(graph)
    assert finding.enforcement == "advisory"
    (finding,) = findings(graph, config={"kinesis-stream-encrypted": "mandatory"})
    assert finding.enforcement == "mandatory"

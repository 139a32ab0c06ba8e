"""Every stack file, evaluated as `pulumi preview -s <stack>` would run it, but under recording mocks."""

from __future__ import annotations

import json

import pytest
from policy_sentry.querying.actions import get_actions_that_support_wildcard_arns_only

from offline.runtime import stacks
from tests.evaluations import run_stack  # one evaluation per configuration: these tests only read
from tests.graph import PERMISSION, as_list, dependency, routes

STACKS = stacks()
PUBLIC_ROUTES = {"GET /health", "POST /register", "POST /register/confirm"}
WILDCARD_ONLY = {
    a.lower() for service in ("xray", "kinesis", "logs", "dynamodb")
    for a in get_actions_that_support_wildcard_arns_only(service)}


def test_the_three_stacks_exist() -> None:
    assert set(STACKS) == {"dev", "prod", "local"}


@pytest.fixture(scope="module", params=STACKS)
def run(request):
    return run_stack(request.param)


def test_every_non_public_method_uses_the_cognito_authorizer(run) -> None:
    authorizers = run.of_type("aws:apigateway/authorizer:Authorizer")
    assert len(authorizers) == 1
    authorizer = authorizers[0]
    assert authorizer.inputs["type"] == "COGNITO_USER_POOLS"
    assert authorizer.inputs["identitySource"] == "method.request.header.Authorization"
    pool = run.of_type("aws:cognito/userPool:UserPool")[0]
    assert authorizer.inputs["providerArns"] == [pool.outputs["arn"]]

    table = routes(run)
    assert "GET /hello" in table and "GET /health" in table
    for key, view in table.items():
        if view.method == "OPTIONS":
            assert view.authorization == "NONE"
        elif key in PUBLIC_ROUTES:
            assert view.authorization == "NONE", key
        else:
            assert view.authorization == "COGNITO_USER_POOLS", key
            assert view.authorizer_urn == authorizer.urn, key


def test_public_routes_are_only_the_flagged_ones(run) -> None:
    public = {k for k, v in routes(run).items() if v.authorization == "NONE" and v.method != "OPTIONS"}
    assert "GET /health" in public
    assert public <= PUBLIC_ROUTES


def test_every_permission_is_scoped_to_its_method_and_path(run) -> None:
    api = run.of_type("aws:apigateway/restApi:RestApi")[0]
    execution_arn = api.outputs["executionArn"]
    table = routes(run)
    expected = set()
    for view in table.values():
        if view.method == "OPTIONS":
            continue
        arn_path = "/".join("*" if part.startswith("{") else part for part in view.path.split("/"))
        expected.add(f"{execution_arn}/*/{view.method}{arn_path}")
    permissions = run.of_type(PERMISSION)
    api_permissions = [p for p in permissions if p.inputs["principal"] == "apigateway.amazonaws.com"]
    assert {p.inputs["sourceArn"] for p in api_permissions} == expected
    assert len(api_permissions) == len(expected)
    for p in api_permissions:
        assert "/*/*" not in p.inputs["sourceArn"]
        assert p.inputs["action"] == "lambda:InvokeFunction"


def test_every_route_integrates_with_a_function_through_lambda_proxy(run) -> None:
    integrations = run.of_type("aws:apigateway/integration:Integration")
    proxy = [i for i in integrations if i.inputs["type"] == "AWS_PROXY"]
    mock = [i for i in integrations if i.inputs["type"] == "MOCK"]
    table = routes(run)
    assert len(proxy) == sum(1 for v in table.values() if v.method != "OPTIONS")
    assert len(mock) == sum(1 for v in table.values() if v.method == "OPTIONS")
    functions = {f.outputs["invokeArn"] for f in run.of_type("aws:lambda/function:Function")}
    for integration in proxy:
        assert integration.inputs["integrationHttpMethod"] == "POST"
        assert integration.inputs["uri"] in functions


def test_every_path_with_routes_has_a_cors_preflight(run) -> None:
    table = routes(run)
    paths = {v.path for v in table.values() if v.method != "OPTIONS"}
    assert {v.path for v in table.values() if v.method == "OPTIONS"} == paths


def test_stage_has_json_access_logs_and_throttling(run) -> None:
    stage = run.of_type("aws:apigateway/stage:Stage")[0]
    assert stage.inputs["stageName"] == run.stack
    log_settings = stage.inputs["accessLogSettings"]
    log_group = dependency(run, stage, "accessLogSettings")
    assert log_group is not None and log_group.type == "aws:cloudwatch/logGroup:LogGroup"
    assert log_settings["destinationArn"] == log_group.outputs["arn"]
    assert log_group.inputs["retentionInDays"] >= 1
    fields = json.loads(log_settings["format"])
    assert {"requestId", "status", "resourcePath", "httpMethod", "ip"} <= set(fields)
    method_settings = run.of_type("aws:apigateway/methodSettings:MethodSettings")[0]
    assert method_settings.inputs["methodPath"] == "*/*"
    limits = method_settings.inputs["settings"]
    assert limits["throttlingBurstLimit"] > 0 and limits["throttlingRateLimit"] > 0
    assert limits["metricsEnabled"] is True


def test_deployment_is_redeployed_by_a_content_trigger(run) -> None:
    deployment = run.of_type("aws:apigateway/deployment:Deployment")[0]
    trigger = deployment.inputs["triggers"]["redeployment"]
    assert len(trigger) == 64
    served = {r.urn for r in run.resources if r.type.startswith("aws:apigateway/") and r.type.split(":")[-1] in (
        "Method", "Integration", "IntegrationResponse", "MethodResponse", "Response")}
    assert served <= set(deployment.dependencies)


def test_every_function_has_its_own_role_and_log_group(run) -> None:
    functions = run.of_type("aws:lambda/function:Function")
    roles = [f.inputs["role"] for f in functions]
    assert len(set(roles)) == len(functions)
    groups = {g.inputs["name"]: g for g in run.of_type("aws:cloudwatch/logGroup:LogGroup")}
    for f in functions:
        group = groups[f"/aws/lambda/{f.inputs['name']}"]
        assert f.inputs["loggingConfig"]["logGroup"] == group.inputs["name"]
        assert group.urn in f.dependencies
        assert f.inputs["runtime"] in ("python3.12", "python3.13")


def test_no_managed_policies_are_attached(run) -> None:
    assert run.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment") == []
    for role in run.of_type("aws:iam/role:Role"):
        assert not role.inputs.get("managedPolicyArns")


def test_no_iam_statement_uses_wildcard_actions(run) -> None:
    for policy in run.of_type("aws:iam/rolePolicy:RolePolicy"):
        for st in json.loads(policy.inputs["policy"])["Statement"]:
            assert "NotAction" not in st and "NotResource" not in st
            for action in as_list(st["Action"]):
                assert "*" not in action, (policy.name, action)
            for resource in as_list(st["Resource"]):
                if resource == "*":
                    # Only actions that AWS documents without resource-level permissions may use "*".
                    assert all(a.lower() in WILDCARD_ONLY for a in as_list(st["Action"])), (policy.name, st)


def test_outputs_include_url_pool_client_and_a_curl_example(run) -> None:
    out = run.stack_outputs
    assert out["api_url"].endswith(f"/{run.stack}")
    assert out["user_pool_id"].startswith("us-east-1_")
    assert out["user_pool_arn"].endswith(out["user_pool_id"])
    assert out["user_pool_client_id"]
    assert out["curl_example"] == f'curl -H "Authorization: Bearer $ID_TOKEN" {out["api_url"]}/hello'


def test_prod_protects_data_and_dev_does_not() -> None:
    prod, dev = run_stack("prod"), run_stack("dev")
    prod_pool = prod.of_type("aws:cognito/userPool:UserPool")[0]
    dev_pool = dev.of_type("aws:cognito/userPool:UserPool")[0]
    assert prod_pool.protect and prod_pool.retain_on_delete
    assert prod_pool.inputs["deletionProtection"] == "ACTIVE"
    assert not dev_pool.protect and dev_pool.inputs["deletionProtection"] == "INACTIVE"
    assert prod_pool.inputs["passwordPolicy"]["minimumLength"] >= 12
    prod_client = prod.of_type("aws:cognito/userPoolClient:UserPoolClient")[0]
    dev_client = dev.of_type("aws:cognito/userPoolClient:UserPoolClient")[0]
    assert "ALLOW_USER_PASSWORD_AUTH" not in prod_client.inputs["explicitAuthFlows"]
    assert "ALLOW_USER_PASSWORD_AUTH" in dev_client.inputs["explicitAuthFlows"]
    prod_retention = {g.inputs["retentionInDays"] for g in prod.of_type("aws:cloudwatch/logGroup:LogGroup")}
    dev_retention = {g.inputs["retentionInDays"] for g in dev.of_type("aws:cloudwatch/logGroup:LogGroup")}
    assert min(prod_retention) > max(dev_retention)


def test_the_program_only_reads_account_and_region_data(run_pulumi, recording_mocks) -> None:
    """Data-source invokes run against the real account at preview: keep them few and known."""
    import runpy

    from offline.runtime import REPO_ROOT

    run = run_pulumi(lambda: runpy.run_path(str(REPO_ROOT / "__main__.py")), stack="prod")
    tokens = {call.token for call in recording_mocks.invokes}
    assert tokens <= {"aws:index/getCallerIdentity:getCallerIdentity", "aws:index/getRegion:getRegion",
                      "aws:index/getPartition:getPartition", "aws:iam/getPolicyDocument:getPolicyDocument"}
    assert "aws:index/getCallerIdentity:getCallerIdentity" in tokens
    custom = [r for r in run.resources if r.custom]
    assert len(recording_mocks.registrations) == len(run.resources)
    assert {a.name for a in recording_mocks.registrations if a.custom} == {r.name for r in custom}


# Provider endpoint key for each resource module the program uses (the provider's `endpoints` names).
ENDPOINT_FOR_MODULE = {
    "apigateway": "apigateway", "cognito": "cognitoidp", "iam": "iam", "kinesis": "kinesis", "lambda": "lambda",
    "s3": "s3", "ses": "ses", "sesv2": "sesv2", "sqs": "sqs", "kms": "kms", "sns": "sns", "dynamodb": "dynamodb",
    "sfn": "sfn",
}


def test_local_stack_sends_every_service_the_program_uses_to_localstack() -> None:
    import yaml

    from offline.runtime import REPO_ROOT

    config = yaml.safe_load((REPO_ROOT / "Pulumi.local.yaml").read_text())["config"]
    endpoints = {k: v for entry in config["aws:endpoints"] for k, v in entry.items()}
    assert set(endpoints.values()) == {"http://localhost:4566"}
    needed = {"sts"}  # getCallerIdentity
    for resource in run_stack("local").resources:
        if not resource.custom:
            continue
        module, kind = resource.type.split(":")[1].split("/")
        if module == "cloudwatch":
            # aws.cloudwatch.EventRule/EventTarget are EventBridge's API, not CloudWatch's.
            needed.add("logs" if kind.startswith(("logGroup", "queryDefinition"))
                       else "events" if kind.startswith("event") else "cloudwatch")
        else:
            needed.add(ENDPOINT_FOR_MODULE[module])
    assert needed <= set(endpoints), needed - set(endpoints)
    assert config["aws:region"] == "us-east-1"
    assert (config["aws:accessKey"], config["aws:secretKey"]) == ("test", "test")
    assert config["aws:skipCredentialsValidation"] and "aws:skipRequestingAccountId" not in config
    assert config["aws:s3UsePathStyle"] is True


def test_every_alarm_notifies_the_configured_topic() -> None:
    topic = "arn:aws:sns:us-east-1:123456789012:on-call"
    own, paged = run_stack("dev"), run_stack("dev", overrides={"alarmTopicArn": topic})
    alarms = paged.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
    # email DLQ, orders DLQ, uploads failures, compensation failures, cleanup failures, profile welcome failures;
    # the rest are Observability's (tests/components/test_observability.py)
    assert len([a for a in alarms if a.inputs["namespace"] == "AWS/SQS"]) == 6
    assert all(a.inputs["alarmActions"] == [topic] for a in alarms)
    # Without a configured topic the stack's own (encrypted) topic is notified: no alarm goes nowhere.
    (own_topic,) = own.of_type("aws:sns/topic:Topic")
    assert all(a.inputs["alarmActions"] == [own_topic.outputs["arn"]]
               for a in own.of_type("aws:cloudwatch/metricAlarm:MetricAlarm"))

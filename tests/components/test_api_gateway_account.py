"""Issue 9 finding 4: a first `pulumi up` on a fresh account can create the stage with access logs."""

from __future__ import annotations

import json

from components.api_gateway_account import PUSH_ACTIONS, ApiGatewayAccount, ApiGatewayAccountArgs
from components.naming import Naming
from tests.evaluations import run_stack  # one evaluation per configuration: these tests only read

ACCOUNT = "aws:apigateway/account:Account"


def test_the_component_alone_points_the_account_at_a_role_api_gateway_can_assume(run_pulumi) -> None:
    def program():
        ApiGatewayAccount("apigw", ApiGatewayAccountArgs(naming=Naming("shop-dev"), tags={"team": "a"},
                                                         account_id="210987654321"))

    run = run_pulumi(program)
    (role,) = run.of_type("aws:iam/role:Role")
    (policy,) = run.of_type("aws:iam/rolePolicy:RolePolicy")
    (account,) = run.of_type(ACCOUNT)
    trust = json.loads(role.inputs["assumeRolePolicy"])
    assert trust["Statement"] == [{"Effect": "Allow", "Principal": {"Service": "apigateway.amazonaws.com"},
                                   "Action": "sts:AssumeRole"}]
    push, find = json.loads(policy.inputs["policy"])["Statement"]
    # The write half of AmazonAPIGatewayPushToCloudWatchLogs, on this account's log groups in this region only.
    assert push["Action"] == list(PUSH_ACTIONS) and not any("*" in a for a in push["Action"])
    assert push["Resource"] == [
        "arn:aws:logs:us-east-1:210987654321:log-group:/aws/apigateway/*",
        "arn:aws:logs:us-east-1:210987654321:log-group:/aws/apigateway/*:log-stream:*",
        "arn:aws:logs:us-east-1:210987654321:log-group:API-Gateway-Execution-Logs_*",
        "arn:aws:logs:us-east-1:210987654321:log-group:API-Gateway-Execution-Logs_*:log-stream:*",
    ]
    assert find == {"Sid": "FindLogGroups", "Effect": "Allow", "Action": ["logs:DescribeLogGroups"], "Resource": "*"}
    assert policy.inputs["role"] == role.id
    assert account.inputs["cloudwatchRoleArn"] == role.outputs["arn"]
    # UpdateAccount validates the role: its policy exists first.
    assert policy.urn in account.dependencies
    assert role.inputs["name"] == "shop-dev-apigateway-cloudwatch"
    assert not run.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")


def test_by_default_the_stage_waits_for_the_accounts_cloudwatch_role() -> None:
    for stack in ("dev", "prod", "local"):
        run = run_stack(stack)
        (account,) = run.of_type(ACCOUNT)
        (stage,) = run.of_type("aws:apigateway/stage:Stage")
        assert account.urn in stage.dependencies, stack
        # The stage's own access-log group is one the role may write.
        group = next(g for g in run.of_type("aws:cloudwatch/logGroup:LogGroup")
                     if g.outputs["arn"] == stage.inputs["accessLogSettings"]["destinationArn"])
        assert group.inputs["name"].startswith("/aws/apigateway/")


def test_when_another_stack_manages_the_account_setting_nothing_account_wide_is_created() -> None:
    run = run_stack("dev", overrides={"manageApiGatewayAccount": False})
    assert not run.of_type(ACCOUNT)
    assert not [r for r in run.resources if "ApiGatewayAccount" in r.urn]
    (stage,) = run.of_type("aws:apigateway/stage:Stage")
    assert stage.inputs["accessLogSettings"]["destinationArn"]  # still logs, through the other stack's role
    assert not [d for d in stage.dependencies if "apigateway/account" in d]


def test_the_component_is_a_namespaced_type() -> None:
    run = run_stack("dev")
    (component,) = [r for r in run.resources if r.type.endswith(":components:ApiGatewayAccount")]
    assert component.type == "secure-serverless:components:ApiGatewayAccount"
    assert {c.type for c in run.children_of(component.urn)} == {
        "aws:iam/role:Role", "aws:iam/rolePolicy:RolePolicy", ACCOUNT}

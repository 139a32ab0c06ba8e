"""ApiGatewayAccount: the account-wide (per region) API Gateway setting that lets stages write CloudWatch logs.

API Gateway refuses a stage with `access_log_settings` ("CloudWatch Logs role ARN must be set in account
settings to enable logging") until the account has a CloudWatch Logs role. On a fresh account nothing sets it, so
the first `pulumi up` failed at the stage after ~170 resources. This component creates the role (trusting
apigateway.amazonaws.com) and points the account at it; SecureApi's stage waits for it
(`SecureApiArgs.stage_depends_on`). The role holds the write actions of AWS's AmazonAPIGatewayPushToCloudWatchLogs
as an inline policy scoped to this account's log groups, not the managed policy (no AWS-managed policies in this
program; its read actions GetLogEvents/FilterLogEvents are not needed to deliver logs).

It is a singleton per account and region: exactly one stack may manage it. The program creates it unless
`manageApiGatewayAccount` is false (another stack already manages it); see README "API Gateway access logs".
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from .limits import check_tags
from .naming import Naming
from .tokens import component_type

# AmazonAPIGatewayPushToCloudWatchLogs' write actions, on the log groups API Gateway writes for stages like ours:
# access logs under /aws/apigateway/ (SecureApi names them /aws/apigateway/<api>/<stage>) and execution logs,
# which API Gateway names API-Gateway-Execution-Logs_<api id>/<stage>. The setting serves every API of the
# account in this region: a stage elsewhere in the account that logs to another group needs it under
# /aws/apigateway/ too (README "API Gateway access logs").
LOG_GROUP_PREFIXES = ("/aws/apigateway/", "API-Gateway-Execution-Logs_")
PUSH_ACTIONS = ("logs:CreateLogGroup", "logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents")
# DescribeLogGroups has no resource-level permissions: "*" is the only resource it accepts.
LIST_ACTIONS = ("logs:DescribeLogGroups",)


def push_policy(region: str, account_id: str) -> str:
    return json.dumps({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "PushApiGatewayLogs",
                "Effect": "Allow",
                "Action": list(PUSH_ACTIONS),
                "Resource": [arn for prefix in LOG_GROUP_PREFIXES for arn in (
                    f"arn:aws:logs:{region}:{account_id}:log-group:{prefix}*",
                    f"arn:aws:logs:{region}:{account_id}:log-group:{prefix}*:log-stream:*")],
            },
            {"Sid": "FindLogGroups", "Effect": "Allow", "Action": list(LIST_ACTIONS), "Resource": "*"},
        ],
    })
TRUST_POLICY = json.dumps({
    "Version": "2012-10-17",
    "Statement": [{
        "Effect": "Allow",
        "Principal": {"Service": "apigateway.amazonaws.com"},
        "Action": "sts:AssumeRole",
    }],
})


@dataclass(frozen=True)
class ApiGatewayAccountArgs:
    naming: Naming
    tags: Mapping[str, str] = field(default_factory=dict)
    # The account whose log groups the role writes; None looks it up (pass the stack's one lookup instead).
    account_id: pulumi.Input[str] | None = None

    def __post_init__(self) -> None:
        check_tags(self.tags)


class ApiGatewayAccount(pulumi.ComponentResource):
    role: aws.iam.Role
    account: aws.apigateway.Account

    def __init__(self, name: str, args: ApiGatewayAccountArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(component_type("ApiGatewayAccount"), name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.role = aws.iam.Role(
            f"{name}-role",
            name=args.naming.name("apigateway-cloudwatch", 64),
            description="API Gateway writes stage access and execution logs to CloudWatch Logs (account setting)",
            assume_role_policy=TRUST_POLICY,
            tags=dict(args.tags),
            opts=child,
        )
        account_id = args.account_id if args.account_id is not None else aws.get_caller_identity_output().account_id
        policy = aws.iam.RolePolicy(
            f"{name}-push-to-logs",
            role=self.role.id,
            policy=pulumi.Output.all(aws.get_region_output().region, account_id).apply(lambda ra: push_policy(*ra)),
            opts=child,
        )
        # UpdateAccount checks that API Gateway can assume the role: create it only once the role is complete.
        self.account = aws.apigateway.Account(
            f"{name}-account",
            cloudwatch_role_arn=self.role.arn,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
        )
        self.cloudwatch_role_arn = self.account.cloudwatch_role_arn
        self.register_outputs({"cloudwatch_role_arn": self.cloudwatch_role_arn})

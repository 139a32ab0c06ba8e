"""Auto-names exactly as pulumi-aws v7 computes them when the program leaves a name property unset.

Source (pulumi/pulumi-aws provider/autonaming.go, provider/resource_overrides.go; pulumi-terraform-bridge
`ComputeAutoNameDefault`; pulumi/pulumi sdk `resource.NewUniqueName`):
- every resource whose Terraform schema has an input `name` gets `AutoName("name", 255, "-")`, unless
  resource_overrides.go names it differently: `aws_iam_role` 64, `aws_lambda_function` 64,
  `aws_lambda_permission.statement_id` 100, `aws_cloudwatch_metric_alarm.alarm_name` 255,
  `aws_s3_bucket.bucket` 63 lower-cased, `aws_sqs_queue` 80 then `.fifo` appended when `fifoQueue` is true.
- the value is `<logical name><separator><7 random hex>`; when that exceeds the maximum the bridge does NOT
  truncate: `NewUniqueName` fails with "name '<name>-' plus 7 random chars is longer than maximum length N",
  wrapped as "could not make instance of '<type>'". The mock raises the same error.
- a set `namePrefix` (Terraform `name_prefix`, ConflictsWith `name`) suppresses the Pulumi default; Terraform then
  names the resource `<prefix><26-character unique id>` (`id.PrefixedUniqueId`).
The random part is derived from the logical name here, so runs are reproducible.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

RANDLEN = 7
TERRAFORM_UNIQUE_ID_LENGTH = 26


@dataclass(frozen=True)
class AutoName:
    prop: str
    maxlen: int = 255
    separator: str = "-"
    transform: Callable[[str], str] | None = None
    fifo_flag: str | None = None  # input property that, when true, makes the provider append ".fifo"


_DEFAULT = AutoName("name")

# Resource types the program creates whose Terraform schema has an input `name` or a named override.
AUTO_NAMED: dict[str, AutoName] = {
    "aws:apigateway/apiKey:ApiKey": _DEFAULT,
    "aws:apigateway/authorizer:Authorizer": _DEFAULT,
    "aws:apigateway/model:Model": _DEFAULT,
    "aws:apigateway/requestValidator:RequestValidator": _DEFAULT,
    "aws:apigateway/restApi:RestApi": _DEFAULT,
    "aws:apigateway/usagePlan:UsagePlan": _DEFAULT,
    "aws:cloudfront/function:Function": _DEFAULT,
    "aws:cloudfront/originAccessControl:OriginAccessControl": _DEFAULT,
    "aws:cloudfront/responseHeadersPolicy:ResponseHeadersPolicy": _DEFAULT,
    "aws:cloudwatch/eventRule:EventRule": AutoName("name", 64),
    "aws:cloudwatch/logGroup:LogGroup": _DEFAULT,
    "aws:cloudwatch/metricAlarm:MetricAlarm": _DEFAULT,  # alarm_name surfaces as `name`
    "aws:cognito/resourceServer:ResourceServer": _DEFAULT,
    "aws:cognito/userGroup:UserGroup": _DEFAULT,
    "aws:cognito/userPool:UserPool": _DEFAULT,
    "aws:cognito/userPoolClient:UserPoolClient": _DEFAULT,
    "aws:iam/role:Role": AutoName("name", 64),
    "aws:iam/rolePolicy:RolePolicy": _DEFAULT,
    "aws:kinesis/stream:Stream": _DEFAULT,
    "aws:lambda/function:Function": AutoName("name", 64),
    "aws:lambda/permission:Permission": AutoName("statementId", 100),
    "aws:s3/bucket:Bucket": AutoName("bucket", 63, transform=str.lower),
    "aws:ses/template:Template": _DEFAULT,
    "aws:sfn/stateMachine:StateMachine": AutoName("name", 80),
    "aws:sqs/queue:Queue": AutoName("name", 80, fifo_flag="fifoQueue"),
}


class AutoNameError(Exception):
    """What the provider answers when `<logical name>-` plus the random suffix cannot fit."""


def random_hex(seed: str, length: int = RANDLEN) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()[:length]


def auto_name(type_: str, logical_name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    """The properties the provider fills in before create (empty when the program set them)."""
    rule = AUTO_NAMED.get(type_)
    if rule is None or inputs.get(rule.prop) not in (None, ""):
        return {}
    fifo = ".fifo" if rule.fifo_flag and inputs.get(rule.fifo_flag) is True else ""
    prefix = inputs.get("namePrefix") if rule.prop == "name" else None
    if prefix:
        unique = str(int(hashlib.sha256(logical_name.encode()).hexdigest(), 16))[:TERRAFORM_UNIQUE_ID_LENGTH]
        return {rule.prop: f"{prefix}{unique}{fifo}"}
    base = rule.transform(logical_name) if rule.transform else logical_name
    stem = base + rule.separator
    if len(stem) + RANDLEN > rule.maxlen:
        raise AutoNameError(
            f"could not make instance of '{type_}': name '{stem}' plus {RANDLEN} random chars is longer than "
            f"maximum length {rule.maxlen}"
        )
    return {rule.prop: f"{stem}{random_hex(logical_name)}{fifo}"}

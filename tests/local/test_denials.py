"""Contract of offline/local/denials.py against the pinned moto: every request IAM refuses is reported with the
role of its credentials, whatever the service's request class (S3 has its own), and moto's answer is unchanged.
Checked in a fresh interpreter: the observer wraps moto globally, and this process stays unwrapped."""

from __future__ import annotations

from offline.local.denials import principal_of
from tests.local.conftest import run_fresh

OBSERVED = r'''
import json
import boto3
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.core import set_initial_no_auth_action_count
from offline.local import denials

seen = []
denials.observe(lambda principal, action, resource: seen.append([principal, action]))
TRUST = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                    "Principal": {"AWS": "arn:aws:iam::123456789012:root"}}]})
ALLOW = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sqs:CreateQueue",
                    "Resource": "*"}]})


@set_initial_no_auth_action_count(3)  # the three set-up calls below, then every request is checked
@mock_aws
def run():
    iam = boto3.client("iam", region_name="us-east-1")
    arn = iam.create_role(RoleName="fn-role", AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    iam.put_role_policy(RoleName="fn-role", PolicyName="p", PolicyDocument=ALLOW)
    creds = boto3.client("sts", region_name="us-east-1").assume_role(RoleArn=arn, RoleSessionName="fn-session")["Credentials"]
    keys = dict(aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                aws_session_token=creds["SessionToken"], region_name="us-east-1")
    answers = []
    boto3.client("sqs", **keys).create_queue(QueueName="allowed")
    answers.append("allowed")
    for call in (lambda: boto3.client("sqs", **keys).list_queues(), lambda: boto3.client("s3", **keys).list_buckets()):
        try:
            call()
            answers.append("allowed")
        except ClientError as error:
            answers.append(error.response["ResponseMetadata"]["HTTPStatusCode"])
    return answers


print(json.dumps({"answers": run(), "seen": seen}))
'''


def test_refusals_are_reported_with_the_role_and_answered_as_before() -> None:
    result = run_fresh(OBSERVED, with_keys=True)
    assert result["answers"] == ["allowed", 403, 403]
    assert result["seen"] == [["fn-role", "sqs:ListQueues"], ["fn-role", "s3:ListAllMyBuckets"]]


def test_principal_of_an_assumed_role_is_its_role() -> None:
    assert principal_of("arn:aws:sts::123456789012:assumed-role/fn-role/session-1") == "fn-role"
    assert principal_of("arn:aws:iam::123456789012:user/local-operator") == "arn:aws:iam::123456789012:user/local-operator"

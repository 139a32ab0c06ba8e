"""AlarmTopic: where every alarm of the stack notifies. An existing topic (settings `alarmTopicArn`, e.g. the
on-call one) is used as is; otherwise an SSE topic under a customer-managed key, with an optional email
subscription.

    alarms (CloudWatch) ──sns:Publish, only this account's alarms, TLS only──> topic
                                                     (KMS: CloudWatch may encrypt for this topic only) ─> email

Created before the other components, so their dead-letter alarms notify it too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from .tokens import component_type

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
# The key's administrators (the account, through IAM): the management actions, named, without a wildcard.
KEY_ADMIN_ACTIONS = (
    "kms:CancelKeyDeletion", "kms:CreateAlias", "kms:CreateGrant", "kms:DeleteAlias", "kms:DescribeKey",
    "kms:DisableKey", "kms:DisableKeyRotation", "kms:EnableKey", "kms:EnableKeyRotation", "kms:GetKeyPolicy",
    "kms:GetKeyRotationStatus", "kms:ListGrants", "kms:ListResourceTags", "kms:PutKeyPolicy", "kms:RevokeGrant",
    "kms:RotateKeyOnDemand", "kms:ScheduleKeyDeletion", "kms:TagResource", "kms:UntagResource",
    "kms:UpdateAlias", "kms:UpdateKeyDescription", "kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey",
)
# What CloudWatch needs to publish to an SSE topic. The AWS-managed alias/aws/sns key cannot grant it to a service
# principal, and alarms sent to a topic under that key are silently never delivered: hence a customer key.
PUBLISHER_KEY_ACTIONS = ("kms:Decrypt", "kms:GenerateDataKey")


@dataclass(frozen=True)
class AlarmTopicArgs:
    project: str
    stage: str
    existing_topic_arn: pulumi.Input[str] | None = None
    # Subscribed to the created topic; AWS mails a confirmation link first.
    email: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    # The account the policies name; None: looked up (pass the stack's one lookup instead).
    account_id: pulumi.Input[str] | None = None

    def __post_init__(self) -> None:
        if not _NAME.match(self.topic_name):
            raise ValueError(f"topic name {self.topic_name!r} must be 1..256 of A-Z a-z 0-9 - _")
        if self.email is not None and not _EMAIL.match(self.email):
            raise ValueError(f"alarm email {self.email!r} is not an email address")
        if self.email is not None and self.existing_topic_arn is not None:
            raise ValueError("the alarm email subscribes to the stack's own topic: with an existing topic, "
                             "subscribe the address to that topic instead")

    @property
    def topic_name(self) -> str:
        return f"{self.project}-{self.stage}-alarms"


class AlarmTopic(pulumi.ComponentResource):
    key: aws.kms.Key | None
    topic: aws.sns.Topic | None
    arn: pulumi.Output[str]

    def __init__(self, name: str, args: AlarmTopicArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(component_type("AlarmTopic"), name, None, opts)
        self.key = self.topic = None
        if args.existing_topic_arn is not None:
            self.arn = pulumi.Output.from_input(args.existing_topic_arn)
            self.register_outputs({"arn": self.arn})
            return

        child = pulumi.ResourceOptions(parent=self)
        invoke = pulumi.InvokeOutputOptions(parent=self)
        account_id = args.account_id
        if account_id is None:
            account_id = aws.get_caller_identity_output(opts=invoke).account_id
        partition = aws.get_partition_output(opts=invoke).partition
        region = aws.get_region_output(opts=invoke).region
        # Built from the name (not topic.arn) so that the key, which the topic needs first, can name it.
        topic_arn = pulumi.Output.concat("arn:", partition, ":sns:", region, ":", account_id, ":", args.topic_name)

        self.key = aws.kms.Key(
            f"{name}-key",
            description=f"Encrypts the {args.topic_name} topic",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=pulumi.Output.json_dumps({
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "AccountAdministersKey",
                        "Effect": "Allow",
                        "Principal": {"AWS": pulumi.Output.concat("arn:", partition, ":iam::", account_id, ":root")},
                        "Action": list(KEY_ADMIN_ACTIONS),
                        "Resource": "*",  # in a key policy "*" means this key
                    },
                    {
                        "Sid": "CloudWatchPublishesAlarms",
                        "Effect": "Allow",
                        "Principal": {"Service": "cloudwatch.amazonaws.com"},
                        "Action": list(PUBLISHER_KEY_ACTIONS),
                        "Resource": "*",
                        # SNS encrypts each message with the topic's ARN as encryption context: this grant
                        # covers this topic's messages only.
                        "Condition": {"StringEquals": {"kms:EncryptionContext:aws:sns:topicArn": topic_arn}},
                    },
                ],
            }),
            tags=dict(args.tags),
            opts=child,
        )
        self.topic = aws.sns.Topic(
            f"{name}-topic", name=args.topic_name, kms_master_key_id=self.key.arn, tags=dict(args.tags), opts=child
        )
        aws.sns.TopicPolicy(
            f"{name}-policy",
            arn=self.topic.arn,
            policy=pulumi.Output.json_dumps({
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "StackAlarmsPublish",
                        "Effect": "Allow",
                        "Principal": {"Service": "cloudwatch.amazonaws.com"},
                        "Action": "sns:Publish",
                        "Resource": self.topic.arn,
                        # Any alarm of this account and region: the components' own DLQ alarms are auto-named.
                        "Condition": {
                            "ArnLike": {"aws:SourceArn": pulumi.Output.concat(
                                "arn:", partition, ":cloudwatch:", region, ":", account_id, ":alarm:*")},
                            "StringEquals": {"aws:SourceAccount": account_id},
                        },
                    },
                    {
                        "Sid": "TlsOnly",
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "sns:Publish",
                        "Resource": self.topic.arn,
                        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                    },
                ],
            }),
            opts=child,
        )
        if args.email is not None:
            aws.sns.TopicSubscription(
                f"{name}-email", topic=self.topic.arn, protocol="email", endpoint=args.email, opts=child
            )
        self.arn = self.topic.arn
        self.register_outputs({"arn": self.arn})

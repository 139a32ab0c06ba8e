"""KeyTable: a small DynamoDB table of expiring string-keyed items (sign-up codes, rate-limit counters,
idempotency keys), and the Link that lets one function use it.

On-demand billing (these tables see bursts, not steady load), encrypted at rest, TTL on `expiresAt` so nothing
is kept past its use; `protect` also turns on DynamoDB's own deletion protection.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from .limits import check_tags
from .link import Condition, Link, Statement
from .tokens import component_type

KEY_ATTRIBUTE = "pk"
TTL_ATTRIBUTE = "expiresAt"


@dataclass(frozen=True)
class KeyTableArgs:
    protect: bool = False
    tags: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_tags(self.tags)


class KeyTable(pulumi.ComponentResource):
    table: aws.dynamodb.Table
    table_name: pulumi.Output[str]
    arn: pulumi.Output[str]

    def __init__(self, name: str, args: KeyTableArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(component_type("KeyTable"), name, None, opts)  # new: no legacy alias
        self.table = aws.dynamodb.Table(
            f"{name}-table",
            hash_key=KEY_ATTRIBUTE,
            attributes=[aws.dynamodb.TableAttributeArgs(name=KEY_ATTRIBUTE, type="S")],
            billing_mode="PAY_PER_REQUEST",
            ttl=aws.dynamodb.TableTtlArgs(attribute_name=TTL_ATTRIBUTE, enabled=True),
            server_side_encryption=aws.dynamodb.TableServerSideEncryptionArgs(enabled=True),
            deletion_protection_enabled=args.protect,
            tags=dict(args.tags),
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect, retain_on_delete=args.protect),
        )
        self.table_name = self.table.name
        self.arn = self.table.arn
        self.register_outputs({"table_name": self.table_name, "arn": self.arn})

    def link(self, env: str, actions: Sequence[str], *, sid: str, leading_keys: Sequence[str] = ()) -> Link:
        """The table name in `env` + `actions` on this table only; `leading_keys` (StringLike patterns) narrows
        the items the function may touch to those whose key matches (dynamodb:LeadingKeys)."""
        conditions = (
            [Condition("ForAllValues:StringLike", "dynamodb:LeadingKeys", list(leading_keys))] if leading_keys else []
        )
        return Link(env={env: self.table_name},
                    statements=[Statement(actions=list(actions), resources=[self.arn], conditions=conditions, sid=sid)])

"""SecureBucket: private, encrypted, TLS-only S3 bucket, protected from deletion where the stack says so."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from .limits import check_tags
from .link import Link, Statement
from .tokens import component_type, with_legacy_alias

PUBLIC_ACCESS_BLOCKS = ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets")


def tls_only_policy(
    bucket_arn: pulumi.Input[str], extra_statements: Sequence[pulumi.Input[dict]] = ()
) -> pulumi.Output[str]:
    """Deny every request that does not arrive over TLS (the AWS Foundational Security Best Practice S3.5)."""
    return pulumi.Output.json_dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "DenyInsecureTransport",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [bucket_arn, pulumi.Output.concat(bucket_arn, "/*")],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                },
                *extra_statements,
            ],
        }
    )


@dataclass(frozen=True)
class SecureBucketArgs:
    tags: Mapping[str, str] = field(default_factory=dict)
    # Let `pulumi destroy` empty the bucket; production keeps it False.
    force_destroy: bool = False
    # protect + retainOnDelete: neither `pulumi destroy` nor a removed component deletes the data.
    protect: bool = False
    versioned: bool = False
    noncurrent_version_expiration_days: int = 90
    # A bucket has one policy. When a grant names a resource that itself needs this bucket first (a CloudFront
    # distribution reading through OAC), the caller completes the bucket with `attach_policy(statements)`.
    deferred_policy: bool = False

    def __post_init__(self) -> None:
        check_tags(self.tags)
        if not 1 <= self.noncurrent_version_expiration_days <= 3650:
            raise ValueError("noncurrent_version_expiration_days must be 1..3650")


class SecureBucket(pulumi.ComponentResource):
    bucket: aws.s3.Bucket
    bucket_name: pulumi.Output[str]
    arn: pulumi.Output[str]

    def __init__(self, name: str, args: SecureBucketArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(component_type("SecureBucket"), name, None, with_legacy_alias("SecureBucket", opts))
        child = pulumi.ResourceOptions(parent=self)

        self.bucket = aws.s3.Bucket(
            f"{name}-bucket",
            force_destroy=args.force_destroy,
            tags=dict(args.tags),
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect, retain_on_delete=args.protect),
        )
        public_access = aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access",
            bucket=self.bucket.id,
            **{flag: True for flag in PUBLIC_ACCESS_BLOCKS},
            opts=child,
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            bucket=self.bucket.id,
            rules=[
                aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    # No `bucket_key_enabled`: S3 documents Bucket Keys for SSE-KMS only; with SSE-S3 it does nothing.
                    apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                        sse_algorithm="AES256"
                    ),
                )
            ],
            opts=child,
        )
        self._name = name
        self._public_access = public_access
        self._policy_attached = False
        if not args.deferred_policy:
            self.attach_policy()
        lifecycle_rules = [
            aws.s3.BucketLifecycleConfigurationRuleArgs(
                id="abort-incomplete-multipart-uploads",
                status="Enabled",
                filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                    days_after_initiation=7
                ),
            )
        ]
        if args.versioned:
            versioning = aws.s3.BucketVersioning(
                f"{name}-versioning",
                bucket=self.bucket.id,
                versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(status="Enabled"),
                opts=child,
            )
            lifecycle_rules.append(
                aws.s3.BucketLifecycleConfigurationRuleArgs(
                    id="expire-noncurrent-versions",
                    status="Enabled",
                    filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                    noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                        noncurrent_days=args.noncurrent_version_expiration_days
                    ),
                )
            )
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle",
            bucket=self.bucket.id,
            rules=lifecycle_rules,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[versioning] if args.versioned else []),
        )

        self.bucket_name = self.bucket.bucket
        self.arn = self.bucket.arn
        self.register_outputs({"bucket_name": self.bucket_name, "arn": self.arn})

    def objects_arn(self, prefix: str) -> pulumi.Output[str]:
        """ARN of the objects under `prefix` (e.g. "receipts/") for a least-privilege statement."""
        if prefix.startswith("/") or "*" in prefix:
            raise ValueError(f"prefix {prefix!r} must be relative and wildcard-free")
        return pulumi.Output.concat(self.arn, "/", prefix, "*")

    def read_link(self, prefix: str, *, env: str = "BUCKET", sid: str = "ReadObjects") -> Link:
        """The bucket name in `env` + `s3:GetObject` on `prefix*` only."""
        return Link(env={env: self.bucket_name},
                    statements=[Statement(actions=["s3:GetObject"], resources=[self.objects_arn(prefix)], sid=sid)])

    def write_link(self, prefix: str, *, env: str = "BUCKET", sid: str = "WriteObjects",
                   actions: tuple[str, ...] = ("s3:PutObject",)) -> Link:
        """The bucket name in `env` + `actions` (default `s3:PutObject`) on `prefix*` only."""
        return Link(env={env: self.bucket_name},
                    statements=[Statement(actions=list(actions), resources=[self.objects_arn(prefix)], sid=sid)])

    def attach_policy(self, statements: Sequence[pulumi.Input[dict]] = ()) -> aws.s3.BucketPolicy:
        """The bucket's one policy: TLS only, plus `statements`; then ownership controls (once per bucket)."""
        if self._policy_attached:
            raise RuntimeError(f"SecureBucket {self._name!r} already has its policy")
        self._policy_attached = True
        name = self._name
        # Applied after the public access block so the policy can never be evaluated on an open bucket.
        policy = aws.s3.BucketPolicy(
            f"{name}-tls-only",
            bucket=self.bucket.id,
            policy=tls_only_policy(self.bucket.arn, statements),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self._public_access]),
        )
        # Chained after the policy: S3 rejects concurrent public-access-block / policy / ownership writes on one
        # bucket with "OperationAborted: A conflicting conditional operation is currently in progress".
        aws.s3.BucketOwnershipControls(
            f"{name}-ownership",
            bucket=self.bucket.id,
            rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self._public_access, policy]),
        )
        return policy

"""SecureBucket: encryption, no public access, owner-enforced, TLS only, versioning and protection per stack."""

from __future__ import annotations

import json

from components.bucket import SecureBucket, SecureBucketArgs
from tests.programs import load_stack


def one_bucket(versioned: bool):
    def program():
        settings = load_stack().settings
        bucket = SecureBucket("data", SecureBucketArgs(
            tags=settings.tags, force_destroy=settings.force_destroy_buckets, protect=settings.protect_data,
            versioned=versioned))
        bucket.objects_arn("receipts/").apply(lambda arn: arn)

    return program


def children(run, type_token):
    return [r for r in run.of_type(type_token) if r.parent == run.named("data").urn]


def test_bucket_is_private_encrypted_and_owner_enforced(run_pulumi) -> None:
    run = run_pulumi(one_bucket(False))
    block = children(run, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")[0].inputs
    assert all(block[k] is True for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls",
                                          "restrictPublicBuckets"))
    ownership = children(run, "aws:s3/bucketOwnershipControls:BucketOwnershipControls")[0].inputs
    assert ownership["rule"] == {"objectOwnership": "BucketOwnerEnforced"}
    sse = children(run, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")
    assert sse[0].inputs["rules"][0]["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "AES256"
    # S3 Bucket Keys are an SSE-KMS feature: with SSE-S3 the flag is meaningless, so it is not sent.
    assert "bucketKeyEnabled" not in sse[0].inputs["rules"][0]


def test_public_access_block_policy_and_ownership_are_written_one_after_another(run_pulumi) -> None:
    # Concurrent PutPublicAccessBlock / PutBucketPolicy / PutBucketOwnershipControls on one bucket fail with
    # "OperationAborted: A conflicting conditional operation is currently in progress against this resource".
    run = run_pulumi(one_bucket(False))
    block, policy, ownership = (run.named(f"data-{role}") for role in ("public-access", "tls-only", "ownership"))
    assert block.urn in policy.dependencies
    assert policy.urn in ownership.dependencies


def test_policy_denies_every_non_tls_request(run_pulumi) -> None:
    run = run_pulumi(one_bucket(False))
    bucket_arn = run.named("data-bucket").outputs["arn"]
    policy = children(run, "aws:s3/bucketPolicy:BucketPolicy")[0]
    statement = json.loads(policy.inputs["policy"])["Statement"][0]
    assert statement["Effect"] == "Deny"
    assert statement["Principal"] == "*"
    assert statement["Resource"] == [bucket_arn, f"{bucket_arn}/*"]
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert run.named("data-public-access").urn in policy.dependencies


def test_versioning_is_a_switch_with_noncurrent_expiry(run_pulumi) -> None:
    plain = run_pulumi(one_bucket(False))
    assert children(plain, "aws:s3/bucketVersioning:BucketVersioning") == []
    versioned = run_pulumi(one_bucket(True))
    config = children(versioned, "aws:s3/bucketVersioning:BucketVersioning")[0].inputs
    assert config["versioningConfiguration"] == {"status": "Enabled"}
    rules = children(versioned, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")[0].inputs["rules"]
    assert {r["id"] for r in rules} == {"abort-incomplete-multipart-uploads", "expire-noncurrent-versions"}


def test_dev_can_be_destroyed_and_prod_is_protected(run_pulumi) -> None:
    dev = run_pulumi(one_bucket(True)).named("data-bucket")
    assert dev.inputs["forceDestroy"] is True and not dev.protect and not dev.retain_on_delete
    prod = run_pulumi(one_bucket(True), stack="prod").named("data-bucket")
    assert prod.inputs["forceDestroy"] is False and prod.protect and prod.retain_on_delete

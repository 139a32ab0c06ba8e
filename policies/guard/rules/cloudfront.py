"""CloudFront in front of a private S3 site: HTTPS to viewers, a current TLS policy, Origin Access Control
(not the legacy origin access identity), and a bucket only that distribution can read."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from ..iam import Statement, is_public, principals, raw_documents, statements
from ..model import UNKNOWN, Graph, Resource, Unverifiable
from ..rule import Outcome, rule
from .hygiene import _BLOCK_FLAGS, BUCKET_POLICY, BUCKETS, PUBLIC_ACCESS_BLOCK

DISTRIBUTION = "aws:cloudfront/distribution:Distribution"
ORIGIN_ACCESS_CONTROL = "aws:cloudfront/originAccessControl:OriginAccessControl"
BUCKET_WEBSITE = frozenset(
    {
        "aws:s3/bucketWebsiteConfigurationV2:BucketWebsiteConfigurationV2",
        "aws:s3/bucketWebsiteConfiguration:BucketWebsiteConfiguration",
    }
)
HTTPS_POLICIES = ("redirect-to-https", "https-only")
# CloudFront's security policies, oldest first (viewerCertificate.minimumProtocolVersion).
TLS_POLICIES = (
    "SSLv3",
    "TLSv1",
    "TLSv1_2016",
    "TLSv1.1_2016",
    "TLSv1.2_2018",
    "TLSv1.2_2019",
    "TLSv1.2_2021",
    "TLSv1.2_2025",
    "TLSv1.3_2025",
)


def _behaviors(distribution: Resource) -> Iterator[tuple[str, Any]]:
    yield "defaultCacheBehavior", distribution.get("defaultCacheBehavior")
    for index, behavior in enumerate(distribution.get("orderedCacheBehaviors") or ()):
        pattern = behavior.get("pathPattern") if isinstance(behavior, Mapping) else None
        yield f"orderedCacheBehaviors[{index}] ({pattern})", behavior


@rule(
    "cloudfront-viewer-https",
    description="Every CloudFront cache behavior sends viewers to HTTPS (redirect-to-https or https-only).",
    remediation="Set viewer_protocol_policy='redirect-to-https' on the default and every ordered cache behavior.",
    types={DISTRIBUTION},
)
def viewer_https(distribution: Resource, settings: Mapping[str, Any]) -> Iterator[Outcome]:
    for where, behavior in _behaviors(distribution):
        if behavior is UNKNOWN:
            yield Unverifiable(f"{distribution.name}.{where}")
            continue
        policy = behavior.get("viewerProtocolPolicy") if isinstance(behavior, Mapping) else None
        if policy is UNKNOWN:
            yield Unverifiable(f"{distribution.name}.{where}.viewerProtocolPolicy")
        elif policy not in HTTPS_POLICIES:
            yield f"{distribution.name} {where} serves viewers over plain HTTP (viewerProtocolPolicy {policy!r})"


@rule(
    "cloudfront-minimum-tls",
    description=(
        "A CloudFront distribution with its own certificate accepts no TLS older than the configured security policy "
        "(the default *.cloudfront.net certificate has no such setting: allowed unless allowDefaultCertificate is off)."
    ),
    remediation="Set viewer_certificate.minimum_protocol_version='TLSv1.2_2021' (or newer) with sni-only.",
    types={DISTRIBUTION},
    config={
        "minimumProtocolVersion": {
            "type": "string",
            "enum": list(TLS_POLICIES),
            "default": "TLSv1.2_2021",
            "description": "The oldest security policy accepted.",
        },
        "allowDefaultCertificate": {
            "type": "boolean",
            "default": True,
            "description": "Accept the *.cloudfront.net certificate (CloudFront fixes its policy at TLSv1).",
        },
    },
)
def minimum_tls(distribution: Resource, settings: Mapping[str, Any]) -> Iterator[Outcome]:
    certificate = distribution.get("viewerCertificate") or {}
    if certificate.get("cloudfrontDefaultCertificate") in (True, "true") and not (
        certificate.get("acmCertificateArn") or certificate.get("iamCertificateId")
    ):
        if not settings["allowDefaultCertificate"]:
            yield f"{distribution.name} uses the default *.cloudfront.net certificate, whose TLS policy is TLSv1"
        return
    version = distribution.get("viewerCertificate", "minimumProtocolVersion") or "TLSv1"
    wanted = settings["minimumProtocolVersion"]
    if version not in TLS_POLICIES:
        yield f"{distribution.name} minimumProtocolVersion {version!r} is not a CloudFront security policy"
    elif TLS_POLICIES.index(version) < TLS_POLICIES.index(wanted):
        yield f"{distribution.name} accepts {version}, older than {wanted}"


def _is_s3_origin(origin: Mapping[str, Any]) -> bool:
    domain = origin.get("domainName")
    return isinstance(domain, str) and ".s3." in f".{domain}" and "s3-website" not in domain


@rule(
    "cloudfront-origin-access-control",
    description=(
        "S3 origins are read through Origin Access Control (signing always), not the legacy origin access identity "
        "(OAI) and not the public website endpoint."
    ),
    remediation=(
        "Create aws.cloudfront.OriginAccessControl(origin_access_control_origin_type='s3', signing_behavior='always', "
        "signing_protocol='sigv4'), set origin_access_control_id on the origin and drop s3_origin_config's OAI."
    ),
    types={DISTRIBUTION, ORIGIN_ACCESS_CONTROL},
)
def origin_access_control(subject: Resource, settings: Mapping[str, Any]) -> Iterator[Outcome]:
    if subject.type == ORIGIN_ACCESS_CONTROL:
        if subject.get("signingBehavior") != "always":
            yield f"{subject.name} signs only some requests (signingBehavior {subject.get('signingBehavior')!r})"
        return
    for index, origin in enumerate(subject.get("origins") or ()):
        if origin is UNKNOWN:
            yield Unverifiable(f"{subject.name}.origins[{index}]")
            continue
        if not isinstance(origin, Mapping):
            continue
        domain = origin.get("domainName")
        if isinstance(domain, str) and "s3-website" in domain:
            yield f"{subject.name} origin {origin.get('originId')} is an S3 website endpoint: the bucket must be public"
        s3_config = origin.get("s3OriginConfig")
        oai = s3_config.get("originAccessIdentity") if isinstance(s3_config, Mapping) else None
        if oai:
            yield f"{subject.name} origin {origin.get('originId')} uses a legacy origin access identity (OAI)"
        elif domain is UNKNOWN and origin.get("originAccessControlId") is None:
            yield Unverifiable(f"{subject.name}.origins[{index}].domainName")
        elif _is_s3_origin(origin) and not origin.get("originAccessControlId"):
            yield f"{subject.name} origin {origin.get('originId')} reads S3 without Origin Access Control"


def _origin_buckets(distribution: Resource, graph: Graph) -> list[Resource]:
    """The stack's buckets the distribution reads (property dependencies, else the origin's domain name)."""
    found = graph.referenced(distribution, "origins", BUCKETS)
    for origin in distribution.peek("origins") or ():
        domain = origin.get("domainName") if isinstance(origin, Mapping) else None
        for prop in ("bucketRegionalDomainName", "bucketDomainName"):
            found += graph.with_value(BUCKETS, prop, domain)
    return list({b.urn: b for b in found}.values())


def _grants_cloudfront(st: Statement) -> bool:
    return any(kind == "Service" and ident == "cloudfront.amazonaws.com" for kind, ident in principals(st.principal))


def _source_arns(st: Statement) -> list[Any]:
    values: list[Any] = []
    for operator, clauses in (st.condition or {}).items():
        if "not" in operator.lower() or operator.lower().endswith("ifexists"):
            continue
        for key, value in (clauses or {}).items():
            if key.lower() == "aws:sourcearn":
                values += value if isinstance(value, list) else [value]
    return values


@rule(
    "cloudfront-origin-bucket-private",
    description=(
        "A bucket a distribution reads is private: all four public access blocks, no website hosting, and a bucket "
        "policy that lets cloudfront.amazonaws.com read only for this distribution (AWS:SourceArn)."
    ),
    remediation=(
        "Add a BucketPublicAccessBlock with all four flags, drop the website configuration, and grant s3:GetObject to "
        "Service cloudfront.amazonaws.com with Condition StringEquals {'AWS:SourceArn': distribution.arn}."
    ),
    types={DISTRIBUTION},
    needs_graph=True,
)
def origin_bucket_private(distribution: Resource, graph: Graph, settings: Mapping[str, Any]) -> Iterator[Outcome]:
    own_arn = distribution.peek("arn")
    for bucket in _origin_buckets(distribution, graph):
        blocks = graph.referencing(bucket, "bucket", {PUBLIC_ACCESS_BLOCK})
        if not any(all(b.flag(f) is True for f in _BLOCK_FLAGS) for b in blocks):
            yield f"{bucket.name} (origin of {distribution.name}) does not block public access with all four flags"
        if bucket.peek("website") or graph.referencing(bucket, "bucket", BUCKET_WEBSITE):
            yield f"{bucket.name} (origin of {distribution.name}) is configured as a public website"
        granted = False
        for policy in graph.referencing(bucket, "bucket", {BUCKET_POLICY}):
            for st in statements(raw_documents(policy)):
                if not isinstance(st, Statement):
                    yield st if isinstance(st, Unverifiable) else f"{policy.name}: {st}"
                    continue
                if st.effect != "Allow":
                    continue
                if is_public(st.principal):
                    yield f"{policy.name} {st.where} lets everyone read {bucket.name}, not only {distribution.name}"
                if not _grants_cloudfront(st):
                    continue
                granted = True
                arns = _source_arns(st)
                if not arns:
                    yield f"{policy.name} {st.where} lets every CloudFront distribution read {bucket.name} (no AWS:SourceArn)"
                elif UNKNOWN in arns or own_arn is UNKNOWN:
                    if distribution.urn not in policy.property_dependencies.get("policy", ()):
                        yield Unverifiable(f"{policy.name}.policy AWS:SourceArn")
                elif any(a != own_arn for a in arns):
                    yield f"{policy.name} {st.where} lets distributions {', '.join(map(str, arns))} read {bucket.name}"
        if not granted:
            yield f"{bucket.name} has no bucket policy granting {distribution.name} (cloudfront.amazonaws.com) read access"

"""DocsSite: the API's OpenAPI document and a page that renders it, in a private bucket behind CloudFront.

    viewer ──HTTPS──> CloudFront (redirect to HTTPS, security headers, compression)
                        │ viewer-request: CloudFront Function (`/` → the docs page, `/api/x` → `/x`)
                        ├─ default  ──OAC (SigV4)──> private S3 bucket: docs/index.html, docs.js, docs.css,
                        │                                                 docs/openapi.json, docs/config.json
                        └─ /api/*   ──HTTPS──> REST API stage (optional: no caching, Authorization forwarded)

The bucket is a SecureBucket whose one policy is TLS-only plus a read grant to exactly this distribution
(`AWS:SourceArn`): no public access, no legacy origin access identity.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pulumi
import pulumi_aws as aws

from .bucket import SecureBucket, SecureBucketArgs
from .tokens import component_type

COMPONENTS_DIR = Path(__file__).resolve().parent
VIEWER_REQUEST_FUNCTION = COMPONENTS_DIR / "edge" / "docs_viewer_request.js"
PAGE_DIR = COMPONENTS_DIR / "docs"
DOCS_PREFIX = "docs/"
DOCS_INDEX = f"{DOCS_PREFIX}index.html"
# The page's own files (key under docs/ → content type); examples.json is read by the generator, not served.
PAGE_FILES = {"index.html": "text/html; charset=utf-8", "docs.js": "text/javascript; charset=utf-8",
              "docs.css": "text/css; charset=utf-8"}
JSON_TYPE = "application/json"
# Small, often-changed files: CloudFront (CachingOptimized honours Cache-Control) re-reads them within a minute.
CACHE_CONTROL = "public, max-age=60"

# AWS managed policies (fixed, documented ids).
CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
# With caching disabled this policy forwards Authorization; Host is not forwarded (API Gateway would 403).
ALL_VIEWER_EXCEPT_HOST_HEADER = "b689b0a8-53d0-40ab-baf2-68738e2966ac"

PRICE_CLASSES = ("PriceClass_100", "PriceClass_200", "PriceClass_All")
# Viewer TLS policies CloudFront offers for a custom certificate that are current (TLS 1.2+ with modern ciphers).
TLS_POLICIES = ("TLSv1.2_2021", "TLSv1.2_2025", "TLSv1.3_2025")
HSTS_MAX_AGE_SECONDS = 63_072_000  # two years, as hstspreload.org requires
CSP_MAX_LENGTH = 1783  # CloudFront's limit on the Content-Security-Policy value
API_PATH_PATTERN = "/api/*"
ALL_METHODS = ["GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"]


def content_security_policy(connect_sources: Sequence[str] = ()) -> str:
    """The page loads only its own files; it talks to itself, the Hosted UI token endpoint and the API."""
    connect = " ".join(["'self'", *connect_sources])
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"connect-src {connect}; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; "
        "upgrade-insecure-requests"
    )


def origin_of(url: str) -> str:
    """`https://host[:port]` of a URL (what a CSP source or a CORS origin names)."""
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.netloc:
        raise ValueError(f"{url!r} is not an https URL")
    return f"{parts.scheme}://{parts.netloc}"


@dataclass(frozen=True)
class CustomDomain:
    """Aliases served with an ACM certificate (CloudFront reads certificates from us-east-1 only)."""

    aliases: tuple[str, ...]
    certificate_arn: str
    minimum_protocol_version: str = "TLSv1.2_2021"

    def __post_init__(self) -> None:
        if not self.aliases:
            raise ValueError("a custom domain needs at least one alias")
        if not self.certificate_arn.startswith("arn:aws:acm:us-east-1:"):
            raise ValueError(f"CloudFront needs an ACM certificate in us-east-1, got {self.certificate_arn!r}")
        if self.minimum_protocol_version not in TLS_POLICIES:
            raise ValueError(f"minimum_protocol_version must be one of {', '.join(TLS_POLICIES)}")


@dataclass(frozen=True)
class SignIn:
    """What the page needs to start the Hosted UI authorization-code + PKCE flow (no secret: a public client)."""

    hosted_ui_url: pulumi.Input[str]
    client_id: pulumi.Input[str]
    scopes: tuple[str, ...]


@dataclass(frozen=True)
class DocsSiteArgs:
    bucket: SecureBucketArgs = field(default_factory=lambda: SecureBucketArgs(deferred_policy=True))
    # The OpenAPI document (JSON text) to publish, e.g. `components.openapi.document_json(...)`.
    openapi: pulumi.Input[str] | None = None
    # The API stage URL (`https://<id>.execute-api.<region>.amazonaws.com/<stage>`): shown in curl lines, and
    # the origin of the /api/* behavior when `serve_api` is set.
    api_url: pulumi.Input[str] | None = None
    title: str = "API reference"
    price_class: str = "PriceClass_100"
    # Also serve the API at /api/* (uncached, Authorization forwarded): one domain for docs and API.
    serve_api: bool = False
    domain: CustomDomain | None = None
    # Origins the page may call besides itself: the Hosted UI (token endpoint) and the API when cross-origin.
    connect_sources: tuple[str, ...] = ()
    tags: Mapping[str, str] = field(default_factory=dict)
    # Escape hatch: extra or replaced inputs of the Distribution (e.g. {"web_acl_id": ..., "logging_config": ...}).
    distribution_args: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.price_class not in PRICE_CLASSES:
            raise ValueError(f"price_class must be one of {', '.join(PRICE_CLASSES)}, got {self.price_class!r}")
        if not self.bucket.deferred_policy:
            raise ValueError("the docs bucket's policy is completed by DocsSite: pass SecureBucketArgs(deferred_policy=True)")
        for source in self.connect_sources:
            if not source.startswith("https://") or any(c in source for c in " ;'*"):
                raise ValueError(f"connect source {source!r} must be one https origin")
        if len(content_security_policy(self.connect_sources)) > CSP_MAX_LENGTH:
            raise ValueError(f"the Content-Security-Policy is longer than CloudFront's {CSP_MAX_LENGTH} characters")

    def with_api(self, openapi: pulumi.Input[str], api_url: pulumi.Input[str]) -> DocsSiteArgs:
        """The API this site documents (known once the API's stage exists)."""
        return replace(self, openapi=openapi, api_url=api_url)


class DocsSite(pulumi.ComponentResource):
    distribution: aws.cloudfront.Distribution
    domain_name: pulumi.Output[str]
    docs_url: pulumi.Output[str]
    api_base_url: pulumi.Output[str]

    def __init__(self, name: str, args: DocsSiteArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(component_type("DocsSite"), name, None, opts)
        if args.openapi is None or args.api_url is None:
            raise ValueError(f"DocsSite {name!r}: give the API with DocsSiteArgs.with_api(openapi, api_url)")
        self._name = name
        self._config_published = False
        child = pulumi.ResourceOptions(parent=self)
        tags = dict(args.tags)

        self.site = SecureBucket(f"{name}-site", args.bucket, opts=child)
        access_control = aws.cloudfront.OriginAccessControl(
            f"{name}-oac",
            description=f"{name}: CloudFront signs every request to the docs bucket",
            origin_access_control_origin_type="s3",
            signing_behavior="always",
            signing_protocol="sigv4",
            opts=child,
        )
        viewer_request = aws.cloudfront.Function(
            f"{name}-viewer-request",
            runtime="cloudfront-js-2.0",
            comment="/ -> docs page; /api/x -> x at the API stage",
            code=VIEWER_REQUEST_FUNCTION.read_text(),
            publish=True,
            opts=child,
        )
        sec = aws.cloudfront
        # Same-origin /api/* needs no connect source; otherwise the page calls the stage's own origin.
        api_url = pulumi.Output.from_input(args.api_url)
        csp = (
            content_security_policy(args.connect_sources)
            if args.serve_api
            else api_url.apply(lambda url: content_security_policy([*args.connect_sources, origin_of(url)]))
        )
        self.headers_policy = aws.cloudfront.ResponseHeadersPolicy(
            f"{name}-security-headers",
            comment="HSTS, nosniff, no framing, strict referrer, CSP the docs page satisfies",
            security_headers_config=sec.ResponseHeadersPolicySecurityHeadersConfigArgs(
                strict_transport_security=sec.ResponseHeadersPolicySecurityHeadersConfigStrictTransportSecurityArgs(
                    access_control_max_age_sec=HSTS_MAX_AGE_SECONDS, include_subdomains=True, preload=True,
                    override=True,
                ),
                content_type_options=sec.ResponseHeadersPolicySecurityHeadersConfigContentTypeOptionsArgs(
                    override=True
                ),
                frame_options=sec.ResponseHeadersPolicySecurityHeadersConfigFrameOptionsArgs(
                    frame_option="DENY", override=True
                ),
                referrer_policy=sec.ResponseHeadersPolicySecurityHeadersConfigReferrerPolicyArgs(
                    referrer_policy="strict-origin-when-cross-origin", override=True
                ),
                content_security_policy=sec.ResponseHeadersPolicySecurityHeadersConfigContentSecurityPolicyArgs(
                    content_security_policy=csp, override=True
                ),
            ),
            opts=child,
        )
        site_origin = "docs-bucket"
        origins = [
            aws.cloudfront.DistributionOriginArgs(
                origin_id=site_origin,
                domain_name=self.site.bucket.bucket_regional_domain_name,
                origin_access_control_id=access_control.id,
            )
        ]
        function_associations = [
            aws.cloudfront.DistributionDefaultCacheBehaviorFunctionAssociationArgs(
                event_type="viewer-request", function_arn=viewer_request.arn
            )
        ]
        ordered_behaviors = []
        if args.serve_api:
            # The stage URL names both: its host is the origin, its path (`/<stage>`) the origin path.
            origins.append(
                aws.cloudfront.DistributionOriginArgs(
                    origin_id="rest-api",
                    domain_name=api_url.apply(lambda url: urlsplit(url).netloc),
                    origin_path=api_url.apply(lambda url: urlsplit(url).path.rstrip("/")),
                    custom_origin_config=aws.cloudfront.DistributionOriginCustomOriginConfigArgs(
                        http_port=80, https_port=443, origin_protocol_policy="https-only",
                        origin_ssl_protocols=["TLSv1.2"],
                    ),
                )
            )
            ordered_behaviors.append(
                aws.cloudfront.DistributionOrderedCacheBehaviorArgs(
                    path_pattern=API_PATH_PATTERN,
                    target_origin_id="rest-api",
                    # A redirect would turn a POST into a GET: API calls over plain HTTP are refused instead.
                    viewer_protocol_policy="https-only",
                    allowed_methods=ALL_METHODS,
                    cached_methods=["GET", "HEAD"],
                    compress=True,
                    cache_policy_id=CACHING_DISABLED,
                    origin_request_policy_id=ALL_VIEWER_EXCEPT_HOST_HEADER,
                    response_headers_policy_id=self.headers_policy.id,
                    function_associations=[
                        aws.cloudfront.DistributionOrderedCacheBehaviorFunctionAssociationArgs(
                            event_type="viewer-request", function_arn=viewer_request.arn
                        )
                    ],
                )
            )
        if args.domain is not None:
            certificate = aws.cloudfront.DistributionViewerCertificateArgs(
                acm_certificate_arn=args.domain.certificate_arn,
                ssl_support_method="sni-only",
                minimum_protocol_version=args.domain.minimum_protocol_version,
            )
        else:
            # On *.cloudfront.net CloudFront fixes the security policy itself (viewers still negotiate TLS 1.3/1.2);
            # choosing the policy needs a custom domain.
            certificate = aws.cloudfront.DistributionViewerCertificateArgs(cloudfront_default_certificate=True)

        self.distribution = aws.cloudfront.Distribution(
            f"{name}-distribution",
            **{
                "enabled": True,
                "comment": f"{name}: API docs",
                "aliases": list(args.domain.aliases) if args.domain else None,
                "default_root_object": DOCS_INDEX,
                "http_version": "http2and3",
                "is_ipv6_enabled": True,
                "price_class": args.price_class,
                "origins": origins,
                "default_cache_behavior": aws.cloudfront.DistributionDefaultCacheBehaviorArgs(
                    target_origin_id=site_origin,
                    viewer_protocol_policy="redirect-to-https",
                    allowed_methods=["GET", "HEAD"],
                    cached_methods=["GET", "HEAD"],
                    compress=True,
                    cache_policy_id=CACHING_OPTIMIZED,
                    response_headers_policy_id=self.headers_policy.id,
                    function_associations=function_associations,
                ),
                "ordered_cache_behaviors": ordered_behaviors or None,
                "restrictions": aws.cloudfront.DistributionRestrictionsArgs(
                    geo_restriction=aws.cloudfront.DistributionRestrictionsGeoRestrictionArgs(restriction_type="none")
                ),
                "viewer_certificate": certificate,
                "tags": tags,
                **args.distribution_args,
            },
            opts=child,
        )
        # The bucket's one policy: TLS only, and reads by this distribution alone (a confused-deputy guard:
        # another distribution with the same OAC or principal gets nothing).
        self.site.attach_policy(
            [
                {
                    "Sid": "AllowThisDistributionOnly",
                    "Effect": "Allow",
                    "Principal": {"Service": "cloudfront.amazonaws.com"},
                    "Action": "s3:GetObject",
                    "Resource": pulumi.Output.concat(self.site.arn, "/*"),
                    "Condition": {"StringEquals": {"AWS:SourceArn": self.distribution.arn}},
                }
            ]
        )

        for file_name, content_type in PAGE_FILES.items():
            self._object(file_name, content_type, source=pulumi.FileAsset(str(PAGE_DIR / file_name)))
        self._object("openapi.json", JSON_TYPE, content=args.openapi)

        host = args.domain.aliases[0] if args.domain else self.distribution.domain_name
        self.domain_name = self.distribution.domain_name
        self.docs_url = pulumi.Output.concat("https://", host, "/", DOCS_PREFIX)
        self.api_base_url = (
            pulumi.Output.concat("https://", host, "/api") if args.serve_api else api_url
        )
        self._title = args.title
        self.register_outputs(
            {"domain_name": self.domain_name, "docs_url": self.docs_url, "api_base_url": self.api_base_url}
        )

    def _object(self, file_name: str, content_type: str, **body) -> aws.s3.BucketObjectv2:
        return aws.s3.BucketObjectv2(
            f"{self._name}-{file_name}",
            bucket=self.site.bucket.id,
            key=f"{DOCS_PREFIX}{file_name}",
            content_type=content_type,
            cache_control=CACHE_CONTROL,
            opts=pulumi.ResourceOptions(parent=self),
            **body,
        )

    def publish_config(self, sign_in: SignIn | None = None) -> aws.s3.BucketObjectv2:
        """docs/config.json: where the page sends API calls and how it signs in.

        Separate from the constructor because the Hosted UI app client's callback URL is this site's URL:
        the client is created after the site, and its id is published here (exactly once).
        """
        if self._config_published:
            raise RuntimeError(f"DocsSite {self._name!r} already published its config")
        self._config_published = True
        config = {
            "title": self._title,
            "apiUrl": self.api_base_url,
            "hostedUi": None
            if sign_in is None
            else {
                "domain": sign_in.hosted_ui_url,
                "clientId": sign_in.client_id,
                "scopes": list(sign_in.scopes),
                "redirectUri": self.docs_url,
                "logoutUri": self.docs_url,
            },
        }
        return self._object("config.json", JSON_TYPE, content=pulumi.Output.json_dumps(config))

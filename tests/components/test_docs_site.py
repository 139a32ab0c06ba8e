"""DocsSite alone, from explicit Args: private bucket via OAC, HTTPS, security headers, the edge function, content."""

from __future__ import annotations

import json
from html.parser import HTMLParser

import pytest

from components.bucket import SecureBucketArgs
from components.docs_site import (
    ALL_VIEWER_EXCEPT_HOST_HEADER,
    CACHING_DISABLED,
    CACHING_OPTIMIZED,
    PAGE_DIR,
    PAGE_FILES,
    VIEWER_REQUEST_FUNCTION,
    CustomDomain,
    DocsSite,
    DocsSiteArgs,
    SignIn,
    content_security_policy,
)

DISTRIBUTION = "aws:cloudfront/distribution:Distribution"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
OBJECT = "aws:s3/bucketObjectv2:BucketObjectv2"
OPENAPI = json.dumps({"openapi": "3.0.3", "info": {"title": "t", "version": "1"}, "paths": {}})
HOSTED_UI = "https://dev-secure-serverless.auth.us-east-1.amazoncognito.com"
CERT = "arn:aws:acm:us-east-1:123456789012:certificate/0f0e0d0c-1b2a-4c3d-8e9f-a0b1c2d3e4f5"


def site_program(*, serve_api=True, domain=None, sign_in=True, price_class="PriceClass_100"):
    def program():
        docs = DocsSite(
            "docs",
            DocsSiteArgs(
                bucket=SecureBucketArgs(force_destroy=True, deferred_policy=True),
                price_class=price_class,
                serve_api=serve_api,
                domain=domain,
                connect_sources=(HOSTED_UI,),
            ).with_api(OPENAPI, "https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com/dev"),
        )
        docs.publish_config(SignIn(HOSTED_UI, "4l2gq8s1q5ia0v3bq7n6uml4fc", ("openid", "email")) if sign_in else None)

    return program


def distribution(run):
    (dist,) = run.of_type(DISTRIBUTION)
    return dist


def test_bucket_is_read_only_through_this_distribution_with_oac(run_pulumi) -> None:
    run = run_pulumi(site_program())
    dist = distribution(run)
    oac = run.named("docs-oac")
    assert oac.inputs["originAccessControlOriginType"] == "s3"
    assert oac.inputs["signingBehavior"] == "always"
    assert oac.inputs["signingProtocol"] == "sigv4"
    (site,) = [o for o in dist.inputs["origins"] if o["originId"] == "docs-bucket"]
    assert site["originAccessControlId"] == oac.id
    assert site["domainName"] == run.named("docs-site-bucket").outputs["bucketRegionalDomainName"]
    # OAC, not the legacy origin access identity; an S3 REST origin, not a public website endpoint.
    assert "s3OriginConfig" not in site and "customOriginConfig" not in site

    bucket = run.named("docs-site-bucket")
    policies = [p for p in run.of_type(BUCKET_POLICY) if p.inputs["bucket"] == bucket.id]
    assert len(policies) == 1, "a bucket has one policy: a second one would overwrite the first"
    statements = json.loads(policies[0].inputs["policy"])["Statement"]
    deny, allow = statements
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert allow == {
        "Sid": "AllowThisDistributionOnly",
        "Effect": "Allow",
        "Principal": {"Service": "cloudfront.amazonaws.com"},
        "Action": "s3:GetObject",
        "Resource": f"{bucket.outputs['arn']}/*",
        "Condition": {"StringEquals": {"AWS:SourceArn": dist.outputs["arn"]}},
    }
    assert dist.outputs["arn"].startswith("arn:aws:cloudfront::123456789012:distribution/E")
    block = run.named("docs-site-public-access").inputs
    assert all(block[k] is True for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls",
                                          "restrictPublicBuckets"))
    assert run.named("docs-site-public-access").urn in policies[0].dependencies


def test_default_behavior_is_https_compressed_cached_with_function_and_headers(run_pulumi) -> None:
    run = run_pulumi(site_program(price_class="PriceClass_200"))
    dist = distribution(run).inputs
    behavior = dist["defaultCacheBehavior"]
    assert behavior["viewerProtocolPolicy"] == "redirect-to-https"
    assert behavior["compress"] is True
    assert behavior["cachePolicyId"] == CACHING_OPTIMIZED
    assert sorted(behavior["allowedMethods"]) == ["GET", "HEAD"]
    assert behavior["responseHeadersPolicyId"] == run.named("docs-security-headers").id
    function = run.named("docs-viewer-request")
    assert behavior["functionAssociations"] == [{"eventType": "viewer-request", "functionArn": function.outputs["arn"]}]
    assert dist["priceClass"] == "PriceClass_200"
    assert dist["defaultRootObject"] == "docs/index.html"
    assert dist["enabled"] is True


def test_the_function_is_the_repo_file_on_cloudfront_js_2_0(run_pulumi) -> None:
    run = run_pulumi(site_program())
    function = run.named("docs-viewer-request").inputs
    assert function["runtime"] == "cloudfront-js-2.0"
    assert function["code"] == VIEWER_REQUEST_FUNCTION.read_text()
    assert function["publish"] is True  # associations use the LIVE stage: unpublished code never runs


def test_security_headers_policy(run_pulumi) -> None:
    run = run_pulumi(site_program())
    headers = run.named("docs-security-headers").inputs["securityHeadersConfig"]
    hsts = headers["strictTransportSecurity"]
    assert hsts["accessControlMaxAgeSec"] >= 31_536_000 and hsts["includeSubdomains"] is True
    assert headers["contentTypeOptions"] == {"override": True}
    assert headers["frameOptions"] == {"frameOption": "DENY", "override": True}
    assert headers["referrerPolicy"]["referrerPolicy"] == "strict-origin-when-cross-origin"
    csp = headers["contentSecurityPolicy"]["contentSecurityPolicy"]
    assert csp == content_security_policy((HOSTED_UI,))
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";") if " " in d.strip())
    assert directives["frame-ancestors"] == "'none'"
    assert directives["script-src"] == "'self'" and directives["default-src"] == "'none'"
    assert directives["connect-src"] == f"'self' {HOSTED_UI}"
    assert all(h["override"] is True for h in headers.values())


def test_default_certificate_without_a_domain_and_a_current_tls_policy_with_one(run_pulumi) -> None:
    plain = distribution(run_pulumi(site_program())).inputs
    assert plain["viewerCertificate"] == {"cloudfrontDefaultCertificate": True}
    assert "aliases" not in plain


def test_custom_domain_uses_its_us_east_1_certificate_and_tls_1_2_2021(run_pulumi) -> None:
    domain = CustomDomain(("docs.example.com",), CERT)
    run = run_pulumi(site_program(domain=domain))
    dist = distribution(run).inputs
    assert dist["aliases"] == ["docs.example.com"]
    assert dist["viewerCertificate"] == {
        "acmCertificateArn": CERT, "sslSupportMethod": "sni-only", "minimumProtocolVersion": "TLSv1.2_2021"}
    outputs = run.component_outputs[run.named("docs").urn]
    assert outputs["docs_url"] == "https://docs.example.com/docs/"


def test_api_behavior_passes_calls_uncached_with_authorization(run_pulumi) -> None:
    run = run_pulumi(site_program())
    dist = distribution(run).inputs
    (api,) = [o for o in dist["origins"] if o["originId"] == "rest-api"]
    assert api["domainName"] == "a1b2c3d4e5.execute-api.us-east-1.amazonaws.com"
    assert api["originPath"] == "/dev"
    assert api["customOriginConfig"]["originProtocolPolicy"] == "https-only"
    assert api["customOriginConfig"]["originSslProtocols"] == ["TLSv1.2"]
    (behavior,) = dist["orderedCacheBehaviors"]
    assert behavior["pathPattern"] == "/api/*"
    assert behavior["targetOriginId"] == "rest-api"
    assert behavior["viewerProtocolPolicy"] == "https-only"
    assert sorted(behavior["allowedMethods"]) == sorted(["GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"])
    # Caching disabled is what lets the origin request policy forward Authorization (CloudFront refuses it
    # in an origin request policy otherwise), and no response is ever cached across callers.
    assert behavior["cachePolicyId"] == CACHING_DISABLED
    assert behavior["originRequestPolicyId"] == ALL_VIEWER_EXCEPT_HOST_HEADER
    assert behavior["functionAssociations"][0]["functionArn"] == run.named("docs-viewer-request").outputs["arn"]
    outputs = run.component_outputs[run.named("docs").urn]
    assert outputs["api_base_url"] == f"https://{distribution(run).outputs['domainName']}/api"


def test_without_api_origin_only_the_bucket_is_served(run_pulumi) -> None:
    run = run_pulumi(site_program(serve_api=False))
    dist = distribution(run).inputs
    assert [o["originId"] for o in dist["origins"]] == ["docs-bucket"]
    assert "orderedCacheBehaviors" not in dist
    config = json.loads(run.named("docs-config.json").inputs["content"])
    assert config["apiUrl"] == "https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com/dev"
    # The page then calls the stage cross-origin: its CSP must allow exactly that origin too.
    headers = run.named("docs-security-headers").inputs["securityHeadersConfig"]
    assert headers["contentSecurityPolicy"]["contentSecurityPolicy"] == content_security_policy(
        (HOSTED_UI, "https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com"))


def test_page_openapi_and_config_are_published_under_docs(run_pulumi) -> None:
    run = run_pulumi(site_program())
    bucket = run.named("docs-site-bucket")
    objects = {o.inputs["key"]: o.inputs for o in run.of_type(OBJECT)}
    assert set(objects) == {"docs/index.html", "docs/docs.js", "docs/docs.css", "docs/openapi.json", "docs/config.json"}
    assert all(o["bucket"] == bucket.id for o in objects.values())
    assert objects["docs/index.html"]["contentType"].startswith("text/html")
    assert objects["docs/docs.js"]["contentType"].startswith("text/javascript")
    assert objects["docs/openapi.json"]["content"] == OPENAPI
    domain = distribution(run).outputs["domainName"]
    config = json.loads(objects["docs/config.json"]["content"])
    assert config["hostedUi"] == {
        "domain": HOSTED_UI, "clientId": "4l2gq8s1q5ia0v3bq7n6uml4fc", "scopes": ["openid", "email"],
        "redirectUri": f"https://{domain}/docs/", "logoutUri": f"https://{domain}/docs/"}
    outputs = run.component_outputs[run.named("docs").urn]
    assert outputs["docs_url"] == f"https://{domain}/docs/"
    assert outputs["domain_name"] == domain


def test_config_without_sign_in_says_so(run_pulumi) -> None:
    run = run_pulumi(site_program(sign_in=False))
    assert json.loads(run.named("docs-config.json").inputs["content"])["hostedUi"] is None


class _PageAudit(HTMLParser):
    """Everything in the page a `script-src 'self'; style-src 'self'; default-src 'none'` CSP would block."""

    def __init__(self) -> None:
        super().__init__()
        self.blocked: list[str] = []
        self.loaded: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for name in attrs:
            if name.startswith("on") or name == "style":
                self.blocked.append(f"<{tag} {name}=...>")
        if tag == "style":
            self.blocked.append("<style>")
        if tag == "script":
            self._in_script = True
            if "src" not in attrs:
                self.blocked.append("inline <script>")
        for name in ("src",) + (("href",) if tag == "link" else ()):
            if name in attrs:
                self.loaded.append(attrs[name])
        if tag == "a" and attrs.get("href", "").startswith("javascript:"):
            self.blocked.append("javascript: URL")

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script and data.strip():
            self.blocked.append("inline script text")


def test_the_docs_page_satisfies_its_csp() -> None:
    audit = _PageAudit()
    audit.feed((PAGE_DIR / "index.html").read_text())
    assert audit.blocked == []
    # Everything loaded is one of the page's own published files ('self'), by absolute path because `/`
    # is rewritten to the page at the edge.
    assert audit.loaded and all(src.startswith("/docs/") and src[len("/docs/"):] in PAGE_FILES for src in audit.loaded)
    script = (PAGE_DIR / "docs.js").read_text()
    # No string-to-code (CSP without 'unsafe-eval') and no HTML parsing of data (text only).
    for forbidden in ("eval(", "new Function", "innerHTML", "outerHTML", "document.write", "insertAdjacentHTML"):
        assert forbidden not in script, forbidden


@pytest.mark.parametrize(
    "change, message",
    [
        ({"price_class": "PriceClass_300"}, "price_class"),
        ({"connect_sources": ("http://localhost:3000",)}, "https origin"),
        ({"connect_sources": ("https://a.example.com; script-src *",)}, "https origin"),
        ({"bucket_deferred": False}, "deferred_policy=True"),
    ],
)
def test_args_refuse_what_aws_or_the_design_would_not_take(change, message, run_pulumi) -> None:
    def program():
        values = {"price_class": "PriceClass_100", "connect_sources": (), **change}
        deferred = values.pop("bucket_deferred", True)
        DocsSiteArgs(bucket=SecureBucketArgs(deferred_policy=deferred), **values)

    with pytest.raises(Exception, match=message):
        run_pulumi(program)


def test_custom_domain_certificate_must_be_in_us_east_1() -> None:
    with pytest.raises(ValueError, match="us-east-1"):
        CustomDomain(("docs.example.com",), CERT.replace("us-east-1", "eu-west-1"))
    with pytest.raises(ValueError, match="minimum_protocol_version"):
        CustomDomain(("docs.example.com",), CERT, minimum_protocol_version="TLSv1")


def test_config_is_published_once(run_pulumi) -> None:
    def program():
        docs = DocsSite("docs", DocsSiteArgs().with_api("{}", "https://x"))
        docs.publish_config()
        docs.publish_config()

    with pytest.raises(Exception, match="already published"):
        run_pulumi(program)


def test_aws_limits_on_the_edge_resources_apply(run_pulumi) -> None:
    # CloudFront function names are at most 64 characters: the provider's auto-name of a long component's
    # function (`<name>-viewer-request-<7 hex>`) is refused as AWS would refuse it.
    def program():
        DocsSite("d" * 43, DocsSiteArgs().with_api("{}", "https://x"))

    with pytest.raises(Exception, match="CreateFunction Name"):
        run_pulumi(program)


def test_the_api_must_be_given(run_pulumi) -> None:
    with pytest.raises(Exception, match="with_api"):
        run_pulumi(lambda: DocsSite("docs", DocsSiteArgs()))


def test_distribution_args_adjust_the_distribution(run_pulumi) -> None:
    acl = "arn:aws:wafv2:us-east-1:123456789012:global/webacl/docs/a1b2c3d4-5678-90ab-cdef-EXAMPLE11111"

    def program():
        DocsSite("docs", DocsSiteArgs(distribution_args={"web_acl_id": acl, "price_class": "PriceClass_All"})
                 .with_api("{}", "https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com/dev"))

    dist = distribution(run_pulumi(program)).inputs
    assert dist["webAclId"] == acl
    assert dist["priceClass"] == "PriceClass_All"
    assert dist["defaultCacheBehavior"]["viewerProtocolPolicy"] == "redirect-to-https"

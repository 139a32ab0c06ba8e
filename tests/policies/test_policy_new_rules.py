"""Route exposure, the peers' rules and CloudFront: each with its id, default level, passing and failing cases."""

from __future__ import annotations

import json

import pytest

from policies.guard import RULES_BY_ID
from policies.guard.model import UNKNOWN
from policies.guard.rules.peers import DEPRECATED_RUNTIMES
from tests.policies.policy_builders import (
    ACCOUNT,
    LAMBDA_TRUST,
    StackBuilder,
    allow,
    arn,
    document,
    fired,
    judge,
    reference_graph,
    with_resource,
)

REST_API = "aws:apigateway/restApi:RestApi"
HTTP_API = "aws:apigatewayv2/api:Api"
FUNCTION = "aws:lambda/function:Function"
ROLE = "aws:iam/role:Role"


def openapi(operation: dict, **top) -> str:
    schemes = {"cognito": {"type": "apiKey", "name": "Authorization", "in": "header",
                           "x-amazon-apigateway-authtype": "cognito_user_pools",
                           "x-amazon-apigateway-authorizer": {"type": "cognito_user_pools",
                                                              "providerARNs": [arn("cognito-idp", "userpool/p")]}},
               "api_key": {"type": "apiKey", "name": "x-api-key", "in": "header"}}
    return json.dumps({"openapi": "3.0.1", "info": {"title": "t", "version": "1"},
                       "paths": {"/orders": {"get": operation, "options": {}}},
                       "components": {"securitySchemes": schemes}, **top})


def violations(rule_id: str, type_: str, props: dict, settings: dict | None = None) -> tuple[str, ...]:
    verdict = judge(rule_id, type_, props, settings)
    assert verdict.unknown is None, verdict.unknown
    return verdict.violations


# (rule id, resource type, props, settings or None, expected to fail)
CASES = {
    "apigateway-openapi-routes-authorized": [
        (REST_API, {"body": openapi({"security": [{"cognito": []}]})}, None, False),
        (REST_API, {"body": openapi({}, security=[{"cognito": []}])}, None, False),  # document-wide security
        (REST_API, {"body": openapi({"x-amazon-apigateway-auth": {"type": "AWS_IAM"}})}, None, False),
        (REST_API, {"body": openapi({})}, None, True),
        (REST_API, {"body": openapi({"security": [{"cognito": []}, {}]})}, None, True),  # {} = anonymous allowed
        (REST_API, {"body": openapi({"security": [{"api_key": []}]})}, None, True),  # an API key is not auth
        (REST_API, {"body": openapi({"security": []})}, None, True),
        (REST_API, {"body": openapi({})}, {"publicRoutes": ["GET /orders"]}, False),
        (REST_API, {"body": "openapi: 3.0.1\npaths:\n  /orders:\n    post: {}\n"}, None, True),  # YAML
        (REST_API, {"body": "{not an api"}, None, True),
        (HTTP_API, {"body": openapi({"security": [{"cognito": []}]}), "protocolType": "HTTP"}, None, False),
        (REST_API, {"name": "no-body"}, None, False),
    ],
    "apigatewayv2-quick-create-authorized": [
        (HTTP_API, {"protocolType": "HTTP", "target": arn("lambda", "function:f")}, None, True),
        (HTTP_API, {"protocolType": "HTTP", "target": "f", "routeKey": "GET /health"}, {"publicRoutes": ["GET /health"]},
         False),
        (HTTP_API, {"protocolType": "HTTP"}, None, False),
    ],
    "lambda-function-url-authorized": [
        ("aws:lambda/functionUrl:FunctionUrl", {"functionName": "f", "authorizationType": "AWS_IAM"}, None, False),
        ("aws:lambda/functionUrl:FunctionUrl", {"functionName": "f", "authorizationType": "NONE"}, None, True),
        ("aws:lambda/functionUrl:FunctionUrl", {"functionName": "webhook", "authorizationType": "NONE"},
         {"publicFunctions": ["web*"]}, False),
        ("aws:lambda/functionUrl:FunctionUrl", {"functionName": "webhook", "authorizationType": "NONE",
                                                "cors": {"allowOrigins": ["*"]}}, {"publicFunctions": ["web*"]}, True),
    ],
    "resource-policy-no-public-allow": [
        (REST_API, {"policy": json.dumps(document({"Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke",
                                                   "Resource": "execute-api:/*"}))}, None, True),
        ("aws:apigateway/restApiPolicy:RestApiPolicy", {"policy": json.dumps(document(
            {"Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke", "Resource": "execute-api:/*",
             "Condition": {"StringEquals": {"aws:SourceVpce": "vpce-1a2b"}}}))}, None, False),
        (REST_API, {"policy": ""}, None, False),
    ],
    "lambda-runtime-not-deprecated": [
        (FUNCTION, {"runtime": "python3.12"}, None, False),
        (FUNCTION, {"runtime": "python3.9"}, None, True),
        (FUNCTION, {"runtime": "nodejs20.x"}, {"asOf": "2026-04-29"}, False),
        (FUNCTION, {"runtime": "nodejs20.x"}, {"asOf": "2026-04-30"}, True),
        (FUNCTION, {"packageType": "Image"}, None, False),
    ],
    "xray-tracing-enabled": [
        (FUNCTION, {"tracingConfig": {"mode": "Active"}}, None, False),
        (FUNCTION, {"tracingConfig": {"mode": "PassThrough"}}, None, True),
        ("aws:apigateway/stage:Stage", {"xrayTracingEnabled": True}, None, False),
        ("aws:apigateway/stage:Stage", {}, None, True),
    ],
    "sns-topic-encrypted": [
        ("aws:sns/topic:Topic", {"kmsMasterKeyId": "alias/aws/sns"}, None, False),
        ("aws:sns/topic:Topic", {}, None, True),
    ],
    "cloudwatch-log-group-retention": [
        ("aws:cloudwatch/logGroup:LogGroup", {"retentionInDays": 30}, None, False),
        ("aws:cloudwatch/logGroup:LogGroup", {"retentionInDays": "14"}, None, False),
        ("aws:cloudwatch/logGroup:LogGroup", {}, None, True),
        ("aws:cloudwatch/logGroup:LogGroup", {"retentionInDays": 30}, {"requireKms": True}, True),
        ("aws:cloudwatch/logGroup:LogGroup", {"retentionInDays": 30, "kmsKeyId": "k"}, {"requireKms": True}, False),
    ],
    "apigateway-cache-encrypted": [
        ("aws:apigateway/methodSettings:MethodSettings", {"settings": {"cachingEnabled": True,
                                                                       "cacheDataEncrypted": True}}, None, False),
        ("aws:apigateway/methodSettings:MethodSettings", {"settings": {"cachingEnabled": True}}, None, True),
        ("aws:apigateway/methodSettings:MethodSettings", {"settings": {"cachingEnabled": False}}, None, False),
    ],
    "apigateway-data-trace-off": [
        ("aws:apigateway/methodSettings:MethodSettings", {"settings": {"dataTraceEnabled": False}}, None, False),
        ("aws:apigateway/methodSettings:MethodSettings", {"settings": {"dataTraceEnabled": True}}, None, True),
        ("aws:apigatewayv2/stage:Stage", {"defaultRouteSettings": {"dataTraceEnabled": True}}, None, True),
        ("aws:apigatewayv2/stage:Stage", {"routeSettings": [{"routeKey": "$connect", "dataTraceEnabled": True}]},
         None, True),
        ("aws:apigatewayv2/stage:Stage", {"defaultRouteSettings": {"loggingLevel": "INFO"}}, None, False),
    ],
    "cloudfront-viewer-https": [
        ("aws:cloudfront/distribution:Distribution", {"defaultCacheBehavior": {"viewerProtocolPolicy":
                                                                               "redirect-to-https"}}, None, False),
        ("aws:cloudfront/distribution:Distribution", {"defaultCacheBehavior": {"viewerProtocolPolicy": "https-only"},
                                                      "orderedCacheBehaviors": [{"pathPattern": "/api/*",
                                                                                 "viewerProtocolPolicy": "allow-all"}]},
         None, True),
        ("aws:cloudfront/distribution:Distribution", {"defaultCacheBehavior": {"viewerProtocolPolicy": "allow-all"}},
         None, True),
    ],
    "cloudfront-minimum-tls": [
        ("aws:cloudfront/distribution:Distribution", {"viewerCertificate": {"cloudfrontDefaultCertificate": True}},
         None, False),
        ("aws:cloudfront/distribution:Distribution", {"viewerCertificate": {"cloudfrontDefaultCertificate": True}},
         {"allowDefaultCertificate": False}, True),
        ("aws:cloudfront/distribution:Distribution", {"viewerCertificate": {
            "acmCertificateArn": arn("acm", "certificate/c"), "minimumProtocolVersion": "TLSv1.2_2021"}}, None, False),
        ("aws:cloudfront/distribution:Distribution", {"viewerCertificate": {
            "acmCertificateArn": arn("acm", "certificate/c"), "minimumProtocolVersion": "TLSv1.1_2016"}}, None, True),
        ("aws:cloudfront/distribution:Distribution", {"viewerCertificate": {
            "acmCertificateArn": arn("acm", "certificate/c")}}, None, True),  # unset: TLSv1
    ],
    "cloudfront-origin-access-control": [
        ("aws:cloudfront/distribution:Distribution", {"origins": [{
            "originId": "docs", "domainName": "docs.s3.us-east-1.amazonaws.com", "originAccessControlId": "oac"}]},
         None, False),
        ("aws:cloudfront/distribution:Distribution", {"origins": [{
            "originId": "docs", "domainName": "docs.s3.us-east-1.amazonaws.com",
            "s3OriginConfig": {"originAccessIdentity": "origin-access-identity/cloudfront/E1"}}]}, None, True),
        ("aws:cloudfront/distribution:Distribution", {"origins": [{
            "originId": "docs", "domainName": "docs.s3.amazonaws.com"}]}, None, True),
        ("aws:cloudfront/distribution:Distribution", {"origins": [{
            "originId": "site", "domainName": "docs.s3-website-us-east-1.amazonaws.com"}]}, None, True),
        ("aws:cloudfront/distribution:Distribution", {"origins": [{
            "originId": "api", "domainName": "abc.execute-api.us-east-1.amazonaws.com"}]}, None, False),
        ("aws:cloudfront/originAccessControl:OriginAccessControl", {"signingBehavior": "always"}, None, False),
        ("aws:cloudfront/originAccessControl:OriginAccessControl", {"signingBehavior": "no-override"}, None, True),
    ],
}


def oidc_trust(condition: dict | None, host: str = "token.actions.githubusercontent.com") -> dict:
    statement = {"Effect": "Allow", "Action": "sts:AssumeRoleWithWebIdentity",
                 "Principal": {"Federated": f"arn:aws:iam::{ACCOUNT}:oidc-provider/{host}"}}
    return {"assumeRolePolicy": json.dumps(document({**statement, **({"Condition": condition} if condition else {})}))}


GH = "token.actions.githubusercontent.com"
CASES["iam-oidc-trust-conditions"] = [
    (ROLE, {"assumeRolePolicy": json.dumps(LAMBDA_TRUST)}, None, False),
    (ROLE, oidc_trust({"StringEquals": {f"{GH}:aud": "sts.amazonaws.com",
                                        f"{GH}:sub": "repo:acme/shop:ref:refs/heads/main"}}), None, False),
    (ROLE, oidc_trust({"StringEquals": {f"{GH}:aud": "sts.amazonaws.com"},
                       "StringLike": {f"{GH}:sub": "repo:acme/shop:*"}}), None, False),
    (ROLE, oidc_trust(None), None, True),
    (ROLE, oidc_trust({"StringEquals": {f"{GH}:aud": "sts.amazonaws.com"}}), None, True),  # no sub
    (ROLE, oidc_trust({"StringEquals": {f"{GH}:aud": "sts.amazonaws.com"},
                       "StringLike": {f"{GH}:sub": "repo:*"}}), None, True),  # every repository on GitHub
    (ROLE, oidc_trust({"StringEquals": {f"{GH}:sub": "repo:acme/shop:ref:refs/heads/main"}}), None, True),  # no aud
    (ROLE, oidc_trust({"StringNotEquals": {f"{GH}:aud": "x", f"{GH}:sub": "y"}}), None, True),  # negated: no pin
    (ROLE, {"assumeRolePolicy": json.dumps(document({
        "Effect": "Allow", "Action": "sts:AssumeRoleWithWebIdentity",
        "Principal": {"Federated": "cognito-identity.amazonaws.com"},
        "Condition": {"StringEquals": {"cognito-identity.amazonaws.com:aud": "us-east-1:pool"}}}))}, None, False),
]


@pytest.mark.parametrize(("rule_id", "index"), [(r, i) for r, cases in CASES.items() for i in range(len(cases))])
def test_resource_rule_cases(rule_id, index):
    type_, props, settings, fails = CASES[rule_id][index]
    assert bool(violations(rule_id, type_, props, settings)) is fails


def test_every_new_rule_has_passing_and_failing_cases_and_a_level():
    graph_rules = {"lambda-async-failure-destination", "resource-policy-no-cross-account", "cloudfront-origin-bucket-private"}
    for rule_id in [*CASES, *graph_rules]:
        rule = RULES_BY_ID[rule_id]
        assert rule.enforcement in ("mandatory", "advisory") and rule.remediation
    for rule_id, cases in CASES.items():
        assert {fails for *_, fails in cases} == {True, False}, rule_id
    levels = {r: RULES_BY_ID[r].enforcement for r in (
        "apigateway-openapi-routes-authorized", "apigatewayv2-quick-create-authorized", "lambda-function-url-authorized",
        "lambda-runtime-not-deprecated", "iam-oidc-trust-conditions", "resource-policy-no-cross-account",
        "apigateway-data-trace-off", "cloudfront-viewer-https", "cloudfront-minimum-tls",
        "cloudfront-origin-access-control", "cloudfront-origin-bucket-private")}
    assert set(levels.values()) == {"mandatory"}


def test_runtime_dates_are_data():
    assert DEPRECATED_RUNTIMES["python3.8"].isoformat() == "2024-10-14"
    assert all(d.year >= 2016 for d in DEPRECATED_RUNTIMES.values())


def test_unknown_openapi_body_is_unverifiable():
    assert judge("apigateway-openapi-routes-authorized", REST_API, {"body": UNKNOWN}).unknown


# --- graph rules -----------------------------------------------------------------------------------------------


def async_function(b: StackBuilder, *, on_failure: bool, dead_letter: bool = False):
    fn = b.add(FUNCTION, "resizer", {"name": "resizer", "arn": arn("lambda", "function:resizer"),
                                     **({"deadLetterConfig": {"targetArn": arn("sqs", "dlq")}} if dead_letter else {})})
    b.add("aws:lambda/permission:Permission", "resizer-from-s3", {
        "function": "resizer", "principal": "s3.amazonaws.com", "action": "lambda:InvokeFunction",
        "sourceArn": "arn:aws:s3:::uploads", "sourceAccount": ACCOUNT}, deps={"function": fn})
    if on_failure:
        dlq = b.add("aws:sqs/queue:Queue", "resizer-dlq", {"arn": arn("sqs", "resizer-dlq"), "sqsManagedSseEnabled": True})
        b.add("aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig", "resizer-async", {
            "functionName": "resizer", "destinationConfig": {"onFailure": {"destination": dlq.props["arn"]}}},
              deps={"functionName": fn, "destinationConfig": dlq})
    return b.graph()


@pytest.mark.parametrize(("on_failure", "dead_letter", "fails"), [(True, False, False), (False, True, False),
                                                                   (False, False, True)])
def test_async_on_failure(on_failure, dead_letter, fails):
    graph = async_function(StackBuilder(), on_failure=on_failure, dead_letter=dead_letter)
    assert ("resizer" in fired(graph).get("lambda-async-failure-destination", set())) is fails


def test_api_invoked_functions_are_not_async():
    assert "lambda-async-failure-destination" not in fired(reference_graph())


def queue_policy(principal, condition=None, account=ACCOUNT):
    b = StackBuilder()
    queue = b.add("aws:sqs/queue:Queue", "inbox", {"arn": arn("sqs", "inbox", account=account),
                                                  "sqsManagedSseEnabled": True, "redriveAllowPolicy": "{}"})
    statement = {"Effect": "Allow", "Principal": principal, "Action": "sqs:SendMessage", "Resource": queue.props["arn"],
                 **({"Condition": condition} if condition else {})}
    b.add("aws:sqs/queuePolicy:QueuePolicy", "inbox-policy", {
        "queueUrl": f"https://sqs.us-east-1.amazonaws.com/{account}/inbox", "policy": json.dumps(document(statement))},
          deps={"queueUrl": queue})
    return b.graph()


@pytest.mark.parametrize(("principal", "condition", "settings", "fails"), [
    ({"AWS": f"arn:aws:iam::{ACCOUNT}:role/producer"}, None, None, False),
    ({"Service": "sns.amazonaws.com"}, {"ArnEquals": {"aws:SourceArn": arn("sns", "topic")}}, None, False),
    ({"AWS": "arn:aws:iam::999988887777:root"}, None, None, True),
    ({"AWS": "999988887777"}, None, None, True),
    ({"AWS": "arn:aws:iam::999988887777:root"}, None, {"trustedAccounts": ["999988887777"]}, False),
    ({"Service": "sns.amazonaws.com"}, {"StringEquals": {"aws:SourceAccount": "999988887777"}}, None, True),
], ids=["same-account", "service-scoped", "foreign-root", "foreign-account-id", "trusted", "foreign-source-account"])
def test_cross_account_queue_policy(principal, condition, settings, fails):
    config = {"resource-policy-no-cross-account": settings} if settings else None
    assert ("inbox-policy" in fired(queue_policy(principal, condition), config).get(
        "resource-policy-no-cross-account", set())) is fails


def docs_site(*, oac=True, block=True, source_arn="own", public_statement=False):
    """A docs site as issue 14 builds it: private bucket, OAC, policy for this distribution only."""
    b = StackBuilder()
    bucket = b.add("aws:s3/bucketV2:BucketV2", "docs", {"bucket": "docs-bucket", "arn": "arn:aws:s3:::docs-bucket",
                                                        "bucketRegionalDomainName": "docs-bucket.s3.us-east-1.amazonaws.com"})
    b.add("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "docs-pab", {
        "bucket": "docs-bucket", **{f: block for f in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls",
                                                      "restrictPublicBuckets")}}, deps={"bucket": bucket})
    control = b.add("aws:cloudfront/originAccessControl:OriginAccessControl", "docs-oac", {
        "signingBehavior": "always", "signingProtocol": "sigv4", "originAccessControlOriginType": "s3"})
    origin = {"originId": "docs", "domainName": "docs-bucket.s3.us-east-1.amazonaws.com",
              **({"originAccessControlId": "oac-id"} if oac else {})}
    distribution = b.add("aws:cloudfront/distribution:Distribution", "docs-cdn", {
        "arn": f"arn:aws:cloudfront::{ACCOUNT}:distribution/EDFDVBD6EXAMPLE", "origins": [origin],
        "defaultCacheBehavior": {"viewerProtocolPolicy": "redirect-to-https"},
        "viewerCertificate": {"cloudfrontDefaultCertificate": True}}, deps={"origins": [bucket, control]})
    arns = {"own": distribution.props["arn"], "other": f"arn:aws:cloudfront::{ACCOUNT}:distribution/EOTHER",
            "unknown": UNKNOWN}
    statements = [{"Effect": "Allow", "Principal": {"Service": "cloudfront.amazonaws.com"}, "Action": "s3:GetObject",
                   "Resource": "arn:aws:s3:::docs-bucket/*",
                   **({"Condition": {"StringEquals": {"AWS:SourceArn": arns[source_arn]}}} if source_arn else {})}]
    if public_statement:
        statements.append(allow("s3:GetObject", "arn:aws:s3:::docs-bucket/*", Principal="*"))
    policy = document(*statements)
    b.add("aws:s3/bucketPolicy:BucketPolicy", "docs-policy", {
        "bucket": "docs-bucket", "policy": json.dumps(policy) if source_arn != "unknown" else policy},
          deps={"bucket": bucket, "policy": [bucket, distribution]})
    return b.graph()


@pytest.mark.parametrize(("variant", "fails"), [
    ({}, False),
    ({"block": False}, True),
    ({"source_arn": None}, True),  # any distribution of any account
    ({"source_arn": "other"}, True),
    ({"public_statement": True}, True),
])
def test_origin_bucket_private(variant, fails):
    assert ("docs-cdn" in fired(docs_site(**variant)).get("cloudfront-origin-bucket-private", set())) is fails


def test_origin_bucket_policy_computed_from_this_distribution_is_accepted_in_a_preview():
    """The SourceArn is unknown in a first preview, but the policy depends on this distribution."""
    assert "cloudfront-origin-bucket-private" not in fired(docs_site(source_arn="unknown"))


def test_whole_docs_site_passes_every_cloudfront_rule():
    assert not {r for r in fired(docs_site()) if r.startswith("cloudfront-")}
    assert "cloudfront-origin-access-control" in fired(docs_site(oac=False))


def test_exposure_rules_in_a_graph():
    graph = with_resource(reference_graph(), StackBuilder().add(
        "aws:lambda/functionUrl:FunctionUrl", "orders-url", {"functionName": "orders-api-fn", "authorizationType": "NONE"}))
    assert fired(graph) == {"lambda-function-url-authorized": {"orders-url"}}

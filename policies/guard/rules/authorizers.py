"""Authorizers: every API route is authenticated unless it is on the configured public list."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from ..arns import breadth
from ..model import UNKNOWN, Graph, Resource, Unverifiable
from ..rule import Outcome, rule, string_list

REST_API = "aws:apigateway/restApi:RestApi"
REST_RESOURCE = "aws:apigateway/resource:Resource"
METHOD = "aws:apigateway/method:Method"
AUTHORIZER = "aws:apigateway/authorizer:Authorizer"
ROUTE = "aws:apigatewayv2/route:Route"
PERMISSION = "aws:lambda/permission:Permission"

COGNITO = "COGNITO_USER_POOLS"
PREFLIGHT = "OPTIONS"  # CORS preflight requests carry no credentials by design

def public_routes_schema() -> dict[str, Any]:
    """No route is public by default: an application lists its own in its pack config (policies/config/*.json)."""
    return string_list(
        [],
        "Routes ('METHOD /path', 'ANY /path' for every method) served without authorization.",
        pattern=r"^[A-Z]+ /\S*$",
    )


def _authorization_types(allowed: list[str], default: list[str]) -> dict[str, Any]:
    return string_list(default, "Authorization types accepted on a non-public route.", enum=allowed)


def _is_public(method: str, path: str, public_routes: list[str]) -> bool:
    return f"{method} {path}" in public_routes or f"ANY {path}" in public_routes


def _authorizer_bound(route: Resource, graph: Graph, authorization: str) -> Iterator[Outcome]:
    """A route that names an authorizer type also names the authorizer (known id, or one being created)."""
    authorizers = graph.referenced(route, "authorizerId", {AUTHORIZER, "aws:apigatewayv2/authorizer:Authorizer"})
    for authorizer in authorizers:
        kind = authorizer.peek("type") if authorizer.type == AUTHORIZER else None
        if authorization == COGNITO and isinstance(kind, str) and kind != COGNITO:
            yield f"{route.name} uses {COGNITO} with authorizer {authorizer.name} of type {kind}"
    authorizer_id = route.peek("authorizerId")
    if authorizer_id is UNKNOWN and not authorizers:
        yield Unverifiable(f"{route.name}.authorizerId")
    elif authorizer_id is not UNKNOWN and not authorizer_id:
        yield f"{route.name} has authorization {authorization} but no authorizerId"


def _path(resource: Resource, graph: Graph, depth: int = 0) -> str | None:
    """The route path of a REST resource, walked up its parents to the API root; None if the chain breaks."""
    if resource.type == REST_API:
        return "/"
    part = resource.get("pathPart")
    parents = _target(resource, "parentId", graph)
    if not isinstance(part, str) or not parents or depth > 64:
        known = resource.peek("path")  # the provider's computed path, in states that lost the links
        return known if isinstance(known, str) and known.startswith("/") else None
    parent_path = _path(parents[0], graph, depth + 1)
    return None if parent_path is None else f"{parent_path.rstrip('/')}/{part}"


def _target(resource: Resource, prop: str, graph: Graph) -> list[Resource]:
    """The REST resource (or the API, for its root resource) that `prop` of `resource` is the id of; none
    when that is ambiguous, so that an unclear route is never taken for a public one."""
    found = graph.referenced(resource, prop, {REST_RESOURCE, REST_API}) or graph.with_value(
        {REST_API}, "rootResourceId", resource.peek(prop)
    )
    resources = [r for r in found if r.type == REST_RESOURCE]
    return [] if len(resources) > 1 else resources or found[:1]


@rule(
    "apigateway-method-requires-authorizer",
    description=(
        "Every REST API method is authorized by a Cognito user pool authorizer (or a configured type), except "
        "CORS preflight (OPTIONS) and the configured public routes; a method whose path cannot be resolved is "
        "never treated as public."
    ),
    remediation=(
        "Set authorization='COGNITO_USER_POOLS' and authorizer_id=<the API's Cognito authorizer>.id on the "
        "method, or add the route to publicRoutes in the stack's policy config if it must be public."
    ),
    types={METHOD},
    needs_graph=True,
    config={
        "publicRoutes": public_routes_schema(),
        "allowedAuthorizationTypes": _authorization_types([COGNITO, "CUSTOM", "AWS_IAM"], [COGNITO]),
    },
)
def method_requires_authorizer(method: Resource, graph: Graph, settings: Mapping[str, Any]) -> Iterator[Outcome]:
    http_method = str(method.get("httpMethod")).upper()
    if http_method == PREFLIGHT:
        return
    authorization = str(method.get("authorization") or "NONE").upper()
    if authorization in settings["allowedAuthorizationTypes"]:
        if authorization != "AWS_IAM":
            yield from _authorizer_bound(method, graph, authorization)
        return
    targets = _target(method, "resourceId", graph)
    path = _path(targets[0], graph) if targets else None
    if path is None:
        yield (
            f"{http_method} on a route whose path cannot be resolved has authorization {authorization}: "
            "an unresolved route is not public"
        )
    elif not _is_public(http_method, path, settings["publicRoutes"]):
        yield f"{http_method} {path} has authorization {authorization} and is not a public route"


@rule(
    "apigatewayv2-route-requires-authorizer",
    description="Every HTTP API route uses a JWT, Lambda (CUSTOM) or IAM authorizer, except OPTIONS and public routes.",
    remediation=(
        "Set authorization_type='JWT' and authorizer_id=<a JWT authorizer whose issuer is the Cognito user pool> "
        "on the route, or list it in publicRoutes."
    ),
    types={ROUTE},
    needs_graph=True,
    config={
        "publicRoutes": public_routes_schema(),
        "allowedAuthorizationTypes": _authorization_types(["JWT", "CUSTOM", "AWS_IAM"], ["JWT", "CUSTOM", "AWS_IAM"]),
    },
)
def route_requires_authorizer(route: Resource, graph: Graph, settings: Mapping[str, Any]) -> Iterator[Outcome]:
    route_key = str(route.get("routeKey"))
    http_method, _, path = route_key.partition(" ")
    if http_method.upper() == PREFLIGHT:
        return
    authorization = str(route.get("authorizationType") or "NONE").upper()
    if authorization in settings["allowedAuthorizationTypes"]:
        if authorization != "AWS_IAM":
            yield from _authorizer_bound(route, graph, authorization)
    elif not (path and _is_public(http_method.upper(), path, settings["publicRoutes"])):
        yield f"route {route_key} has authorization {authorization} and is not a public route"


_USER_POOL_ARN = re.compile(r"^arn:aws[a-z-]*:cognito-idp:[a-z0-9-]+:\d{12}:userpool/[\w-]+$")


@rule(
    "apigateway-cognito-authorizer-bound",
    description="A COGNITO_USER_POOLS authorizer names its user pools' ARNs and reads the Authorization header.",
    remediation=(
        "Pass provider_arns=[user_pool.arn] and keep identity_source='method.request.header.Authorization' "
        "(the provider's default)."
    ),
    types={AUTHORIZER},
    config={
        "identitySource": {
            "type": "string",
            "default": "method.request.header.Authorization",
            "description": "The identity source every Cognito authorizer must use.",
        }
    },
)
def cognito_authorizer_bound(authorizer: Resource, settings: Mapping[str, Any]) -> Iterator[Outcome]:
    if authorizer.get("type") != COGNITO:
        return
    provider_arns = authorizer.get("providerArns") or []
    if not provider_arns:
        yield f"{authorizer.name} names no user pool (providerArns is empty)"
    for index, arn in enumerate(provider_arns):
        if arn is UNKNOWN:
            yield Unverifiable(f"{authorizer.name}.providerArns[{index}]")
        elif not isinstance(arn, str) or not _USER_POOL_ARN.match(arn):
            yield f"{authorizer.name} provider {arn!r} is not the ARN of one Cognito user pool"
    # The AWS provider defaults identitySource to the Authorization header: absent means that header.
    source = authorizer.get("identitySource") or "method.request.header.Authorization"
    if source.lower() != settings["identitySource"].lower():
        yield f"{authorizer.name} reads the token from {source!r}, not {settings['identitySource']!r}"


def _whole_api(source_arn: str) -> bool:
    """`<api>/*/*`-like: every stage, method and path of the API."""
    segments = source_arn.split(":", 5)[-1].split("/")
    return all(s == "*" for s in segments[1:])


@rule(
    "lambda-permission-scoped",
    description=(
        "Lambda permissions for a service name the source: a sourceArn no wider than one API route (the whole "
        "API only by config), sourceAccount for S3, and never the principal '*'."
    ),
    remediation=(
        "Give aws.lambda_.Permission a source_arn of f'{api.execution_arn}/*/{method}{path}' (API Gateway), the "
        "bucket/queue/rule ARN for other services, and source_account for S3."
    ),
    types={PERMISSION},
    config={
        "allowWholeApi": {
            "type": "boolean",
            "default": False,
            "description": "Accept an API Gateway sourceArn of <api>/*/* (every route of the API).",
        },
        "sourceAccountRequiredFor": string_list(
            ["s3.amazonaws.com"], "Service principals whose ARNs carry no account, so sourceAccount must be set."
        ),
    },
)
def lambda_permission_scoped(permission: Resource, settings: Mapping[str, Any]) -> Iterator[Outcome]:
    principal = permission.get("principal")
    url_auth = permission.get("functionUrlAuthType")
    if principal == "*" and isinstance(url_auth, str) and url_auth.upper() == "NONE":
        # The permission a function URL with auth NONE needs: whether that URL may be public is
        # lambda-function-url-authorized's verdict, on the FunctionUrl itself.
        if permission.get("action") in ("lambda:InvokeFunctionUrl", "lambda:InvokeFunction"):
            return
    if not isinstance(principal, str) or principal == "*" or "*" in principal:
        yield f"{permission.name} grants invoke to principal {principal!r}: any account"
        return
    if not principal.endswith((".amazonaws.com", ".amazonaws.com.cn")):
        return  # an account or role principal names its caller already
    if principal in settings["sourceAccountRequiredFor"] and not permission.get("sourceAccount"):
        yield f"{permission.name} lets {principal} invoke without sourceAccount: a resource in any account can"
    source_arn = permission.get("sourceArn")
    if not source_arn:
        yield f"{permission.name} lets {principal} invoke without sourceArn: any of its resources can"
    elif reason := breadth(source_arn):
        yield f"{permission.name} sourceArn is too wide: {reason}"
    elif principal == "apigateway.amazonaws.com":
        if ":execute-api:" not in source_arn:
            yield f"{permission.name} sourceArn {source_arn} is not an API Gateway execute-api ARN"
        elif _whole_api(source_arn) and not settings["allowWholeApi"]:
            yield f"{permission.name} sourceArn {source_arn} covers every route of the API, not one"

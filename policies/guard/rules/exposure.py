"""Every other way a route reaches the internet: OpenAPI bodies, quick-create HTTP APIs, Lambda function URLs.

(REST API resource policies that allow everyone are `resource-policy-no-public-allow`'s, with the bucket, queue
and topic policies.)
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from fnmatch import fnmatchcase
from typing import Any

import yaml

from ..model import UNKNOWN, Resource, Unverifiable
from ..rule import Outcome, rule, string_list
from .authorizers import PREFLIGHT, REST_API, public_routes_schema

HTTP_API = "aws:apigatewayv2/api:Api"
FUNCTION_URL = "aws:lambda/functionUrl:FunctionUrl"

_OPERATIONS = {
    "get": "GET",
    "put": "PUT",
    "post": "POST",
    "delete": "DELETE",
    "options": "OPTIONS",
    "head": "HEAD",
    "patch": "PATCH",
    "trace": "TRACE",
    "x-amazon-apigateway-any-method": "ANY",
}
# x-amazon-apigateway-authtype values that mean a caller is authenticated (API keys alone are not: AWS says
# they identify a usage plan's client, they do not authorize).
_AUTH_TYPES = {"cognito_user_pools", "awssigv4", "custom", "oauth2", "jwt"}


def parse_openapi(body: Any, where: str) -> Mapping[str, Any]:
    """An OpenAPI/Swagger document given as JSON or YAML text (or already an object); ValueError if it is not."""
    if body is UNKNOWN:
        raise Unverifiable(where)
    document = body
    if isinstance(body, str):
        try:
            document = json.loads(body)
        except ValueError:
            try:
                document = yaml.safe_load(body)
            except yaml.YAMLError as error:
                raise ValueError(f"neither JSON nor YAML ({type(error).__name__})") from None
    if not isinstance(document, Mapping) or not isinstance(document.get("paths", {}), Mapping):
        raise ValueError("not an OpenAPI document with a paths object")
    return document


def _schemes(document: Mapping[str, Any]) -> Mapping[str, Any]:
    components = document.get("components")
    schemes = components.get("securitySchemes") if isinstance(components, Mapping) else None
    return {**(document.get("securityDefinitions") or {}), **(schemes or {})}


def _scheme_authorizes(scheme: Any) -> bool:
    if not isinstance(scheme, Mapping):
        return False
    if isinstance(scheme.get("x-amazon-apigateway-authorizer"), Mapping):
        return True
    return str(scheme.get("x-amazon-apigateway-authtype", "")).lower() in _AUTH_TYPES


def operation_auth(document: Mapping[str, Any], operation: Mapping[str, Any]) -> str | None:
    """None if the operation requires an authenticated caller, else why not."""
    iam = operation.get("x-amazon-apigateway-auth")
    if isinstance(iam, Mapping) and str(iam.get("type", "")).upper() == "AWS_IAM":
        return None
    requirements = operation.get("security", document.get("security"))
    if not requirements:
        return "no security requirement"
    if not isinstance(requirements, list):
        return "security is not a list of requirements"
    schemes = _schemes(document)
    for requirement in requirements:
        # Requirements are alternatives: one that anonymous callers meet ({}), or one without an authorizer, opens it.
        if not isinstance(requirement, Mapping) or not requirement:
            return "an empty security requirement ({}) lets anonymous callers in"
        weak = [name for name in requirement if not _scheme_authorizes(schemes.get(name))]
        if len(weak) == len(requirement):
            return f"security scheme {', '.join(map(str, weak))} has no API Gateway authorizer"
    return None


@rule(
    "apigateway-openapi-routes-authorized",
    description=(
        "Every operation of an API defined by an OpenAPI body (REST RestApi.body, HTTP Api.body) requires an "
        "authorizer (security scheme with x-amazon-apigateway-authorizer/-authtype, or x-amazon-apigateway-auth "
        "AWS_IAM), except OPTIONS and the configured public routes."
    ),
    remediation=(
        "Give the operation (or the document) `security: [{<scheme>: []}]` naming a security scheme with an "
        "x-amazon-apigateway-authorizer (Cognito user pools, Lambda or JWT), or list the route in publicRoutes."
    ),
    types={REST_API, HTTP_API},
    config={"publicRoutes": public_routes_schema()},
)
def openapi_routes_authorized(api: Resource, settings: Mapping[str, Any]) -> Iterator[Outcome]:
    body = api.get("body")
    if not body:
        return
    try:
        document = parse_openapi(body, f"{api.name}.body")
    except ValueError as error:
        yield f"{api.name}.body is not a readable OpenAPI document ({error}): its routes cannot be shown to be authorized"
        return
    public = settings["publicRoutes"]
    for path, item in (document.get("paths") or {}).items():
        if not isinstance(item, Mapping):
            continue
        for key, operation in item.items():
            method = _OPERATIONS.get(str(key).lower())
            if method is None or method == PREFLIGHT or not isinstance(operation, Mapping):
                continue
            if f"{method} {path}" in public or f"ANY {path}" in public:
                continue
            if (reason := operation_auth(document, operation)) is not None:
                yield f"{api.name}: {method} {path} is open ({reason}) and is not a public route"


@rule(
    "apigatewayv2-quick-create-authorized",
    description=(
        "An HTTP API is not quick-created with a `target`: that creates a `$default` route (every method and path) "
        "with no authorization."
    ),
    remediation=(
        "Drop `target`/`route_key` from the Api and create aws.apigatewayv2.Route resources with "
        "authorization_type='JWT' and an authorizer (or list the one route in publicRoutes)."
    ),
    types={HTTP_API},
    config={"publicRoutes": public_routes_schema()},
)
def quick_create_authorized(api: Resource, settings: Mapping[str, Any]) -> Iterator[Outcome]:
    if not api.get("target"):
        return
    route_key = api.get("routeKey") or "$default"
    method, _, path = str(route_key).partition(" ")
    if not path or (f"{method} {path}" not in settings["publicRoutes"] and f"ANY {path}" not in settings["publicRoutes"]):
        yield f"{api.name} is quick-created with target: route {route_key} answers everyone, with no authorizer"


@rule(
    "lambda-function-url-authorized",
    description=(
        "Lambda function URLs use AWS_IAM auth (NONE only for functions configured public), and a URL without auth "
        "does not answer browsers of every origin (CORS allowOrigins '*')."
    ),
    remediation=(
        "Set authorization_type='AWS_IAM' on the FunctionUrl (or put the function behind the API and its "
        "authorizer); list deliberately public functions in publicFunctions; name the allowed origins in cors."
    ),
    types={FUNCTION_URL},
    config={"publicFunctions": string_list([], "Function names (globs) whose URL may have authorizationType NONE.")},
)
def function_url_authorized(url: Resource, settings: Mapping[str, Any]) -> Iterator[Outcome]:
    auth = url.get("authorizationType")
    if not isinstance(auth, str) or auth.upper() != "NONE":
        return
    function = url.get("functionName")
    name = function.rsplit(":", 1)[-1] if isinstance(function, str) else url.name
    if not any(fnmatchcase(name, p) or fnmatchcase(str(function), p) for p in settings["publicFunctions"]):
        yield f"{url.name}: the URL of {name} has authorizationType NONE: anyone on the internet can invoke it"
    origins = url.get("cors", "allowOrigins") or []
    if "*" in origins:
        yield f"{url.name}: the unauthenticated URL of {name} allows CORS from every origin ('*')"

"""API Gateway REST emulation, built from the graph's apigateway resources (no route is written twice).

Per request, in API Gateway's order: route on the Resource tree (literal path parts before `{param}`, then
`{proxy+}`), method lookup (unknown -> 403 MISSING_AUTHENTICATION_TOKEN), API key, Cognito authorizer (JWKS
signature, issuer, audience, expiry, token_use=id), request validator (required parameters, body against the
Model schema, draft-04) - all before any integration - then the integration: AWS_PROXY to a local Lambda
(after checking the Lambda permission's sourceArn against the concrete request ARN) or MOCK rendered with its
VTL. Every gateway error goes through the graph's gateway responses (templates + responseParameters).
"""

from __future__ import annotations

import base64
import fnmatch
import json
import re
import time
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote

import airspeed
import jsonschema
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from offline.local.graph import IdMap, StackGraph

RESPONSE_DEFAULTS: dict[str, tuple[int, str]] = {
    "UNAUTHORIZED": (401, "Unauthorized"),
    "ACCESS_DENIED": (403, "Forbidden"),
    "MISSING_AUTHENTICATION_TOKEN": (403, "Missing Authentication Token"),
    "INVALID_API_KEY": (403, "Forbidden"),
    "BAD_REQUEST_BODY": (400, "Invalid request body"),
    "BAD_REQUEST_PARAMETERS": (400, "Invalid request parameters"),
    "UNSUPPORTED_MEDIA_TYPE": (415, "Unsupported Media Type"),
    "API_CONFIGURATION_ERROR": (500, "Internal server error"),
    "AUTHORIZER_CONFIGURATION_ERROR": (500, "Internal server error"),
    "INTEGRATION_FAILURE": (502, "Internal server error"),
    "INTEGRATION_TIMEOUT": (504, "Endpoint request timed out"),
}
INTEGRATION_TIMEOUT_SECONDS = 29


class Util:
    """$util in mapping templates."""

    def escapeJavaScript(self, value: Any) -> str:  # noqa: N802 - VTL name
        return json.dumps(str(value))[1:-1].replace("'", "\\'")

    def toJson(self, value: Any) -> str:  # noqa: N802
        return json.dumps(value)

    def parseJson(self, value: str) -> Any:  # noqa: N802
        return json.loads(value)

    def urlEncode(self, value: str) -> str:  # noqa: N802
        return quote(str(value), safe="")

    def urlDecode(self, value: str) -> str:  # noqa: N802
        return unquote(str(value))

    def base64Encode(self, value: str) -> str:  # noqa: N802
        return base64.b64encode(str(value).encode()).decode()

    def base64Decode(self, value: str) -> str:  # noqa: N802
        return base64.b64decode(str(value)).decode()


class Input:
    """$input in mapping templates."""

    def __init__(self, request: ApiRequest):
        self._request = request

    def params(self, name: str | None = None) -> Any:
        groups = {"path": self._request.path_parameters, "querystring": self._request.query,
                  "header": self._request.headers}
        if name is None:
            return groups
        for group in ("path", "querystring", "header"):
            if name in groups[group]:
                return groups[group][name]
        return ""

    @property
    def body(self) -> str:
        return self._request.body_text

    def json(self, _path: str = "$") -> str:
        return self._request.body_text or "{}"

    def path(self, _path: str = "$") -> Any:
        return json.loads(self._request.body_text or "{}")


@dataclass
class ApiRequest:
    method: str
    path: str  # after the stage
    headers: dict[str, str]
    multi_headers: dict[str, list[str]]
    query: dict[str, str]
    multi_query: dict[str, list[str]]
    body: bytes
    source_ip: str = "127.0.0.1"
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    path_parameters: dict[str, str] = field(default_factory=dict)

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        for key, value in self.headers.items():
            if key.lower() == wanted:
                return value
        return None

    @property
    def body_text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


@dataclass
class ApiResponse:
    status: int
    headers: dict[str, str]
    body: bytes
    multi_headers: dict[str, list[str]] = field(default_factory=dict)


class GatewayError(Exception):
    def __init__(self, response_type: str, message: str | None = None, status: int | None = None,
                 validation: str = ""):
        default_status, default_message = RESPONSE_DEFAULTS.get(response_type, (500, "Internal server error"))
        super().__init__(message or default_message)
        self.response_type = response_type
        self.message = message or default_message
        self.status = status or default_status
        self.validation = validation


@dataclass
class Node:
    id: str
    part: str
    children: list[Node] = field(default_factory=list)
    path: str = "/"


class CognitoVerifier:
    """What a COGNITO_USER_POOLS authorizer checks, against the pool's JWKS served by moto."""

    def __init__(self, endpoint: str, region: str, clients_of_pool: dict[str, list[str]]):
        self.endpoint = endpoint
        self.region = region
        self.clients_of_pool = clients_of_pool
        self._keys: dict[str, KeySet] = {}

    def keys(self, pool_id: str) -> KeySet:
        if pool_id not in self._keys:
            with urllib.request.urlopen(f"{self.endpoint}/{pool_id}/.well-known/jwks.json", timeout=5) as r:  # noqa: S310
                self._keys[pool_id] = KeySet.import_key_set(json.loads(r.read()))
        return self._keys[pool_id]

    def verify(self, token: str, pool_ids: list[str], scopes: list[str] | None = None) -> dict[str, Any]:
        """Without scopes the authorizer takes ID tokens; with a Method's authorizationScopes, only access tokens
        whose `scope` claim holds one of them (API Gateway answers 401 otherwise)."""
        last: Exception | None = None
        for pool_id in pool_ids:
            try:
                decoded = jwt.decode(token, self.keys(pool_id), algorithms=["RS256"])
                issuer = f"https://cognito-idp.{self.region}.amazonaws.com/{pool_id}"
                clients = self.clients_of_pool.get(pool_id, [])
                audience = {"client_id": {"essential": True, "values": clients}} if scopes else {
                    "aud": {"essential": True, "values": clients}}
                registry = jwt.JWTClaimsRegistry(
                    iss={"essential": True, "value": issuer},
                    token_use={"essential": True, "value": "access" if scopes else "id"},
                    exp={"essential": True},
                    **audience,
                )
                registry.validate(decoded.claims)
                if scopes and not set(str(decoded.claims.get("scope", "")).split()) & set(scopes):
                    raise ValueError(f"token carries none of the scopes {scopes}")
                return decoded.claims
            except (JoseError, ValueError) as error:
                last = error
        raise GatewayError("UNAUTHORIZED") from last


def claims_as_strings(claims: dict[str, Any]) -> dict[str, str]:
    """REST API authorizers hand every claim over as a string (lists flattened as "[a, b]")."""
    out = {}
    for key, value in claims.items():
        if isinstance(value, bool):
            out[key] = "true" if value else "false"
        elif isinstance(value, list):
            out[key] = "[" + ", ".join(str(v) for v in value) + "]"
        else:
            out[key] = str(value)
    return out


def arn_matches(pattern: str, arn: str) -> bool:
    # IAM-style: `*` spans any characters, slashes included; `?` one character.
    return fnmatch.fnmatchcase(arn, pattern)


class RestApi:
    def __init__(self, graph: StackGraph, api: Any, ids: IdMap, verifier: CognitoVerifier,
                 invoke: Callable[[str, dict[str, Any]], Any], region: str, account: str):
        self.graph = graph
        self.api = api
        self.ids = ids
        self.verifier = verifier
        self.invoke = invoke
        self.region = region
        self.account = account
        self.api_id = api.id
        mine = [r for r in graph.run.resources if r.inputs.get("restApi") == self.api_id
                or r.inputs.get("restApiId") == self.api_id]

        def of(type_token: str) -> list[Any]:
            return [r for r in mine if r.type == type_token]

        stages = of("aws:apigateway/stage:Stage")
        self.stage = stages[0].inputs["stageName"] if stages else "local"
        self.root = Node(api.outputs.get("rootResourceId", "root"), "")
        nodes = {self.root.id: self.root}
        resources = of("aws:apigateway/resource:Resource")
        pending = list(resources)
        while pending:
            progressed = False
            for r in list(pending):
                parent = nodes.get(r.inputs["parentId"])
                if parent is not None:
                    node = Node(r.id, r.inputs["pathPart"])
                    node.path = parent.path.rstrip("/") + "/" + node.part
                    parent.children.append(node)
                    nodes[r.id] = node
                    pending.remove(r)
                    progressed = True
            if not progressed:
                break
        self.nodes = nodes
        self.methods = {(r.inputs["resourceId"], r.inputs["httpMethod"]): r.inputs
                        for r in of("aws:apigateway/method:Method")}
        self.integrations = {(r.inputs["resourceId"], r.inputs["httpMethod"]): r.inputs
                             for r in of("aws:apigateway/integration:Integration")}
        self.integration_responses: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for r in of("aws:apigateway/integrationResponse:IntegrationResponse"):
            self.integration_responses.setdefault((r.inputs["resourceId"], r.inputs["httpMethod"]), []).append(r.inputs)
        self.models = {r.inputs["name"]: json.loads(r.inputs["schema"]) for r in of("aws:apigateway/model:Model")}
        self.validators = {r.id: r.inputs for r in of("aws:apigateway/requestValidator:RequestValidator")}
        self.authorizers = {r.id: r.inputs for r in of("aws:apigateway/authorizer:Authorizer")}
        self.gateway_responses = {r.inputs["responseType"]: r.inputs for r in of("aws:apigateway/response:Response")}
        plans = [p for p in graph.of_type("aws:apigateway/usagePlan:UsagePlan")
                 if any(s.get("apiId") == self.api_id for s in p.inputs.get("apiStages") or [])]
        plan_ids = {p.id for p in plans}
        key_ids = {k.inputs["keyId"] for k in graph.of_type("aws:apigateway/usagePlanKey:UsagePlanKey")
                   if k.inputs.get("usagePlanId") in plan_ids}
        self.api_keys = {k.outputs.get("value") or k.inputs.get("value") for k in
                         graph.of_type("aws:apigateway/apiKey:ApiKey") if k.id in key_ids}
        self.permissions = [p.inputs for p in graph.of_type("aws:lambda/permission:Permission")
                            if p.inputs.get("principal") == "apigateway.amazonaws.com"]

    # --- routing ---------------------------------------------------------------------------------------------
    def match(self, path: str) -> tuple[Node, dict[str, str]] | None:
        parts = [p for p in path.split("/") if p != ""]
        return self._match(self.root, parts, {})

    def _match(self, node: Node, parts: list[str], params: dict[str, str]) -> tuple[Node, dict[str, str]] | None:
        if not parts:
            return node, params
        head, rest = parts[0], parts[1:]
        literal = [c for c in node.children if not c.part.startswith("{")]
        variable = [c for c in node.children if c.part.startswith("{") and not c.part.endswith("+}")]
        greedy = [c for c in node.children if c.part.endswith("+}")]
        for child in literal:
            if child.part == unquote(head):
                found = self._match(child, rest, params)
                if found:
                    return found
        for child in variable:
            found = self._match(child, rest, {**params, child.part[1:-1]: unquote(head)})
            if found:
                return found
        for child in greedy:
            return child, {**params, child.part[1:-2]: unquote("/".join(parts))}
        return None

    def routes(self) -> list[tuple[str, str]]:
        return sorted((self.nodes[rid].path, method) for (rid, method) in self.methods if rid in self.nodes)

    # --- request pipeline ------------------------------------------------------------------------------------
    def handle(self, request: ApiRequest) -> ApiResponse:
        context: dict[str, Any] = {"requestId": request.request_id, "stage": self.stage, "httpMethod": request.method,
                                   "error": {}, "authorizer": {"claims": {}}}
        try:
            found = self.match(request.path)
            if found is None:
                raise GatewayError("MISSING_AUTHENTICATION_TOKEN")
            node, params = found
            method = self.methods.get((node.id, request.method)) or self.methods.get((node.id, "ANY"))
            if method is None:
                raise GatewayError("MISSING_AUTHENTICATION_TOKEN")
            request.path_parameters = params
            context["resourcePath"] = node.path
            method_key = (node.id, method["httpMethod"])
            if method.get("apiKeyRequired") and request.header("x-api-key") not in self.api_keys:
                raise GatewayError("INVALID_API_KEY")
            claims = self.authorize(method, request)
            context["authorizer"] = {"claims": claims}
            self.validate(method, request)
            integration = self.integrations.get(method_key)
            if integration is None:
                raise GatewayError("API_CONFIGURATION_ERROR")
            if integration["type"] == "MOCK":
                return self.mock(method_key, integration, request, context)
            if integration["type"] == "AWS_PROXY":
                return self.proxy(node, integration, request, context, claims)
            raise GatewayError("API_CONFIGURATION_ERROR",
                               f"integration type {integration['type']} is not supported yet by the local runtime")
        except GatewayError as error:
            return self.gateway_response(error, request, context)

    def authorize(self, method: dict[str, Any], request: ApiRequest) -> dict[str, str] | None:
        if method.get("authorization") in (None, "NONE"):
            return None
        if method["authorization"] != "COGNITO_USER_POOLS":
            raise GatewayError("AUTHORIZER_CONFIGURATION_ERROR",
                               f"authorization {method['authorization']} is not supported yet by the local runtime")
        authorizer = self.authorizers.get(method.get("authorizerId", ""))
        if authorizer is None:
            raise GatewayError("AUTHORIZER_CONFIGURATION_ERROR")
        source = authorizer.get("identitySource", "method.request.header.Authorization")
        token = request.header(source.rsplit(".", 1)[-1])
        if not token:
            raise GatewayError("UNAUTHORIZED")
        if token.lower().startswith("bearer "):
            token = token[7:].strip()
        pool_ids = [self.ids.rewrite(arn).rsplit("/", 1)[-1] for arn in authorizer.get("providerArns") or []]
        return claims_as_strings(self.verifier.verify(token, pool_ids, method.get("authorizationScopes") or None))

    def validate(self, method: dict[str, Any], request: ApiRequest) -> None:
        validator = self.validators.get(method.get("requestValidatorId", ""))
        if not validator:
            return
        if validator.get("validateRequestParameters"):
            missing = []
            for key, required in (method.get("requestParameters") or {}).items():
                if not required:
                    continue
                _, _, where, name = key.split(".", 3)
                present = {"path": request.path_parameters.get(name),
                           "querystring": request.query.get(name),
                           "header": request.header(name)}.get(where)
                if not present:
                    missing.append(name)
            if missing:
                raise GatewayError("BAD_REQUEST_PARAMETERS",
                                   f"Missing required request parameters: [{', '.join(missing)}]")
        models = method.get("requestModels") or {}
        if validator.get("validateRequestBody") and models:
            content_type = (request.header("Content-Type") or "application/json").split(";")[0].strip().lower()
            model_name = models.get(content_type) or models.get("$default")
            if model_name is None:
                return
            schema = self.models.get(model_name)
            if schema is None or model_name == "Empty":
                return
            try:
                document = json.loads(request.body_text) if request.body else None
            except json.JSONDecodeError:
                raise GatewayError("BAD_REQUEST_BODY", validation="[Invalid JSON in request body]") from None
            errors = sorted(jsonschema.Draft4Validator(schema).iter_errors(document), key=lambda e: list(e.path))
            if errors:
                # One message per problem: Draft 4 reports `required` once per missing property.
                text = "[" + ", ".join(dict.fromkeys(_describe(e) for e in errors)) + "]"
                raise GatewayError("BAD_REQUEST_BODY", validation=text)

    # --- integrations ----------------------------------------------------------------------------------------
    def request_arn(self, request: ApiRequest) -> str:
        return (f"arn:aws:execute-api:{self.region}:{self.account}:{self.api_id}/{self.stage}/"
                f"{request.method}/{request.path.lstrip('/')}")

    def proxy(self, node: Node, integration: dict[str, Any], request: ApiRequest, context: dict[str, Any],
              claims: dict[str, str] | None) -> ApiResponse:
        function = self.graph.function_for(integration["uri"])
        if function is None:
            raise GatewayError("API_CONFIGURATION_ERROR")
        arn = self.request_arn(request)
        allowed = any(
            self.graph.function_for(p.get("function", "")) == function
            and arn_matches(p.get("sourceArn") or "*", arn) for p in self.permissions)
        if not allowed:
            # API Gateway gets AccessDenied from Lambda: "Invalid permissions on Lambda function" -> 500.
            raise GatewayError("API_CONFIGURATION_ERROR")
        event = self.proxy_event(node, request, context, claims)
        started = time.time()
        result = self.invoke(function.name, event)
        if time.time() - started > INTEGRATION_TIMEOUT_SECONDS:
            raise GatewayError("INTEGRATION_TIMEOUT")
        if not result.ok or not isinstance(result.payload, dict) or "statusCode" not in result.payload:
            raise GatewayError("INTEGRATION_FAILURE")  # errors and malformed proxy responses: 502
        payload = result.payload
        body = payload.get("body") or ""
        data = base64.b64decode(body) if payload.get("isBase64Encoded") else str(body).encode()
        headers = {str(k): str(v) for k, v in (payload.get("headers") or {}).items()}
        multi = {str(k): [str(x) for x in v] for k, v in (payload.get("multiValueHeaders") or {}).items()}
        return ApiResponse(int(payload["statusCode"]), headers, data, multi)

    def proxy_event(self, node: Node, request: ApiRequest, context: dict[str, Any],
                    claims: dict[str, str] | None) -> dict[str, Any]:
        try:
            body: str | None = request.body.decode("utf-8") if request.body else None
            encoded = False
        except UnicodeDecodeError:
            body, encoded = base64.b64encode(request.body).decode(), True
        now = time.time()
        return {
            "resource": node.path,
            "path": request.path,
            "httpMethod": request.method,
            "headers": request.headers or None,
            "multiValueHeaders": request.multi_headers or None,
            "queryStringParameters": request.query or None,
            "multiValueQueryStringParameters": request.multi_query or None,
            "pathParameters": request.path_parameters or None,
            "stageVariables": None,
            "requestContext": {
                "accountId": self.account,
                "apiId": self.api_id,
                "resourceId": node.id,
                "resourcePath": node.path,
                "httpMethod": request.method,
                "path": f"/{self.stage}{request.path}",
                "stage": self.stage,
                "requestId": request.request_id,
                "extendedRequestId": request.request_id,
                "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
                "requestTimeEpoch": int(now * 1000),
                "protocol": "HTTP/1.1",
                "domainName": request.header("Host") or "127.0.0.1",
                "identity": {"sourceIp": request.source_ip, "userAgent": request.header("User-Agent")},
                "authorizer": {"claims": claims} if claims is not None else None,
            },
            "body": body,
            "isBase64Encoded": encoded,
        }

    def mock(self, key: tuple[str, str], integration: dict[str, Any], request: ApiRequest,
             context: dict[str, Any]) -> ApiResponse:
        template = (integration.get("requestTemplates") or {}).get("application/json", '{"statusCode": 200}')
        rendered = self.render(template, request, context)
        try:
            status = str(json.loads(rendered).get("statusCode", 200))
        except (json.JSONDecodeError, AttributeError):
            raise GatewayError("API_CONFIGURATION_ERROR") from None
        responses = self.integration_responses.get(key, [])
        chosen = next((r for r in responses if r.get("selectionPattern") and re.fullmatch(r["selectionPattern"], status)),
                      None) or next((r for r in responses if not r.get("selectionPattern")), None)
        if chosen is None:
            raise GatewayError("API_CONFIGURATION_ERROR")
        override: dict[str, Any] = {"header": {}, "status": None}
        context = {**context, "responseOverride": override}
        body = self.render((chosen.get("responseTemplates") or {}).get("application/json", ""), request, context)
        headers = {"Content-Type": "application/json"}
        for name, source in (chosen.get("responseParameters") or {}).items():
            value = self.parameter(source, request)
            if value is not None:
                headers[name.split(".", 3)[-1]] = value
        headers.update({k: str(v) for k, v in override["header"].items()})
        return ApiResponse(int(override["status"] or chosen["statusCode"]), headers, body.encode())

    @staticmethod
    def parameter(source: str, request: ApiRequest) -> str | None:
        if source.startswith("'") and source.endswith("'"):
            return source[1:-1]
        if source.startswith("method.request.header."):
            return request.header(source[len("method.request.header."):])
        if source.startswith("method.request.querystring."):
            return request.query.get(source[len("method.request.querystring."):])
        if source.startswith("method.request.path."):
            return request.path_parameters.get(source[len("method.request.path."):])
        return None

    def render(self, template: str, request: ApiRequest, context: dict[str, Any]) -> str:
        return airspeed.Template(template).merge({"input": Input(request), "context": context, "util": Util()})

    def gateway_response(self, error: GatewayError, request: ApiRequest, context: dict[str, Any]) -> ApiResponse:
        fallback = "DEFAULT_4XX" if error.status < 500 else "DEFAULT_5XX"
        configured = self.gateway_responses.get(error.response_type) or self.gateway_responses.get(fallback)
        context = {**context, "error": {"responseType": error.response_type, "message": error.message,
                                        "messageString": json.dumps(error.message),
                                        "validationErrorString": error.validation}}
        if configured is None:
            return ApiResponse(error.status, {"Content-Type": "application/json"},
                               json.dumps({"message": error.message}).encode())
        status = int(configured.get("statusCode") or error.status)
        template = (configured.get("responseTemplates") or {}).get("application/json")
        body = self.render(template, request, context) if template else json.dumps({"message": error.message})
        headers = {"Content-Type": "application/json", "x-amzn-ErrorType": _error_type(error.response_type)}
        for name, source in (configured.get("responseParameters") or {}).items():
            value = self.parameter(source, request)
            if value is not None:
                headers[name.split(".", 2)[-1]] = value
        return ApiResponse(status, headers, body.encode())


def _describe(error: jsonschema.ValidationError) -> str:
    """Messages worded like API Gateway's validator (json-schema-validator), which uses double quotes."""
    where = "/" + "/".join(str(p) for p in error.absolute_path)
    keyword, value, instance = error.validator, error.validator_value, error.instance
    if keyword == "required":
        missing = [k for k in value if isinstance(instance, dict) and k not in instance]
        text = f"object has missing required properties ({json.dumps(missing)})"
    elif keyword == "additionalProperties":
        extra = sorted(k for k in instance if k not in (error.schema.get("properties") or {}))
        text = f"object instance has properties which are not allowed by the schema: {json.dumps(extra)}"
    elif keyword == "type":
        text = f"instance type ({_json_type(instance)}) does not match any allowed primitive type " \
               f"(allowed: {json.dumps(value if isinstance(value, list) else [value])})"
    elif keyword == "pattern":
        text = f"ECMA 262 regex {json.dumps(value)} does not match input string {json.dumps(instance)}"
    elif keyword in ("minLength", "maxLength"):
        bound = "minimum" if keyword == "minLength" else "maximum"
        text = f"string {json.dumps(instance)} is too {'short' if bound == 'minimum' else 'long'} " \
               f"(length: {len(instance)}, required {bound}: {value})"
    else:
        text = error.message.replace("'", '"')
    return f"instance {where} failed: {text}" if error.absolute_path else text


def _json_type(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", int: "integer", float: "number",
            type(None): "null"}.get(type(value), "unknown")


def _error_type(response_type: str) -> str:
    return {"UNAUTHORIZED": "UnauthorizedException", "MISSING_AUTHENTICATION_TOKEN": "MissingAuthenticationTokenException",
            "BAD_REQUEST_BODY": "BadRequestException", "BAD_REQUEST_PARAMETERS": "BadRequestException",
            "INVALID_API_KEY": "ForbiddenException"}.get(response_type, "InternalServerErrorException")

"""Pure OpenAPI 3.0 generator: the route table and the JSON Schemas in, the API's published description out.

Nothing here creates resources. The document is built from the same `RouteSpec`s and the same
`plan_routes` that SecureApi deploys, so an operation exists exactly when a Method does, with the same
authorization; request bodies are the very schemas API Gateway validates against (as OpenAPI 3.0 Schema
Objects, which share draft-04's keywords), named like the API Gateway models.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from .api_plan import NONE, PlannedMethod, model_name, plan_routes

OPENAPI_VERSION = "3.0.3"
EXAMPLES_FILE = Path(__file__).resolve().parent / "docs" / "examples.json"
ERROR_SCHEMA = "ApiError"
ID_TOKEN_SCHEME = "cognitoIdToken"
OAUTH_SCHEME = "cognitoOAuth"
API_KEY_SCHEME = "apiKey"

# Draft-04 keywords that OpenAPI 3.0's Schema Object also has (same meaning). Anything else (type arrays,
# patternProperties, dependencies, $ref to files...) is refused rather than published as something else.
_SCHEMA_KEYWORDS = frozenset({
    "title", "description", "type", "format", "enum", "default", "multipleOf", "maximum", "exclusiveMaximum",
    "minimum", "exclusiveMinimum", "maxLength", "minLength", "pattern", "maxItems", "minItems", "uniqueItems",
    "maxProperties", "minProperties", "required", "properties", "additionalProperties", "items", "allOf",
    "oneOf", "anyOf", "not",
})
# Keywords of the JSON Schema file itself, not of the shape it describes.
_DROPPED_KEYWORDS = frozenset({"$schema", "id", "$id"})
_PARAM = re.compile(r"^\{([A-Za-z_][A-Za-z0-9_]*)(\+?)\}$")

# Bodies API Gateway itself answers with (gateway responses), in the handlers' error shape.
_ERROR_RESPONSES = {
    "400": ("BadRequest", "The body or a parameter does not match the route's schema.", "BAD_REQUEST_BODY",
            "[object has missing required properties ([\"items\"])]"),
    "401": ("Unauthorized", "No token, or an expired or invalid one.", "UNAUTHORIZED", "Unauthorized"),
    "403": ("Forbidden", "The token lacks a required scope, or the API key is missing.", "ACCESS_DENIED",
            "Forbidden"),
    "429": ("TooManyRequests", "Stage throttling or the usage plan's quota.", "THROTTLED", "Too Many Requests"),
    "5XX": ("ServerError", "An unexpected failure; the body never carries internals.", "DEFAULT_5XX",
            "Internal server error"),
}
# Only documents with a retired route carry it: step 1 of removing a route answers 410 until step 2 deletes it.
_GONE_RESPONSE = ("Gone", "This route has been retired and will be removed.", "GONE", "This route has been removed.")


class DocumentedRoute(Protocol):
    """What the generator reads from a route: RouteSpec's fields (scopes are optional)."""

    method: str
    path: str
    public: bool
    request_schema: str | None
    api_key_required: bool


@dataclass(frozen=True)
class RouteExample:
    """One example exchange of a route (from the README's curl lines)."""

    status: int = 200
    summary: str = ""
    request: Mapping[str, Any] | None = None
    response: Any = None

    def __post_init__(self) -> None:
        if not 200 <= self.status <= 299:
            raise ValueError(f"an example's status is the success status (2xx), got {self.status}")


@dataclass(frozen=True)
class OAuthSettings:
    """The Cognito Hosted UI endpoints and the scopes its app client may request."""

    authorization_url: str
    token_url: str
    scopes: Mapping[str, str] = field(default_factory=dict)


def route_scopes(route: DocumentedRoute) -> tuple[str, ...]:
    """Full OAuth scope names a route requires (empty: an ID token or any access token is enough)."""
    return tuple(getattr(route, "scopes", ()) or ())


def openapi_path(path: str) -> str:
    """API Gateway's greedy `{proxy+}` is an ordinary path parameter `{proxy}` in OpenAPI."""
    if path == "/":
        return path
    return "/" + "/".join(
        f"{{{m.group(1)}}}" if (m := _PARAM.match(s)) else s for s in path[1:].split("/")
    )


def to_schema_object(schema: Mapping[str, Any], *, where: str) -> dict[str, Any]:
    """A draft-04 JSON Schema as an OpenAPI 3.0 Schema Object (refusing keywords 3.0 does not have)."""

    def convert(node: Any, at: str) -> Any:
        if not isinstance(node, Mapping):
            raise ValueError(f"{where}: {at} is not a schema object")
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key in _DROPPED_KEYWORDS and at == "#":
                continue
            if key not in _SCHEMA_KEYWORDS:
                raise ValueError(f"{where}: keyword {key!r} at {at} has no OpenAPI 3.0 equivalent")
            if key == "type" and not isinstance(value, str):
                raise ValueError(f"{where}: OpenAPI 3.0 takes one type per schema at {at}, got {value!r}")
            if key == "properties":
                out[key] = {name: convert(sub, f"{at}/properties/{name}") for name, sub in value.items()}
            elif key in ("items", "not") or (key == "additionalProperties" and isinstance(value, Mapping)):
                out[key] = convert(value, f"{at}/{key}")
            elif key in ("allOf", "oneOf", "anyOf"):
                out[key] = [convert(sub, f"{at}/{key}/{i}") for i, sub in enumerate(value)]
            else:
                out[key] = value
        return out

    return convert(schema, "#")


def _operation_id(method: str, path: str, taken: set[str]) -> str:
    words = [method.lower()]
    for segment in path.strip("/").split("/"):
        if not segment:
            continue
        param = _PARAM.match(segment)
        name = f"by_{param.group(1)}" if param else segment
        words.extend(w.capitalize() for w in re.split(r"[^A-Za-z0-9]+", name) if w)
    base = candidate = words[0] + "".join(words[1:])
    n = 2
    while candidate in taken:
        candidate, n = f"{base}{n}", n + 1
    taken.add(candidate)
    return candidate


def _security(planned: PlannedMethod, scopes: tuple[str, ...]) -> list[dict[str, list[str]]]:
    """Security requirements; OpenAPI ORs the list's entries and ANDs the scopes within one entry."""
    route = planned.route
    api_key = {API_KEY_SCHEME: []} if route.api_key_required else {}
    if planned.authorization == NONE:
        return [api_key] if api_key else []
    if scopes:
        # API Gateway admits an access token carrying ANY of a Method's authorizationScopes: one entry each.
        return [{OAUTH_SCHEME: [scope], **api_key} for scope in scopes]
    # Without scopes the Cognito authorizer takes the ID token.
    return [{ID_TOKEN_SCHEME: [], **api_key}]


def _error_ref(status: str) -> dict[str, str]:
    name = _GONE_RESPONSE[0] if status == "410" else _ERROR_RESPONSES[status][0]
    return {"$ref": f"#/components/responses/{name}"}


def _operation(
    planned: PlannedMethod,
    scopes: tuple[str, ...],
    example: RouteExample | None,
    operation_id: str,
) -> dict[str, Any]:
    route = planned.route
    segments = [s for s in route.path.split("/") if s]
    success: dict[str, Any] = {"description": (example.summary if example and example.summary else "Success")}
    if example is not None and example.response is not None:
        success["content"] = {"application/json": {"example": example.response}}
    responses: dict[str, Any] = {str(example.status if example else 200): success}
    if route.retired:
        # API Gateway answers every call with 410 (a MOCK integration): no success, no body to validate.
        responses = {"410": _error_ref("410")}
    elif route.request_schema or planned.path_parameters:
        responses["400"] = _error_ref("400")
    if planned.authorization != NONE:
        responses["401"] = _error_ref("401")
    if scopes or route.api_key_required:
        responses["403"] = _error_ref("403")
    responses["429"] = _error_ref("429")
    responses["5XX"] = _error_ref("5XX")

    operation: dict[str, Any] = {
        "operationId": operation_id,
        "tags": [next((s for s in segments if not _PARAM.match(s)), "root")],
        "summary": example.summary if example and example.summary else f"{route.method} {route.path}",
        "security": _security(planned, scopes),
        "responses": responses,
    }
    if planned.path_parameters:
        operation["parameters"] = [
            {"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
            for p in planned.path_parameters
        ]
    if route.retired:
        operation["deprecated"] = True
        operation["description"] = "Retired: answers 410 until the route is deleted in the next deployment."
    elif route.request_schema:
        media: dict[str, Any] = {"schema": {"$ref": f"#/components/schemas/{model_name(route.request_schema)}"}}
        if example is not None and example.request is not None:
            media["example"] = example.request
        operation["requestBody"] = {"required": True, "content": {"application/json": media}}
    return operation


def build_document(
    routes: Sequence[DocumentedRoute],
    schemas: Mapping[str, Mapping[str, Any]],
    *,
    title: str,
    version: str,
    description: str = "",
    servers: Sequence[str] = (),
    examples: Mapping[str, RouteExample] | None = None,
    oauth: OAuthSettings | None = None,
    api_keys_enabled: bool = True,
) -> dict[str, Any]:
    """The OpenAPI 3.0 document of exactly these routes (one operation per route, nothing else)."""
    examples = examples or {}
    # The same planner SecureApi deploys with: same validation, same authorization decision per route.
    plan = plan_routes(list(routes), api_keys_enabled=api_keys_enabled)
    keys = {m.route.key for m in plan.methods}
    unknown = sorted(set(examples) - keys)
    if unknown:
        raise ValueError(f"examples for routes that do not exist: {', '.join(unknown)}")
    # A retired route validates nothing (SecureApi gives it no model): its schema is not part of the contract.
    documented_schemas = sorted({m.route.request_schema for m in plan.methods
                                 if m.route.request_schema and not m.route.retired})
    missing_schemas = sorted(set(documented_schemas) - set(schemas))
    if missing_schemas:
        raise ValueError(f"no JSON Schema given for: {', '.join(missing_schemas)}")

    security_schemes: dict[str, Any] = {
        ID_TOKEN_SCHEME: {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "A Cognito ID token of this stack's user pool, in the Authorization header.",
        }
    }
    scoped = [m for m in plan.methods if route_scopes(m.route)]
    if scoped and oauth is None:
        raise ValueError(f"route {scoped[0].route.key!r} requires scopes but no OAuth settings were given")
    if oauth is not None:
        undeclared = sorted({s for m in scoped for s in route_scopes(m.route)} - set(oauth.scopes))
        if undeclared:
            raise ValueError(f"scopes used by routes but not offered by the app client: {', '.join(undeclared)}")
        security_schemes[OAUTH_SCHEME] = {
            "type": "oauth2",
            "description": "Cognito Hosted UI, authorization code with PKCE; send the access token.",
            "flows": {
                "authorizationCode": {
                    "authorizationUrl": oauth.authorization_url,
                    "tokenUrl": oauth.token_url,
                    "scopes": dict(oauth.scopes),
                }
            },
        }
    if any(m.route.api_key_required for m in plan.methods):
        security_schemes[API_KEY_SCHEME] = {"type": "apiKey", "in": "header", "name": "x-api-key"}

    component_schemas: dict[str, Any] = {
        ERROR_SCHEMA: {
            "type": "object",
            "required": ["error"],
            "additionalProperties": False,
            "properties": {
                "error": {
                    "type": "object",
                    "required": ["code", "message"],
                    "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
                }
            },
        }
    }
    for name in documented_schemas:
        component_schemas[model_name(name)] = to_schema_object(schemas[name], where=f"schema {name!r}")

    paths: dict[str, dict[str, Any]] = {}
    taken: set[str] = set()
    for planned in sorted(plan.methods, key=lambda m: (m.route.path, m.route.method)):
        route = planned.route
        operation = _operation(
            planned, route_scopes(route), examples.get(route.key), _operation_id(route.method, route.path, taken)
        )
        paths.setdefault(openapi_path(route.path), {})[route.method.lower()] = operation

    document: dict[str, Any] = {
        "openapi": OPENAPI_VERSION,
        "info": {"title": title, "version": version, **({"description": description} if description else {})},
        "paths": paths,
        "components": {
            "schemas": component_schemas,
            "responses": {
                name: {
                    "description": text,
                    "content": {
                        "application/json": {
                            "schema": {"$ref": f"#/components/schemas/{ERROR_SCHEMA}"},
                            "example": {"error": {"code": code, "message": message}},
                        }
                    },
                }
                for name, text, code, message in (
                    *_ERROR_RESPONSES.values(), *([_GONE_RESPONSE] if any(m.route.retired for m in plan.methods) else []))
            },
            "securitySchemes": security_schemes,
        },
    }
    if servers:
        document["servers"] = [{"url": url} for url in servers]
    return document


def operations(document: Mapping[str, Any]) -> set[str]:
    """`METHOD /path` of every operation in a document (the inverse of how routes are published)."""
    return {f"{method.upper()} {path}" for path, item in document["paths"].items() for method in item}


def load_schemas(names: Sequence[str], directory: Path) -> dict[str, dict[str, Any]]:
    return {name: json.loads((directory / f"{name}.json").read_text()) for name in names}


def load_examples(path: Path = EXAMPLES_FILE) -> dict[str, RouteExample]:
    """`components/docs/examples.json`: route key → example exchange (kept next to the page that shows it)."""
    raw = json.loads(path.read_text())
    return {key: RouteExample(**value) for key, value in raw.items()}


def document_json(
    routes: Sequence[DocumentedRoute],
    schemas_dir: Path,
    *,
    title: str,
    version: str,
    servers: Sequence[str] = (),
    oauth: OAuthSettings | None = None,
    api_keys_enabled: bool = True,
    examples_file: Path | None = EXAMPLES_FILE,
) -> str:
    """The published `openapi.json`: the document of `routes` with their schemas from `schemas_dir`."""
    names = sorted({r.request_schema for r in routes if r.request_schema})
    document = build_document(
        routes, load_schemas(names, schemas_dir), title=title, version=version, servers=servers,
        examples=load_examples(examples_file) if examples_file else None, oauth=oauth,
        api_keys_enabled=api_keys_enabled,
    )
    return json.dumps(document, indent=2)

"""Pure planning for the REST API: route table in, methods / resources / preflights / permissions out.

No Pulumi resources here, so every property of the plan (deny by default, one permission per route,
exact source ARNs, one preflight per path) is tested directly with hypothesis.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TypeVar

HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD")
COGNITO = "COGNITO_USER_POOLS"
NONE = "NONE"
CORS_ALLOWED_HEADERS = (
    "Content-Type",
    "Authorization",
    "X-Api-Key",
    "X-Amz-Date",
    "X-Amz-Security-Token",
    "Idempotency-Key",
)

_STATIC_SEGMENT = re.compile(r"^[A-Za-z0-9._~-]+$")
_PARAM_SEGMENT = re.compile(r"^\{([A-Za-z_][A-Za-z0-9_]*)(\+?)\}$")
_SCHEMA_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
# A full Cognito scope name `<resource server identifier>/<scope>`: printable ASCII, no spaces or quotes.
_SCOPE = re.compile(r"^[\x21\x23-\x5B\x5D-\x7E]+/[\x21\x23-\x5B\x5D-\x7E]+$")


@dataclass(frozen=True)
class RouteSpec:
    """The data half of a route (the function is attached by the component)."""

    method: str
    path: str
    public: bool = False
    request_schema: str | None = None
    api_key_required: bool = False
    # Step 1 of removing a route (README "Removing a route"): still planned, answered 410 by API Gateway itself.
    retired: bool = False
    # Full scope names: the Method's authorizationScopes (an access token carrying any one of them passes).
    scopes: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"


@dataclass(frozen=True)
class PlannedMethod:
    route: RouteSpec
    authorization: str
    path_parameters: tuple[str, ...]
    permission_path: str

    def source_arn(self, execution_arn: str) -> str:
        return source_arn(execution_arn, self.route.method, self.route.path)


@dataclass(frozen=True)
class PlannedPreflight:
    path: str
    allowed_methods: tuple[str, ...]


@dataclass(frozen=True)
class ApiPlan:
    resource_paths: tuple[str, ...]
    methods: tuple[PlannedMethod, ...]
    preflights: tuple[PlannedPreflight, ...]

    @property
    def schemas(self) -> tuple[str, ...]:
        return tuple(sorted({m.route.request_schema for m in self.methods if m.route.request_schema}))


def split_path(path: str) -> list[str]:
    """Validate an API path and return its segments ('/' → [])."""
    if not path.startswith("/"):
        raise ValueError(f"path {path!r} must start with '/'")
    if path == "/":
        return []
    if path.endswith("/") or "//" in path:
        raise ValueError(f"path {path!r} must not have empty segments or a trailing '/'")
    segments = path[1:].split("/")
    seen: set[str] = set()
    for index, segment in enumerate(segments):
        param = _PARAM_SEGMENT.match(segment)
        if param:
            if param.group(2) and index != len(segments) - 1:
                raise ValueError(f"greedy parameter {segment!r} must be the last segment of {path!r}")
            if param.group(1) in seen:
                raise ValueError(f"parameter {param.group(1)!r} appears twice in {path!r}")
            seen.add(param.group(1))
        elif not _STATIC_SEGMENT.match(segment):
            raise ValueError(f"segment {segment!r} of {path!r} is not a valid path part")
    return segments


def permission_path(path: str) -> str:
    """The path as it appears in an execute-api source ARN: parameters match any value."""
    # API Gateway invokes with the concrete request path, so `{orderId}` must become `*`.
    return "/" + "/".join("*" if _PARAM_SEGMENT.match(s) else s for s in split_path(path))


def source_arn(execution_arn: str, method: str, path: str) -> str:
    """`<executionArn>/*/<METHOD><path>`: any stage, exactly this method and route (never `/*/*`)."""
    return f"{execution_arn}/*/{method}{permission_path(path)}"


def _parent_paths(path: str) -> list[str]:
    segments = split_path(path)
    return ["/" + "/".join(segments[: i + 1]) for i in range(len(segments))]


def _check_siblings(paths: Iterable[str]) -> None:
    """API Gateway allows one parameter name per position under a parent (/a/{id} and /a/{key} clash)."""
    params_under: dict[str, str] = {}
    for path in paths:
        segments = split_path(path)
        for i, segment in enumerate(segments):
            if _PARAM_SEGMENT.match(segment):
                parent = "/" + "/".join(segments[:i])
                existing = params_under.setdefault(parent, segment)
                if existing != segment:
                    raise ValueError(f"{path!r}: {segment} conflicts with {existing} under {parent!r}")


def plan_routes(routes: Sequence[RouteSpec], *, api_keys_enabled: bool = True) -> ApiPlan:
    """Turn a route table into the API's resources, methods and preflights.

    Deny by default: a route is unauthenticated only when it says `public=True`.
    """
    seen: set[str] = set()
    methods: list[PlannedMethod] = []
    resource_paths: dict[str, None] = {}
    methods_by_path: dict[str, list[str]] = {}
    for route in routes:
        if route.method not in HTTP_METHODS:
            raise ValueError(f"route {route.key!r}: method must be one of {', '.join(HTTP_METHODS)}")
        segments = split_path(route.path)
        if route.key in seen:
            raise ValueError(f"duplicate route {route.key!r}")
        seen.add(route.key)
        if route.request_schema is not None and not _SCHEMA_NAME.match(route.request_schema):
            raise ValueError(f"route {route.key!r}: schema name {route.request_schema!r} is not a file stem")
        if route.scopes and route.public:
            raise ValueError(f"route {route.key!r} is public: it cannot require scopes")
        for scope in route.scopes:
            if not _SCOPE.match(scope):
                raise ValueError(f"route {route.key!r}: scope {scope!r} is not '<resource server>/<scope>'")
        if len(set(route.scopes)) != len(route.scopes):
            raise ValueError(f"route {route.key!r} lists a scope twice")
        if route.api_key_required and not api_keys_enabled:
            raise ValueError(f"route {route.key!r} requires an API key but the stack's usage plan is disabled")
        for parent in _parent_paths(route.path):
            resource_paths.setdefault(parent, None)
        # A retired method is no longer advertised to browsers.
        methods_by_path.setdefault(route.path, []).extend([] if route.retired else [route.method])
        methods.append(
            PlannedMethod(
                route=route,
                authorization=NONE if route.public else COGNITO,
                path_parameters=tuple(m.group(1) for s in segments if (m := _PARAM_SEGMENT.match(s))),
                permission_path=permission_path(route.path),
            )
        )
    _check_siblings(resource_paths)
    preflights = tuple(
        PlannedPreflight(path=path, allowed_methods=tuple(sorted(set(verbs))) + ("OPTIONS",))
        for path, verbs in sorted(methods_by_path.items())
    )
    return ApiPlan(resource_paths=tuple(resource_paths), methods=tuple(methods), preflights=preflights)


R = TypeVar("R")


def with_scopes(routes: Sequence[R], scopes_by_route: Mapping[str, Sequence[str]]) -> list[R]:
    """Add required scopes to routes by key ("GET /orders/{orderId}"), e.g. from stack config.

    Every key must name a route of the table: a misspelled key would otherwise leave a route unscoped.
    """
    keys = {f"{r.method} {r.path}" for r in routes}  # type: ignore[attr-defined]
    unknown = sorted(set(scopes_by_route) - keys)
    if unknown:
        raise ValueError(f"scopes given for routes that do not exist: {', '.join(unknown)}")
    return [
        replace(r, scopes=tuple(dict.fromkeys([*r.scopes, *scopes_by_route.get(f"{r.method} {r.path}", ())])))  # type: ignore
        for r in routes
    ]


def model_name(schema: str) -> str:
    """API Gateway model names are alphanumeric: `order_item` → `OrderItemModel`."""
    return "".join(part.capitalize() for part in schema.split("_")) + "Model"


def deployment_fingerprint(plan: ApiPlan, function_keys: Mapping[str, str], extra: Mapping[str, object]) -> str:
    """Changes exactly when what the stage serves changes: routes, targets, auth, schemas or CORS/throttle."""
    document = {
        "methods": sorted(
            [
                {
                    "route": m.route.key,
                    "authorization": m.authorization,
                    "apiKey": m.route.api_key_required,
                    # Only when set: tables without scopes keep the fingerprint (no redeploy) they had before scopes.
                    **({"scopes": list(m.route.scopes)} if m.route.scopes else {}),
                    "schema": m.route.request_schema,
                    "function": function_keys.get(m.route.key),
                    "retired": m.route.retired,
                }
                for m in plan.methods
            ],
            key=lambda d: d["route"],
        ),
        "preflights": [(p.path, p.allowed_methods) for p in plan.preflights],
        "extra": extra,
    }
    return hashlib.sha256(json.dumps(document, sort_keys=True, default=str).encode()).hexdigest()


def preflight_response_template(allowed_origins: Sequence[str]) -> str:
    """VTL for the MOCK preflight: echo the Origin header only when it is in the allowed list."""
    origins = ", ".join(json.dumps(o) for o in allowed_origins)
    return (
        f"#set($allowed = [{origins}])\n"
        '#set($origin = $input.params().header.get("Origin"))\n'
        "#if($origin == $null)#set($origin = $input.params().header.get(\"origin\"))#end\n"
        "#if($allowed.contains($origin))\n"
        "#set($context.responseOverride.header.Access-Control-Allow-Origin = $origin)\n"
        "#set($context.responseOverride.header.Vary = \"Origin\")\n"
        "#end\n"
        "{}"
    )

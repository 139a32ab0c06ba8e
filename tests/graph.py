"""Reading a recorded program graph the way a reviewer would: routes, their auth, their IAM."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from offline.runtime import ProgramRun, RecordedResource

METHOD = "aws:apigateway/method:Method"
RESOURCE = "aws:apigateway/resource:Resource"
PERMISSION = "aws:lambda/permission:Permission"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ROLE = "aws:iam/role:Role"
FUNCTION = "aws:lambda/function:Function"


def dependency(run: ProgramRun, resource: RecordedResource, prop: str) -> RecordedResource | None:
    urns = resource.property_dependencies.get(prop) or ()
    for urn in urns:
        try:
            return run.by_urn(urn)
        except KeyError:
            continue
    return None


def resource_path(run: ProgramRun, method: RecordedResource) -> str:
    """Method → Resource (by property dependency) → parent chain → '/a/{b}'."""
    parts: list[str] = []
    node = dependency(run, method, "resourceId")
    while node is not None and node.type == RESOURCE:
        parts.append(node.inputs["pathPart"])
        node = dependency(run, node, "parentId")
    return "/" + "/".join(reversed(parts))


@dataclass(frozen=True)
class RouteView:
    method: str
    path: str
    authorization: str
    authorizer_urn: str | None
    resource: RecordedResource


def routes(run: ProgramRun) -> dict[str, RouteView]:
    views = {}
    for m in run.of_type(METHOD):
        path = resource_path(run, m)
        authorizer = dependency(run, m, "authorizerId")
        key = f"{m.inputs['httpMethod']} {path}"
        views[key] = RouteView(m.inputs["httpMethod"], path, m.inputs["authorization"],
                               authorizer.urn if authorizer else None, m)
    return views


def statements_of(policy: Any) -> list[dict[str, Any]]:
    doc = json.loads(policy) if isinstance(policy, str) else policy
    statements = doc["Statement"]
    return statements if isinstance(statements, list) else [statements]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def function_named(run: ProgramRun, component_name: str) -> RecordedResource:
    """The aws:lambda Function child of the PythonFunction component called `component_name`."""
    return run.named(f"{component_name}-function")


def role_statements(run: ProgramRun, component_name: str) -> list[dict[str, Any]]:
    """Every Allow statement of every inline policy on the role of PythonFunction `component_name`."""
    role = run.named(f"{component_name}-role")
    found = []
    for policy in run.of_type(ROLE_POLICY):
        if dependency(run, policy, "role") == role:
            found.extend(statements_of(policy.inputs["policy"]))
    return found


def actions_by_resource(statements: list[dict[str, Any]]) -> dict[str, set[str]]:
    """{resource ARN: {actions}} across statements, to compare a role to its exact contract."""
    grants: dict[str, set[str]] = {}
    for st in statements:
        assert st["Effect"] == "Allow"
        for resource in as_list(st["Resource"]):
            grants.setdefault(resource, set()).update(as_list(st["Action"]))
    return grants

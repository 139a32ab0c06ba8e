"""What a REST API stage serves after a `pulumi up`, given the engine's step order (a model, not the engine).

The Pulumi engine runs an update in this order (pulumi/pulumi pkg/resource/deploy, step generation): every
resource the program registers is created, updated or replaced (create-before-delete by default) in dependency
order while the program runs; resources the program no longer registers are deleted only after the program has
finished, in reverse dependency order; the old halves of replacements are deleted then too.

An `aws.apigateway.Deployment` is a snapshot of the REST API's methods taken when it is created (CreateDeployment).
So when an update replaces the deployment, the snapshot holds every method the new program registers (the
deployment depends on them all) plus every method the program dropped, because those are deleted later. When
the deployment is not replaced, the stage keeps serving the previous snapshot.

This module computes that served set from two recorded runs (offline/runtime.py) by type and inputs only, and
says which served routes are gone from the program (still live) or would call a function without a permission.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

from offline.runtime import ProgramRun, RecordedResource

DEPLOYMENT = "aws:apigateway/deployment:Deployment"
METHOD = "aws:apigateway/method:Method"
INTEGRATION = "aws:apigateway/integration:Integration"
RESOURCE = "aws:apigateway/resource:Resource"
REST_API = "aws:apigateway/restApi:RestApi"
PERMISSION = "aws:lambda/permission:Permission"


@dataclass(frozen=True)
class ServedMethod:
    method: str
    path: str
    integration_type: str | None
    function_invoke_uri: str | None  # the AWS_PROXY integration's uri

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"


def _paths(run: ProgramRun) -> dict[str, str]:
    """API Gateway resource id → full path, from the recorded Resource registrations."""
    apis = run.of_type(REST_API)
    paths = {api.outputs["rootResourceId"]: "/" for api in apis}
    pending = list(run.of_type(RESOURCE))
    while pending:
        progressed = False
        for resource in list(pending):
            parent = paths.get(resource.inputs["parentId"])
            if parent is not None:
                paths[resource.id] = parent.rstrip("/") + "/" + resource.inputs["pathPart"]
                pending.remove(resource)
                progressed = True
        if not progressed:
            raise ValueError(f"resources without a known parent: {[r.name for r in pending]}")
    return paths


def _served(run: ProgramRun, methods: list[RecordedResource], integrations: list[RecordedResource]) -> set[ServedMethod]:
    paths = _paths(run)
    by_target = {(i.inputs["resourceId"], i.inputs["httpMethod"]): i for i in integrations}
    served = set()
    for method in methods:
        integration = by_target.get((method.inputs["resourceId"], method.inputs["httpMethod"]))
        served.add(ServedMethod(
            method=method.inputs["httpMethod"],
            path=paths[method.inputs["resourceId"]],
            integration_type=integration.inputs.get("type") if integration else None,
            function_invoke_uri=integration.inputs.get("uri") if integration else None,
        ))
    return served


def deployment_replaced(before: ProgramRun, after: ProgramRun) -> bool:
    """The engine replaces the deployment when its URN is new or its `triggers` changed (ForceNew)."""
    (new,) = after.of_type(DEPLOYMENT)
    old = {d.urn: d for d in before.of_type(DEPLOYMENT)}.get(new.urn)
    return old is None or old.inputs.get("triggers") != new.inputs.get("triggers")


def served_after_update(before: ProgramRun, after: ProgramRun) -> set[ServedMethod]:
    """The methods the stage serves once `pulumi up` moved from the `before` program to the `after` program."""
    if not deployment_replaced(before, after):
        return _served(before, before.of_type(METHOD), before.of_type(INTEGRATION))
    (deployment,) = after.of_type(DEPLOYMENT)
    kept = {r.urn for r in after.resources}
    new_methods = after.of_type(METHOD)
    missing = [m.name for m in new_methods if m.urn not in deployment.dependencies]
    if missing:
        # Without the dependency the engine may create the snapshot before these methods exist.
        raise ValueError(f"the deployment does not depend on methods {missing}")
    dropped_methods = [m for m in before.of_type(METHOD) if m.urn not in kept]
    dropped_integrations = [i for i in before.of_type(INTEGRATION) if i.urn not in kept]
    merged = ProgramRun(project=after.project, stack=after.stack,
                        resources=[*after.resources, *(r for r in before.resources if r.urn not in kept)])
    return _served(merged, [*new_methods, *dropped_methods], [*after.of_type(INTEGRATION), *dropped_integrations])


def _invocable(after: ProgramRun, served: ServedMethod) -> bool:
    """A Lambda permission of the `after` program lets API Gateway call this method's function."""
    (api,) = after.of_type(REST_API)
    concrete = "/".join("value" if part.startswith("{") else part for part in served.path.split("/"))
    request_arn = f"{api.outputs['executionArn']}/stage/{served.method}{concrete}"
    for permission in after.of_type(PERMISSION):
        function = permission.inputs.get("function")
        if not served.function_invoke_uri or f":function:{function}/invocations" not in served.function_invoke_uri:
            continue
        if fnmatch.fnmatchcase(request_arn, permission.inputs.get("sourceArn", "")):
            return True
    return False


# Integration inputs the provider cannot update in place (terraform-provider-aws aws_api_gateway_integration
# ForceNew), so a change replaces the integration.
INTEGRATION_FORCE_NEW = ("type", "integrationHttpMethod", "passthroughBehavior", "credentials")


def orphaned_methods(before: ProgramRun, after: ProgramRun) -> set[str]:
    """Methods the update leaves without an integration in the live API.

    An integration's id is its method, so a create-before-delete replacement puts the new integration, then the old
    half's DeleteIntegration (run last) removes it: the next deployment then fails ("No integration defined for
    method"). Only `delete_before_replace` avoids it."""
    old = {i.urn: i for i in before.of_type(INTEGRATION)}
    paths = _paths(after)
    lost = set()
    for new in after.of_type(INTEGRATION):
        previous = old.get(new.urn)
        replaced = previous is not None and any(
            previous.inputs.get(k) != new.inputs.get(k) for k in INTEGRATION_FORCE_NEW)
        if replaced and not new.delete_before_replace:
            lost.add(f"{new.inputs['httpMethod']} {paths[new.inputs['resourceId']]}")
    return lost


@dataclass(frozen=True)
class UpdateOutcome:
    served: frozenset[ServedMethod]
    still_live: frozenset[str]       # routes the `after` program no longer has, yet the stage serves
    broken: frozenset[str]           # served Lambda routes whose permission the update deletes (500s)
    orphaned: frozenset[str]         # methods left without an integration for the next deployment


def outcome(before: ProgramRun, after: ProgramRun) -> UpdateOutcome:
    served = served_after_update(before, after)
    wanted = {s.key for s in _served(after, after.of_type(METHOD), after.of_type(INTEGRATION))}
    return UpdateOutcome(
        served=frozenset(served),
        still_live=frozenset(s.key for s in served if s.key not in wanted and s.integration_type == "AWS_PROXY"),
        broken=frozenset(s.key for s in served if s.integration_type == "AWS_PROXY" and not _invocable(after, s)),
        orphaned=frozenset(orphaned_methods(before, after)),
    )

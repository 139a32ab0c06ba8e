"""Step Functions in the local runtime: the graph's state machines executed by moto's ASL interpreter.

Provisioned from the graph like everything else (definition and role ARN rewritten by the IdMap): the state
machine, its role's STS session, and every function in moto's Lambda (code-less: the invoke is dispatched to
the function's warm worker by `moto_patches.lambda_invoke_dispatched_to_local_workers`, so it runs under its own
role, environment and timeout, with its logs streamed) plus the graph's aliases on published versions (the
charge step is invoked through its `live` alias). Service integrations run with the state machine role's
credentials (`moto_patches.stepfunctions_tasks_run_as_the_state_machine_role`): moto's IAM enforcement checks
every task's action and resource against the role's generated policy, and a task it refuses fails the state
(`States.TaskFailed`, or `Lambda.AWSLambdaException` for a refused invoke) into its Catch.

Everything here runs before IAM enforcement is switched on (moto cannot assume a service role afterwards).
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from offline.local import moto_patches
from offline.local.graph import StackGraph
from offline.local.lambdas import Invocation
from offline.local.provision import Provisioned, admin_client

STATE_MACHINE = "aws:sfn/stateMachine:StateMachine"
ALIAS = "aws:lambda/alias:Alias"
HANDLED_TYPES = {STATE_MACHINE, ALIAS}


@dataclass(frozen=True)
class Machine:
    name: str
    arn: str
    role_name: str
    role_arn: str


def _code_zip() -> bytes:
    # moto's Lambda needs some code; the worker runs the function's own archive, never this.
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("local_runtime_placeholder.py", "# the local runtime's worker runs the real archive\n")
    return buffer.getvalue()


def trusts(assume_role_policy: str | dict[str, Any], service: str) -> bool:
    """Whether a role's trust policy lets `service` assume it (CreateStateMachine refuses a role Step Functions
    cannot assume; conditions such as aws:SourceAccount are not evaluated locally)."""
    document = json.loads(assume_role_policy) if isinstance(assume_role_policy, str) else assume_role_policy
    for statement in document.get("Statement") or []:
        actions = statement.get("Action")
        actions = [actions] if isinstance(actions, str) else actions or []
        services = (statement.get("Principal") or {}).get("Service")
        services = [services] if isinstance(services, str) else services or []
        if statement.get("Effect") == "Allow" and "sts:AssumeRole" in actions and service in services:
            return True
    return False


def throttled() -> Exception:
    from moto.awslambda.exceptions import LambdaClientError

    error = LambdaClientError("TooManyRequestsException", "Rate Exceeded.")
    error.code = 429
    return error


class Workflows:
    """The graph's state machines and what they invoke, provisioned in moto and wired to the local workers."""

    def __init__(self, graph: StackGraph, provisioned: Provisioned, endpoint: str, region: str, time_scale: float,
                 invoke: Callable[[str, Any], Invocation], count: Callable[[str], None]):
        self.graph = graph
        self.ids = provisioned.ids
        self.endpoint = endpoint
        self.region = region
        self.time_scale = time_scale
        self.invoke = invoke
        self.count = count
        self.machines: list[Machine] = []

    def provision(self) -> list[Machine]:
        machines = self.graph.of_type(STATE_MACHINE)
        if not machines:
            return []
        self._functions(" ".join(self.ids.rewrite(r.inputs["definition"]) for r in machines))
        sts = admin_client("sts", self.endpoint, self.region)
        sfn = admin_client("stepfunctions", self.endpoint, self.region)
        world = moto_patches.LOCAL
        world.endpoint = self.endpoint
        world.time_scale = self.time_scale
        for r in machines:
            i = r.inputs
            role_arn = self.ids.rewrite(i["roleArn"])
            role = next((x for x in self.graph.of_type("aws:iam/role:Role")
                         if self.ids.rewrite(x.outputs.get("arn") or "") == role_arn), None)
            if role is None or not trusts(role.inputs.get("assumeRolePolicy") or "{}", "states.amazonaws.com"):
                raise ValueError(f"state machine {i.get('name')}: Step Functions cannot assume {role_arn} (its trust "
                                 "policy must allow states.amazonaws.com to sts:AssumeRole)")
            request: dict[str, Any] = {"name": i.get("name") or r.id.rsplit(":", 1)[-1],
                                       "definition": self.ids.rewrite(i["definition"]), "roleArn": role_arn,
                                       "type": i.get("type", "STANDARD")}
            if i.get("tags"):
                request["tags"] = [{"key": str(k), "value": str(v)} for k, v in i["tags"].items()]
            arn = sfn.create_state_machine(**request)["stateMachineArn"]
            self.ids.add(r.outputs.get("arn") or r.id, arn)
            # Step Functions assumes the role for every task: so do the patched integrations.
            world.role_credentials[role_arn] = sts.assume_role(
                RoleArn=role_arn, RoleSessionName=f"states-{request['name']}"[:64], DurationSeconds=43200)["Credentials"]
            self.machines.append(Machine(request["name"], arn, role_arn.rsplit("/", 1)[-1], role_arn))
        by_role = {m.role_arn: m.name for m in self.machines}
        # The state machine counts as one more principal for the runtime's counters (least-privilege matrix).
        world.on_task = lambda role_arn, _service: self.count(f"{by_role.get(role_arn, 'unknown-machine')}.invocations")
        return self.machines

    def _functions(self, definitions: str) -> None:
        """The functions the definitions invoke, in moto's Lambda (so `lambda:invoke` tasks find them) with a
        dispatcher to their workers, and their aliases on a published version. Only those: each one costs
        start-up time, and nothing else invokes through moto's Lambda."""
        lam = admin_client("lambda", self.endpoint, self.region)
        code = _code_zip()
        world = moto_patches.LOCAL
        for spec in self.graph.functions():
            if not any(f"{ref}{end}" in definitions for ref, end in ((spec.arn, '"'), (spec.arn, ":"),
                                                                       (f'"{spec.name}', '"'))):
                continue
            lam.create_function(FunctionName=spec.name, Runtime=spec.runtime or "python3.12",
                                Role=self.ids.rewrite(spec.role_arn), Handler=spec.handler, Code={"ZipFile": code},
                                Timeout=spec.timeout, MemorySize=spec.memory)
            world.lambda_dispatch[spec.name] = self._dispatcher(spec.name)
        published: dict[str, str] = {}
        for alias in self.graph.of_type(ALIAS):
            spec = self.graph.function_for(alias.inputs["functionName"])
            if spec is None or spec.name not in world.lambda_dispatch:
                continue
            if spec.name not in published:
                published[spec.name] = lam.publish_version(FunctionName=spec.name)["Version"]
            lam.create_alias(FunctionName=spec.name, Name=alias.inputs["name"], FunctionVersion=published[spec.name])

    def _dispatcher(self, name: str) -> Callable[[Any], tuple[str, bool, str]]:
        def dispatch(event: Any) -> tuple[str, bool, str]:
            if isinstance(event, (bytes, str)):
                event = json.loads(event or "{}")
            result = self.invoke(name, event)
            if result.error_type == "Throttled":
                # Lambda refuses the Invoke call itself (429): Step Functions sees Lambda.TooManyRequestsException,
                # which the definition retries, not a function error.
                raise throttled()
            return json.dumps(result.payload, default=str), not result.ok, ""

        return dispatch

"""Read what the local runtime needs out of a recorded stack graph, by resource type and inputs only.

Logical names change under other branches (auto-naming, component refactors), so nothing here looks a
resource up by its Pulumi name: functions are found by type, routes by the REST API's Resource tree, event
sources by their `eventSourceArn`, and so on. `IdMap` is the one place where identifiers the mocks invented
(pool ids, queue URLs, the API id) are swapped for the ones the moto server handed out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from offline.runtime import ProgramRun, RecordedResource

FUNCTION = "aws:lambda/function:Function"
PERMISSION = "aws:lambda/permission:Permission"
EVENT_SOURCE_MAPPING = "aws:lambda/eventSourceMapping:EventSourceMapping"
EVENT_INVOKE_CONFIG = "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig"

# Types the runtime knowingly does not emulate, with the reason printed at start-up. Anything neither here nor
# handled by a provisioner or the API emulation is reported as "not supported yet" (never a crash).
IGNORED_TYPES: dict[str, str] = {
    "aws:cloudwatch/metricAlarm:MetricAlarm": "alarms are not evaluated locally",
    "aws:apigateway/deployment:Deployment": "the local API always serves the current graph",
    "aws:apigateway/methodSettings:MethodSettings": "throttling is not emulated",
    "aws:apigateway/usagePlan:UsagePlan": "quotas and throttles are not emulated (keys are checked)",
    "aws:apigateway/usagePlanKey:UsagePlanKey": "read by the API key check",
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": "no object expiry locally",
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": "moto does not model ownership controls",
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": "nothing is public locally",
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": "no KMS locally",
    "aws:s3/bucketPolicy:BucketPolicy": "moto does not evaluate resource policies",
    "aws:sesv2/configurationSetEventDestination:ConfigurationSetEventDestination": "no SES event publishing locally",
}


@dataclass
class IdMap:
    """Mock identifier -> provisioned identifier, applied to every string handed to the local world."""

    mapping: dict[str, str] = field(default_factory=dict)

    def add(self, mock: str | None, real: str | None) -> None:
        if mock and real and mock != real:
            self.mapping[str(mock)] = str(real)

    def rewrite(self, value: Any) -> Any:
        if isinstance(value, str):
            # Longest first, so a queue URL is replaced whole before any id inside it.
            for mock in sorted(self.mapping, key=len, reverse=True):
                if mock in value:
                    value = value.replace(mock, self.mapping[mock])
            return value
        if isinstance(value, dict):
            return {k: self.rewrite(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.rewrite(v) for v in value]
        return value


@dataclass(frozen=True)
class FunctionSpec:
    name: str
    arn: str
    handler: str
    runtime: str
    role_arn: str
    timeout: int
    memory: int
    environment: dict[str, str]
    files: tuple[str, ...]
    reserved_concurrency: int | None


class StackGraph:
    """Typed views over one ProgramRun."""

    def __init__(self, run: ProgramRun):
        self.run = run
        self.by_id: dict[str, RecordedResource] = {}
        for r in run.resources:
            if r.id:
                self.by_id.setdefault(r.id, r)

    def of_type(self, *types: str) -> list[RecordedResource]:
        return [r for r in self.run.resources if r.type in types]

    def functions(self) -> list[FunctionSpec]:
        specs = []
        for r in self.of_type(FUNCTION):
            code = r.inputs.get("code") or {}
            files = tuple(code.get("__archive") or ())
            reserved = r.inputs.get("reservedConcurrentExecutions")
            specs.append(FunctionSpec(
                name=r.inputs.get("name") or r.id or r.name,
                arn=r.outputs.get("arn") or "",
                handler=r.inputs.get("handler") or "",
                runtime=r.inputs.get("runtime") or "",
                role_arn=r.inputs.get("role") or "",
                timeout=int(r.inputs.get("timeout") or 3),
                memory=int(r.inputs.get("memorySize") or 128),
                environment=dict(((r.inputs.get("environment") or {}).get("variables")) or {}),
                files=files,
                reserved_concurrency=int(reserved) if reserved not in (None, -1) else None,
            ))
        return specs

    def function_for(self, reference: str) -> FunctionSpec | None:
        """A function by name, ARN, qualified ARN or invoke URI (permissions and mappings use all four)."""
        for spec in self.functions():
            if reference in (spec.name, spec.arn) or reference.startswith(spec.arn + ":") \
                    or f"{spec.arn}/invocations" in reference:
                return spec
        return None

    def unsupported(self, handled: Iterable[str]) -> list[RecordedResource]:
        handled = set(handled) | set(IGNORED_TYPES)
        return [r for r in self.run.resources if r.custom and r.type not in handled]

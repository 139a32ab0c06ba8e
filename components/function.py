"""PythonFunction: one Lambda handler with its own role, its own log group and nothing more than it needs."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws

from components.settings import Settings

HANDLERS_DIR = Path(__file__).resolve().parent.parent / "handlers"
_HANDLER_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
# X-Ray's write actions have no resource-level permissions: AWS documents Resource "*" for them.
XRAY_ACTIONS = ("xray:PutTraceSegments", "xray:PutTelemetryRecords")


@dataclass(frozen=True)
class Condition:
    test: str
    variable: str
    values: Sequence[pulumi.Input[str]]


@dataclass(frozen=True)
class Statement:
    """One least-privilege Allow statement; wildcard actions are refused at construction."""

    actions: Sequence[str]
    resources: Sequence[pulumi.Input[str]]
    conditions: Sequence[Condition] = ()
    sid: str | None = None

    def __post_init__(self) -> None:
        if not self.actions:
            raise ValueError("a statement needs at least one action")
        for action in self.actions:
            if "*" in action or ":" not in action:
                raise ValueError(f"action {action!r} must be a single service:Action without wildcards")
        if not self.resources:
            raise ValueError(f"statement for {list(self.actions)} needs at least one resource")

    def document(self) -> dict[str, Any]:
        body: dict[str, Any] = {"Effect": "Allow", "Action": sorted(self.actions), "Resource": list(self.resources)}
        if self.sid:
            body["Sid"] = self.sid
        if self.conditions:
            grouped: dict[str, dict[str, Any]] = {}
            for condition in self.conditions:
                grouped.setdefault(condition.test, {})[condition.variable] = list(condition.values)
            body["Condition"] = grouped
        return body


def policy_document(statements: Sequence[Statement]) -> pulumi.Output[str]:
    """The IAM JSON document for these statements (Output-aware: ARNs may still be unknown)."""
    return pulumi.Output.json_dumps({"Version": "2012-10-17", "Statement": [s.document() for s in statements]})


def plan_archive(handler: str, schemas: Sequence[str] = ()) -> dict[str, Path]:
    """The files one function ships: its module, the shared `handlers/common` package and its schemas.

    Archive paths keep the `handlers/` package layout so imports are identical in tests and in Lambda.
    """
    if not _HANDLER_NAME.match(handler):
        raise ValueError(f"handler {handler!r} must be a module name in handlers/")
    module = HANDLERS_DIR / f"{handler}.py"
    if not module.is_file():
        raise ValueError(f"handler module {module} does not exist")
    files = {"handlers/__init__.py": HANDLERS_DIR / "__init__.py", f"handlers/{handler}.py": module}
    for path in sorted((HANDLERS_DIR / "common").glob("*.py")):
        files[f"handlers/common/{path.name}"] = path
    for schema in schemas:
        path = HANDLERS_DIR / "schemas" / f"{schema}.json"
        if not path.is_file():
            raise ValueError(f"schema {schema!r} not found at {path}")
        files[f"handlers/schemas/{schema}.json"] = path
    return files


def trust_policy(account_id: pulumi.Input[str]) -> pulumi.Output[str]:
    """Only Lambda, and only on behalf of this account, may assume the role (confused-deputy guard)."""
    return pulumi.Output.json_dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "lambda.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                    "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
                }
            ],
        }
    )


@dataclass(frozen=True)
class PythonFunctionArgs:
    handler: str
    settings: Settings
    environment: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    statements: Sequence[Statement] = ()
    schemas: Sequence[str] = ()
    timeout_seconds: int | None = None
    memory_mb: int | None = None
    reserved_concurrency: int | None = None
    description: str = ""

    def __post_init__(self) -> None:
        if self.timeout_seconds is not None and not 1 <= self.timeout_seconds <= 900:
            raise ValueError(f"timeout_seconds must be 1..900, got {self.timeout_seconds}")
        if self.memory_mb is not None and not 128 <= self.memory_mb <= 10240:
            raise ValueError(f"memory_mb must be 128..10240, got {self.memory_mb}")
        if self.reserved_concurrency is not None and not 1 <= self.reserved_concurrency <= 1000:
            raise ValueError(f"reserved_concurrency must be 1..1000, got {self.reserved_concurrency}")
        if len(self.description) > 256:
            raise ValueError(f"description is at most 256 characters (Lambda's limit), got {len(self.description)}")
        reserved = {"ALLOWED_ORIGINS", "STAGE", "SERVICE_NAME"} & set(self.environment)
        if reserved:
            raise ValueError(f"environment variables {sorted(reserved)} are set by PythonFunction")
        plan_archive(self.handler, self.schemas)

    @property
    def timeout(self) -> int:
        return self.timeout_seconds or self.settings.lambda_defaults.timeout_seconds

    @property
    def memory(self) -> int:
        return self.memory_mb or self.settings.lambda_defaults.memory_mb


class PythonFunction(pulumi.ComponentResource):
    function: aws.lambda_.Function
    role: aws.iam.Role
    log_group: aws.cloudwatch.LogGroup
    function_name: pulumi.Output[str]
    arn: pulumi.Output[str]
    invoke_arn: pulumi.Output[str]
    role_arn: pulumi.Output[str]

    def __init__(self, name: str, args: PythonFunctionArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("app:components:PythonFunction", name, None, opts)
        self._name = name
        settings = args.settings
        defaults = settings.lambda_defaults
        child = pulumi.ResourceOptions(parent=self)
        physical_name = settings.resource_name(name)
        account_id = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self)).account_id

        self.log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=f"/aws/lambda/{physical_name}",
            retention_in_days=settings.log_retention_days,
            tags=dict(settings.tags),
            opts=child,
        )
        self.role = aws.iam.Role(
            f"{name}-role",
            assume_role_policy=trust_policy(account_id),
            description=f"Execution role of {physical_name} only",
            tags=dict(settings.tags),
            opts=child,
        )
        # Only the two write actions Lambda needs, on this function's own group: the managed
        # AWSLambdaBasicExecutionRole would grant logs:CreateLogGroup and every log group in the account.
        logs_policy = aws.iam.RolePolicy(
            f"{name}-logs-policy",
            role=self.role.id,
            policy=policy_document(
                [
                    Statement(
                        actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                        resources=[self.log_group.arn.apply(lambda arn: f"{arn}:*")],
                    )
                ]
            ),
            opts=child,
        )
        policies: list[pulumi.Resource] = [logs_policy]
        statements = list(args.statements)
        if defaults.tracing:
            statements.append(Statement(actions=list(XRAY_ACTIONS), resources=["*"]))
        if statements:
            policies.append(self.grant("policy", statements))

        archive = pulumi.AssetArchive(
            {path: pulumi.FileAsset(str(source)) for path, source in plan_archive(args.handler, args.schemas).items()}
        )
        environment = {
            **args.environment,
            "ALLOWED_ORIGINS": ",".join(settings.cors_origins),
            "STAGE": settings.stack,
            "SERVICE_NAME": settings.project,
        }
        self.function = aws.lambda_.Function(
            f"{name}-function",
            name=physical_name,
            description=args.description or f"{args.handler} ({settings.stack})",
            runtime=aws.lambda_.Runtime.PYTHON3D12,
            handler=f"handlers.{args.handler}.handler",
            code=archive,
            role=self.role.arn,
            architectures=[defaults.architecture],
            memory_size=args.memory,
            timeout=args.timeout,
            reserved_concurrent_executions=args.reserved_concurrency or defaults.reserved_concurrency,
            environment=aws.lambda_.FunctionEnvironmentArgs(variables=environment),
            logging_config=aws.lambda_.FunctionLoggingConfigArgs(log_format="Text", log_group=self.log_group.name),
            tracing_config=aws.lambda_.FunctionTracingConfigArgs(mode="Active" if defaults.tracing else "PassThrough"),
            tags=dict(settings.tags),
            # The group must exist (with retention) and the role must be able to write to it before the
            # first invocation, or Lambda creates an unmanaged group that never expires.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.log_group, *policies]),
        )

        self.function_name = self.function.name
        self.arn = self.function.arn
        self.invoke_arn = self.function.invoke_arn
        self.role_arn = self.role.arn
        self.timeout_seconds = args.timeout
        self.register_outputs(
            {
                "function_name": self.function_name,
                "arn": self.arn,
                "role_arn": self.role_arn,
                "log_group": self.log_group.name,
            }
        )

    def grant(self, purpose: str, statements: Sequence[Statement]) -> aws.iam.RolePolicy:
        """Attach one more inline policy to this function's role, e.g. `grant("enqueue-email", [...])`.

        The function was created before this policy, so its first invocations may precede it: prefer passing
        statements in PythonFunctionArgs when they are known up front (the function then waits for them).
        """
        return aws.iam.RolePolicy(
            f"{self._name}-{purpose}",
            role=self.role.id,
            policy=policy_document(statements),
            opts=pulumi.ResourceOptions(parent=self),
        )

"""PythonFunction: one Lambda handler with its own role, its own log group and nothing more than it needs.

The code can come from anywhere: `code_dir` is the archive root, `package` the (dotted) package holding the
handler module, `shared` the globs of shared modules and data files shipped next to it. The defaults are this
repository's layout (`handlers/<module>.py`, `handlers/common/*.py`, `handlers/schemas/*.json`). The function
gets exactly the environment its caller asked for: `FunctionDefaults.environment`, its links' variables and
`environment`, nothing injected.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import pulumi
import pulumi_aws as aws

from .limits import ARCHITECTURES, LOG_RETENTION_DAYS, check_range, check_tags
from .link import Condition, Link, Statement, merge_environment, policy_document
from .naming import Naming
from .paths import CODE_ROOT as REPO_ROOT
from .paths import HANDLERS_DIR as HANDLERS_DIR  # re-exported: the default code layout
from .tokens import component_type, with_legacy_alias

__all__ = ["Condition", "FunctionDefaults", "Link", "PythonFunction", "PythonFunctionArgs", "Statement",
           "plan_archive", "policy_document", "trust_policy"]

DEFAULT_SHARED = ("handlers/__init__.py", "handlers/common/*.py")
_MODULE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# X-Ray's write actions have no resource-level permissions: AWS documents Resource "*" for them.
XRAY_ACTIONS = ("xray:PutTraceSegments", "xray:PutTelemetryRecords")


@dataclass(frozen=True)
class FunctionDefaults:
    """What every function of one caller shares: naming, sizing, logging, tags, common environment.

    `account_id` is the account the roles trust; pass it once per stack (one lookup), or leave None and each
    function looks it up itself.
    """

    naming: Naming
    memory_mb: int = 128
    timeout_seconds: int = 3
    architecture: str = "arm64"
    tracing: bool = False
    reserved_concurrency: int | None = None
    log_retention_days: int = 14
    tags: Mapping[str, str] = field(default_factory=dict)
    environment: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    label: str = ""  # appended to descriptions, e.g. the stack name
    account_id: pulumi.Input[str] | None = None

    def __post_init__(self) -> None:
        check_range("memory_mb", self.memory_mb, 128, 10240)
        check_range("timeout_seconds", self.timeout_seconds, 1, 900)
        check_range("reserved_concurrency", self.reserved_concurrency, 1, 1000)
        if self.architecture not in ARCHITECTURES:
            raise ValueError(f"architecture must be one of {ARCHITECTURES}, got {self.architecture!r}")
        if self.log_retention_days not in LOG_RETENTION_DAYS:
            raise ValueError(f"log_retention_days must be one of CloudWatch's periods, got {self.log_retention_days}")
        check_tags(self.tags)

    def describe(self, text: str) -> str:
        return f"{text} ({self.label})" if self.label else text

    def with_account(self, account_id: pulumi.Input[str]) -> FunctionDefaults:
        return replace(self, account_id=account_id)


def plan_archive(
    handler: str,
    schemas: Sequence[str] = (),
    *,
    code_dir: Path = REPO_ROOT,
    package: str = "handlers",
    shared: Sequence[str] = DEFAULT_SHARED,
    files: Sequence[str] = (),
) -> dict[str, Path]:
    """The files one function ships: archive path → source file. Archive paths are relative to `code_dir`, so
    imports are identical in tests and in Lambda. Schemas live in `<package>/schemas/<name>.json`."""
    if not _MODULE.match(handler):
        raise ValueError(f"handler {handler!r} must be a module name in {package}/")
    package_dir = Path(*package.split("."))
    module = code_dir / package_dir / f"{handler}.py"
    if not module.is_file():
        raise ValueError(f"handler module {module} does not exist")
    planned: dict[str, Path] = {}
    for pattern in shared:
        matches = sorted(code_dir.glob(pattern))
        if not matches:
            raise ValueError(f"shared pattern {pattern!r} matches nothing under {code_dir}")
        planned.update({path.relative_to(code_dir).as_posix(): path for path in matches if path.is_file()})
    planned[(package_dir / f"{handler}.py").as_posix()] = module
    for schema in schemas:
        path = code_dir / package_dir / "schemas" / f"{schema}.json"
        if not path.is_file():
            raise ValueError(f"schema {schema!r} not found at {path}")
        planned[path.relative_to(code_dir).as_posix()] = path
    for relative in files:
        path = code_dir / relative
        if not path.is_file():
            raise ValueError(f"file {relative!r} not found under {code_dir}")
        planned[Path(relative).as_posix()] = path
    return dict(sorted(planned.items()))


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
    defaults: FunctionDefaults
    environment: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    statements: Sequence[Statement] = ()
    links: Sequence[Link] = ()
    schemas: Sequence[str] = ()
    code_dir: Path = REPO_ROOT
    package: str = "handlers"
    shared: Sequence[str] = DEFAULT_SHARED
    files: Sequence[str] = ()
    entry: str = "handler"
    timeout_seconds: int | None = None
    memory_mb: int | None = None
    reserved_concurrency: int | None = None
    description: str = ""

    def __post_init__(self) -> None:
        check_range("timeout_seconds", self.timeout_seconds, 1, 900)
        check_range("memory_mb", self.memory_mb, 128, 10240)
        check_range("reserved_concurrency", self.reserved_concurrency, 1, 1000)
        if len(self.description) > 256:
            raise ValueError(f"description is at most 256 characters (Lambda's limit), got {len(self.description)}")
        if not _MODULE.match(self.entry) or not all(_MODULE.match(p) for p in self.package.split(".")):
            raise ValueError(f"package {self.package!r} and entry {self.entry!r} must be Python identifiers")
        self.environment_variables()  # a variable set twice is refused now
        self.archive()

    def archive(self) -> dict[str, Path]:
        return plan_archive(self.handler, self.schemas, code_dir=self.code_dir, package=self.package,
                            shared=self.shared, files=self.files)

    def environment_variables(self) -> dict[str, pulumi.Input[str]]:
        return merge_environment(self.defaults.environment, *(link.env for link in self.links), self.environment)

    def all_statements(self) -> list[Statement]:
        statements = [*self.statements, *(s for link in self.links for s in link.statements)]
        if self.defaults.tracing:
            statements.append(Statement(actions=list(XRAY_ACTIONS), resources=["*"]))
        return statements

    @property
    def timeout(self) -> int:
        return self.timeout_seconds or self.defaults.timeout_seconds

    @property
    def memory(self) -> int:
        return self.memory_mb or self.defaults.memory_mb


class PythonFunction(pulumi.ComponentResource):
    function: aws.lambda_.Function
    role: aws.iam.Role
    log_group: aws.cloudwatch.LogGroup
    function_name: pulumi.Output[str]
    arn: pulumi.Output[str]
    invoke_arn: pulumi.Output[str]
    role_arn: pulumi.Output[str]

    def __init__(self, name: str, args: PythonFunctionArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(component_type("PythonFunction"), name, None, with_legacy_alias("PythonFunction", opts))
        self.resource_name = name
        defaults = args.defaults
        tags = dict(defaults.tags)
        child = pulumi.ResourceOptions(parent=self)
        physical_name = defaults.naming.name(name)
        account_id = defaults.account_id
        if account_id is None:
            account_id = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self)).account_id

        self.log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=f"/aws/lambda/{physical_name}",
            retention_in_days=defaults.log_retention_days,
            tags=tags,
            opts=child,
        )
        self.role = aws.iam.Role(
            f"{name}-role",
            assume_role_policy=trust_policy(account_id),
            description=f"Execution role of {physical_name} only",
            tags=tags,
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
        statements = args.all_statements()
        if statements:
            policies.append(self.grant("policy", statements))

        archive = pulumi.AssetArchive({path: pulumi.FileAsset(str(source)) for path, source in args.archive().items()})
        environment = args.environment_variables()
        self.function = aws.lambda_.Function(
            f"{name}-function",
            name=physical_name,
            description=args.description or defaults.describe(args.handler),
            runtime=aws.lambda_.Runtime.PYTHON3D12,
            handler=f"{args.package}.{args.handler}.{args.entry}",
            code=archive,
            role=self.role.arn,
            architectures=[defaults.architecture],
            memory_size=args.memory,
            timeout=args.timeout,
            reserved_concurrent_executions=args.reserved_concurrency or defaults.reserved_concurrency,
            environment=aws.lambda_.FunctionEnvironmentArgs(variables=environment) if environment else None,
            logging_config=aws.lambda_.FunctionLoggingConfigArgs(log_format="Text", log_group=self.log_group.name),
            tracing_config=aws.lambda_.FunctionTracingConfigArgs(mode="Active" if defaults.tracing else "PassThrough"),
            tags=tags,
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
        statements or links in PythonFunctionArgs when they are known up front (the function then waits for them).
        """
        return aws.iam.RolePolicy(
            f"{self.resource_name}-{purpose}",
            role=self.role.id,
            policy=policy_document(statements),
            opts=pulumi.ResourceOptions(parent=self),
        )

"""The seam between the components of issue 13 and whatever PythonFunction looks like on main.

Components built in the issue-10 shape never see the app's Settings: they receive a `FunctionFactory` and
describe each function as a `FunctionSpec` (handler, links, extra statements). `settings_functions(settings)`
is the one adapter to today's `PythonFunctionArgs(settings=...)`; when PythonFunction takes links itself, only
this file changes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import pulumi

from components.function import PythonFunction, PythonFunctionArgs, Statement
from components.order_states import Link
from components.settings import Settings


@dataclass(frozen=True)
class FunctionSpec:
    handler: str
    links: Sequence[Link] = ()
    environment: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    statements: Sequence[Statement] = ()
    schemas: Sequence[str] = ()
    timeout_seconds: int | None = None
    reserved_concurrency: int | None = None
    description: str = ""

    def merged(self) -> tuple[dict[str, pulumi.Input[str]], list[Statement]]:
        """Environment and statements of the spec and its links; a variable set twice is refused."""
        environment: dict[str, Any] = dict(self.environment)
        statements = list(self.statements)
        for link in self.links:
            clash = set(environment) & set(link.env)
            if clash:
                raise ValueError(f"{self.handler}: environment variables {sorted(clash)} set by two links")
            environment |= dict(link.env)
            statements += list(link.statements)
        return environment, statements


class FunctionFactory(Protocol):
    def __call__(self, name: str, spec: FunctionSpec, opts: pulumi.ResourceOptions) -> PythonFunction: ...


def settings_functions(settings: Settings) -> FunctionFactory:
    """A factory that builds PythonFunctions with the stack's Lambda defaults (memory, timeout, tracing, logs)."""

    def make(name: str, spec: FunctionSpec, opts: pulumi.ResourceOptions) -> PythonFunction:
        environment, statements = spec.merged()
        return PythonFunction(
            name,
            PythonFunctionArgs(
                handler=spec.handler,
                settings=settings,
                environment=environment,
                statements=statements,
                schemas=tuple(spec.schemas),
                timeout_seconds=spec.timeout_seconds,
                reserved_concurrency=spec.reserved_concurrency,
                description=spec.description,
            ),
            opts=opts,
        )

    return make


def publish_versions(args: pulumi.ResourceTransformationArgs) -> pulumi.ResourceTransformationResult | None:
    """A transformation for a PythonFunction whose alias needs a published version (provisioned concurrency
    attaches to a version or alias, never to $LATEST): sets `publish` on its aws:lambda Function child."""
    if args.type_ == "aws:lambda/function:Function":
        return pulumi.ResourceTransformationResult({**args.props, "publish": True}, args.opts)
    return None


Transformation = Callable[[pulumi.ResourceTransformationArgs], pulumi.ResourceTransformationResult | None]

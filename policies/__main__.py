"""The CrossGuard pack. `pulumi preview --policy-pack policies` runs this file from policies/ in the pack's own
virtualenv; PolicyPack serves the analyzer over gRPC and blocks, so nothing may import this module (import
`guard.pack` to build the same policies, or to serve them with overrides of your own)."""

import sys
from pathlib import Path

# The CLI runs this file by path, not as part of the `policies` package: make `guard` importable either way.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from guard.pack import serve  # noqa: E402

# No overrides: the application's facts (its public routes) come from policies/config/<stack>.json.
serve()

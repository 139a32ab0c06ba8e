"""The CrossGuard pack. `pulumi preview --policy-pack policies` runs this file from policies/ in the pack's own
virtualenv; PolicyPack serves the analyzer over gRPC and blocks, so nothing may import this module."""

import sys
from pathlib import Path

# The CLI runs this file by path, not as part of the `policies` package: make `guard` importable either way.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from guard import RULES  # noqa: E402
from guard.crossguard import policies  # noqa: E402
from pulumi_policy import PolicyPack  # noqa: E402

PolicyPack(
    name="secure-serverless",
    description="Authorizers on every route and least-privilege IAM for the secure-serverless program.",
    policies=policies(RULES),
)

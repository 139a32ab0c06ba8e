"""Rules for the secure-serverless CrossGuard pack, importable as `policies.guard` (offline checker, tests)
and as `guard` (the pack, which the Pulumi CLI runs from inside policies/)."""

from .rules import RULES, RULES_BY_ID

__all__ = ["RULES", "RULES_BY_ID"]

"""Least privilege proven by execution: every flow works with exactly the generated policies; then each
statement of each function's role is removed in turn and the flows that use that function must fail.

A statement whose removal changes nothing is a finding. The matrix is written to the session's state
directory (least-privilege.md) and printed with `-s`.
"""

from __future__ import annotations

import json
import time

import pytest

from tests.local.flows import FLOWS

PATIENCE = 4.0


def _denied(local, function: str) -> int:
    stats = local.stats()
    return sum(v for k, v in stats.items() if k.startswith(f"{function}.") and k.endswith("_denied"))


def _eventually(predicate, seconds: float) -> bool:
    deadline = time.time() + seconds
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


@pytest.fixture(scope="module")
def baseline(local):
    """Which functions each flow runs (from the runtime's invocation counters), all flows passing."""
    used: dict[str, set[str]] = {}
    for name, flow in FLOWS.items():
        before = local.stats()
        outcome = flow(local, PATIENCE * 2)
        assert outcome is None, f"flow {name} fails with the generated policies: {outcome}"
        after = local.stats()
        used[name] = {k[: -len(".invocations")] for k, v in after.items()
                      if k.endswith(".invocations") and v > before.get(k, 0)}
    return used


def test_every_flow_passes_and_every_function_is_exercised(local, baseline) -> None:
    exercised = set().union(*baseline.values())
    assert exercised == set(local.endpoints["functions"]), set(local.endpoints["functions"]) - exercised


def test_each_statement_is_needed(local, baseline) -> None:
    iam = local.client("iam")
    rows = []
    for function, role in sorted(local.endpoints["roles"].items()):
        flows = [name for name, used in baseline.items() if function in used]
        for policy_name in iam.list_role_policies(RoleName=role)["PolicyNames"]:
            document = iam.get_role_policy(RoleName=role, PolicyName=policy_name)["PolicyDocument"]
            document = json.loads(document) if isinstance(document, str) else document
            statements = document["Statement"]
            for index, statement in enumerate(statements):
                label = statement.get("Sid") or ",".join(statement["Action"] if isinstance(statement["Action"], list)
                                                         else [statement["Action"]])
                rest = [s for i, s in enumerate(statements) if i != index]
                if rest:
                    iam.put_role_policy(RoleName=role, PolicyName=policy_name,
                                        PolicyDocument=json.dumps({**document, "Statement": rest}))
                else:
                    iam.delete_role_policy(RoleName=role, PolicyName=policy_name)
                try:
                    denied_before = _denied(local, function)
                    failures = {}
                    for name in flows:
                        outcome = FLOWS[name](local, PATIENCE)
                        if outcome:
                            failures[name] = outcome
                    # Logs ship right after the invocation's END line, a moment after the HTTP answer.
                    if _eventually(lambda: _denied(local, function) > denied_before, 1.5):
                        failures["side effects"] = "refused (logs / on-failure destination)"
                finally:
                    iam.put_role_policy(RoleName=role, PolicyName=policy_name, PolicyDocument=json.dumps(document))
                rows.append((function, label, failures))
    table = ["| function | statement | without it |", "| --- | --- | --- |"]
    for function, label, failures in rows:
        verdict = "; ".join(f"{k}: {v}" for k, v in failures.items()) if failures else "**nothing fails: UNNEEDED**"
        table.append(f"| {function} | {label} | {verdict} |")
    report = "\n".join(table)
    (local.log.parent / "least-privilege.md").write_text(report + "\n")
    print("\n" + report)
    unneeded = [(f, s) for f, s, failures in rows if not failures]
    assert not [u for u in unneeded if u not in KNOWN_UNEXERCISED], unneeded


# Statements no local flow can prove, each with the reason (the matrix still lists them).
KNOWN_UNEXERCISED: list[tuple[str, str]] = []

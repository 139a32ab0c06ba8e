"""Least privilege proven by execution: every flow works with exactly the generated policies; then each
statement of each function's role is removed in turn and the flows that use that function must fail.

A statement whose removal changes nothing is a finding. The matrix is written to the session's state
directory (least-privilege.md) and printed with `-s`.
"""

from __future__ import annotations

import json
import os
import time

import pytest

from tests.local.flows import FLOWS

PATIENCE = 4.0
SETTLE = 1.2


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
    """Which functions each flow runs (from the runtime's invocation counters), all flows passing; the
    flows come back cheapest first, so the matrix stops at the first (quickest) one that fails."""
    used: dict[str, set[str]] = {}
    took: dict[str, float] = {}
    for name, flow in FLOWS.items():
        before = local.stats()
        started = time.time()
        outcome = flow(local, PATIENCE * 2)
        took[name] = time.time() - started
        assert outcome is None, f"flow {name} fails with the generated policies: {outcome}"
        after = local.stats()
        used[name] = {k[: -len(".invocations")] for k, v in after.items()
                      if k.endswith(".invocations") and v > before.get(k, 0)}
    return {name: used[name] for name in sorted(used, key=took.get)}


def test_every_flow_passes_and_every_function_is_exercised(local, baseline) -> None:
    exercised = set().union(*baseline.values())
    principals = set(local.endpoints["functions"]) | set(local.endpoints.get("state_machines", {}))
    assert exercised == principals, principals - exercised


@pytest.mark.skipif(os.environ.get("LOCAL_LP_MATRIX", "1") == "0", reason="LOCAL_LP_MATRIX=0 (about 2-3 minutes)")
def test_each_statement_is_needed(local, baseline) -> None:
    iam = local.client("iam")
    rows = []
    # A state machine is one more principal: its task calls count as its invocations (runtime counters).
    machines = {name: m["role"] for name, m in local.endpoints.get("state_machines", {}).items()}
    for function, role in sorted({**local.endpoints["roles"], **machines}.items()):
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
                    # A poll already under way was authorised before the change: let it end (IAM is
                    # eventually consistent in AWS too).
                    time.sleep(SETTLE)
                    denied_before = _denied(local, function)
                    failures = {}
                    for name in flows:
                        outcome = FLOWS[name](local, PATIENCE)
                        # Logs ship right after the invocation's END line, a moment after the HTTP answer.
                        if _eventually(lambda f=function, b=denied_before: _denied(local, f) > b, 1.0):
                            failures["side effects"] = "refused (logs / on-failure destination)"
                        if outcome:
                            failures[name] = outcome
                        if failures:
                            break  # needed: proven by the cheapest failing flow
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
    findings = [(f, s) for f, s in unneeded if not any(f.endswith(kf) and s == ks for kf, ks in KNOWN_UNEXERCISED)]
    assert not findings, findings


# Statements no local flow can prove (function name suffix, Sid), each with the reason; the matrix still
# lists them as UNNEEDED.
KNOWN_UNEXERCISED: list[tuple[str, str]] = [
    # AWS documents kinesis:ListStreams among the permissions a Kinesis event source mapping needs, checked
    # when the mapping is created; the local poller never lists streams, so no flow here can show it.
    ("uploads-process", "ListStreams"),
    # The same for a DynamoDB stream mapping (dynamodb:ListStreams, on "*": it has no resource-level permission).
    ("profiles-welcome", "ListStreamsHasNoResourceLevel"),
]

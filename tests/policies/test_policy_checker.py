"""`python -m policies.check`: every input format, the pack config, human and JSON output, exit codes."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest

from offline.runtime import REPO_ROOT, stacks
from policies.check import main
from policies.guard import RULES_BY_ID
from policies.guard.model import UNKNOWN
from tests.policies.policy_builders import app_config, stack_export, with_props

GET_ORDERS = "api-get-orders"


# The reference app's facts (its public routes), as a stack keeps them in policies/config/<stack>.json.
APP_CONFIG_FILE = REPO_ROOT / "policies" / "config" / "dev.json"


def run(*argv: str) -> tuple[int, str]:
    """The checker; a file checked without --config gets the reference app's config (its public routes)."""
    if "--config" not in argv and not {"--stack", "--all-stacks"} & set(argv):
        argv = (*argv, "--config", str(APP_CONFIG_FILE))
    out = io.StringIO()
    return main(list(argv), out), out.getvalue()


@pytest.fixture
def broken_state(reference, tmp_path):
    """The reference app with one open route, one wide IAM resource, an unencrypted stream, and one
    policy still unknown."""
    graph = with_props(reference, GET_ORDERS, authorization="NONE", authorizerId=None)
    graph = with_props(graph, "worker-policy", policy=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*"}]}))
    graph = with_props(graph, "stream", encryptionType="NONE")
    graph = with_props(graph, "health-policy", policy=UNKNOWN)
    path = tmp_path / "state.json"
    path.write_text(json.dumps(stack_export(graph)))
    return path


def test_human_output_groups_violations_by_rule(broken_state):
    code, out = run("--stack-export", str(broken_state))
    assert code == 1
    authorizer = RULES_BY_ID["apigateway-method-requires-authorizer"]
    section = out.split("MANDATORY apigateway-method-requires-authorizer (1):")[1].split("\nMANDATORY")[0]
    assert authorizer.remediation in section
    assert f"SecureApi$aws:apigateway/method:Method::{GET_ORDERS}" in section
    assert "GET /orders has authorization NONE" in section
    assert "MANDATORY iam-no-wildcard-resources (1)" in out and "worker-policy" in out
    assert "ADVISORY kinesis-stream-encrypted (1)" in out
    unverifiable = out.split("UNVERIFIABLE")[1]
    assert "iam-no-wildcard-actions" in unverifiable and "health-policy" in unverifiable
    assert "FAIL (2 mandatory, 1 advisory, 3 unverifiable)" in out


def test_json_output(broken_state):
    code, out = run("--stack-export", str(broken_state), "--json")
    assert code == 1
    result = json.loads(out)
    (report,) = result["reports"]
    assert result["passed"] is False and report["passed"] is False
    assert report["counts"] == {"mandatory": 2, "advisory": 1, "unverifiable": 3}
    mandatory = {(f["rule"], f["urn"].rsplit("::", 1)[1]) for f in report["findings"]
                 if f["verified"] and f["enforcement"] == "mandatory"}
    assert mandatory == {("apigateway-method-requires-authorizer", GET_ORDERS), ("iam-no-wildcard-resources", "worker-policy")}
    assert report["components"]["app:components:SecureApi api"]["aws:apigateway/method:Method"] == 6


def test_config_file_changes_the_verdict(broken_state, tmp_path):
    relaxed = tmp_path / "relaxed.json"
    relaxed.write_text(json.dumps(app_config({"all": "advisory"})))
    code, out = run("--stack-export", str(broken_state), "--config", str(relaxed))
    assert code == 0 and "PASS (0 mandatory, 3 advisory, 3 unverifiable)" in out
    public = tmp_path / "public.json"
    public.write_text(json.dumps({"apigateway-method-requires-authorizer": {
        "publicRoutes": ["GET /health", "POST /register", "GET /orders"]}, "iam-no-wildcard-resources": "disabled"}))
    assert run("--stack-export", str(broken_state), "--config", str(public))[0] == 0


def test_preview_json(reference, tmp_path):
    open_route = with_props(reference, GET_ORDERS, authorization="NONE", authorizerId=None)
    resources = stack_export(open_route)["deployment"]["resources"]
    steps = [{"op": "create", "urn": r["urn"], "newState": r} for r in resources]
    path = tmp_path / "preview.json"
    path.write_text(json.dumps({"steps": steps, "changeSummary": {"create": len(steps)}}))
    code, out = run("--preview-json", str(path), "--json")
    assert code == 1
    (report,) = json.loads(out)["reports"]
    assert [(f["rule"], f["urn"].rsplit("::", 1)[1]) for f in report["findings"]] == [
        ("apigateway-method-requires-authorizer", GET_ORDERS)]


def test_a_compliant_state_passes(reference, tmp_path):
    path = tmp_path / "state.json"
    path.write_text(json.dumps(stack_export(reference)))
    code, out = run("--stack-export", str(path))
    assert code == 0 and "PASS (0 mandatory, 0 advisory, 0 unverifiable)" in out


def test_a_pack_only_policy_level_is_accepted_and_validated(broken_state, tmp_path):
    path = tmp_path / "recheck.json"
    path.write_text('{"resource-rules-recheck": "advisory"}')
    accepted = run("--stack-export", str(broken_state), "--config", str(path))[0]
    baseline = run("--stack-export", str(broken_state))[0]
    assert accepted == baseline != 2
    for bad in ('{"resource-rules-recheck": "sometimes"}', '{"resource-rules-recheck": {"factor": 2}}'):
        path.write_text(bad)
        assert run("--stack-export", str(broken_state), "--config", str(path))[0] == 2


@pytest.mark.parametrize("config", ['{"no-such-rule": "mandatory"}', "{not json"])
def test_bad_config_is_a_usage_error(broken_state, tmp_path, config, capsys):
    path = tmp_path / "bad.json"
    path.write_text(config)
    assert run("--stack-export", str(broken_state), "--config", str(path))[0] == 2
    assert "error:" in capsys.readouterr().err


def test_all_stacks_as_make_preview_runs_it():
    done = subprocess.run([sys.executable, "-m", "policies.check", "--all-stacks"], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    for stack in stacks():
        section = done.stdout.split(f"== stack {stack}:")[1].split("== stack")[0]
        assert "secure-serverless:components:SecureApi api" in section and "aws:apigateway/method:Method" in section
        assert f"verdict stack {stack}: PASS" in section


def test_the_command_keeps_its_exit_code_and_piped_output_when_it_skips_teardown(broken_state, tmp_path):
    """`python -m policies.check` leaves with os._exit after flushing: a failing verdict (1) and a usage error
    (2) still reach the caller, and everything written to a pipe arrives."""
    command = [sys.executable, "-m", "policies.check", "--stack-export", str(broken_state),
               "--config", str(APP_CONFIG_FILE), "--json"]
    failed = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert failed.returncode == 1, failed.stderr
    assert json.loads(failed.stdout)["passed"] is False  # the whole document: nothing lost in the pipe buffer
    bad_config = tmp_path / "bad.json"
    bad_config.write_text("{")
    usage = subprocess.run([*command[:5], "--config", str(bad_config)], cwd=REPO_ROOT, capture_output=True,
                           text=True, timeout=120, check=False)
    assert usage.returncode == 2 and usage.stderr.startswith("error: "), usage.stderr


def test_the_command_imports_with_the_collector_off():
    """Run as a command, the module turns the cyclic collector off before importing the pack, botocore and
    pulumi_aws (~0.1 s of collector passes over objects it keeps to the end). gc's own callbacks count the passes
    once the pack's package is being imported (compiling the module itself may run one or two); before: ~100."""
    probe = ("import gc, json, runpy, sys; passes = []; "
             "gc.callbacks.append(lambda phase, info: passes.append(info['generation']) "
             "if phase == 'start' and 'policies.guard' in sys.modules else None); "
             "sys.argv = ['policies.check', '--help']\n"
             "try: runpy.run_module('policies.check', run_name='__main__')\n"
             "except SystemExit: pass\n"
             "print(json.dumps({'passes': passes, 'imported': 'pulumi_policy' in sys.modules}))")
    done = subprocess.run([sys.executable, "-c", probe], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen == {"passes": [], "imported": True}


def test_ci_previews_every_stack_with_its_pack_config():
    import yaml

    workflow = yaml.safe_load((REPO_ROOT / ".github" / "workflows" / "preview.yml").read_text())
    previewed = set()
    for job in workflow["jobs"].values():
        for step in job["steps"]:
            if not step.get("uses", "").startswith("pulumi/actions@"):
                continue
            inputs = step["with"]
            stacks_of_job = job.get("strategy", {}).get("matrix", {}).get("stack") or [inputs["stack-name"]]
            assert inputs["command"] == "preview" and inputs["policyPacks"] == "policies"
            for stack in stacks_of_job:
                config = inputs["policyPackConfigs"].replace("${{ matrix.stack }}", stack)
                assert config == f"policies/config/{stack}.json" and (REPO_ROOT / config).exists()
                previewed.add(stack)
    assert previewed == set(stacks())
    assert workflow["jobs"]["preview-local"]["services"]["localstack"]["ports"] == ["4566:4566"]

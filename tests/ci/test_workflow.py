"""The preview workflow: current action majors, a pinned CLI matching the SDK, `make test`, OIDC per environment."""

from __future__ import annotations

from importlib.metadata import version

import yaml

from offline.runtime import REPO_ROOT

WORKFLOW = yaml.safe_load((REPO_ROOT / ".github" / "workflows" / "preview.yml").read_text())
# Current majors (checked 2026-11: checkout v7.0.1, setup-python v7.0.0, configure-aws-credentials v6.2.x,
# pulumi/actions v7.0.0); older majors run on the deprecated Node 20 runtime.
CURRENT_MAJORS = {"actions/checkout": "v7", "actions/setup-python": "v7",
                  "aws-actions/configure-aws-credentials": "v6", "pulumi/actions": "v7"}


def steps():
    for name, job in WORKFLOW["jobs"].items():
        for step in job["steps"]:
            yield name, job, step


def test_every_action_is_on_its_current_major() -> None:
    used = {}
    for _name, _job, step in steps():
        if "uses" in step:
            action, ref = step["uses"].split("@")
            used.setdefault(action, set()).add(ref)
    assert used == {action: {major} for action, major in CURRENT_MAJORS.items()}


def test_the_cli_is_pinned_to_the_sdk_release_the_tests_ran() -> None:
    assert WORKFLOW["env"]["PULUMI_VERSION"] == version("pulumi")
    pulumi_steps = [step for _n, _j, step in steps() if step.get("uses", "").startswith("pulumi/actions@")]
    assert pulumi_steps and all(s["with"]["pulumi-version"] == "${{ env.PULUMI_VERSION }}" for s in pulumi_steps)


def test_a_job_runs_make_test_with_a_pip_cache_on_the_projects_python() -> None:
    test_job = WORKFLOW["jobs"]["test"]
    assert any(step.get("run", "").startswith("make test") and step.get("env", {}).get("HYPOTHESIS_PROFILE") == "ci"
               for step in test_job["steps"])
    for _name, _job, step in steps():
        if step.get("uses", "").startswith("actions/setup-python@"):
            assert step["with"]["cache"] == "pip" and "requirements.txt" in step["with"]["cache-dependency-path"]
            assert step["with"]["python-version"] == "${{ env.PYTHON_VERSION }}"
    assert WORKFLOW["env"]["PYTHON_VERSION"] == "3.11"  # pyproject.toml requires-python >= 3.11
    assert WORKFLOW["jobs"]["preview"]["needs"] == ["test", "offline-policy-check"]


def test_cloud_previews_assume_the_environment_role_through_oidc_only() -> None:
    assert WORKFLOW["permissions"] == {"contents": "read"}  # id-token only where a role is assumed
    preview = WORKFLOW["jobs"]["preview"]
    assert preview["permissions"]["id-token"] == "write"
    assert preview["environment"] == "${{ matrix.stack }}"
    (credentials,) = [s for s in preview["steps"] if s.get("uses", "").startswith("aws-actions/")]
    assert credentials["with"]["role-to-assume"] == "${{ vars.AWS_PREVIEW_ROLE_ARN }}"
    assert not {"aws-access-key-id", "aws-secret-access-key"} & set(credentials["with"])
    # ci/oidc trusts exactly the environments this job previews.
    ci_project = yaml.safe_load((REPO_ROOT / "ci" / "oidc" / "Pulumi.yaml").read_text())
    assert ci_project["config"]["environments"]["default"] == preview["strategy"]["matrix"]["stack"]


def test_the_localstack_job_runs_only_with_a_licensed_token() -> None:
    job = WORKFLOW["jobs"]["preview-local"]
    assert job["if"] == "vars.LOCALSTACK_PREVIEW == 'true'"
    assert job["services"]["localstack"]["env"]["LOCALSTACK_AUTH_TOKEN"] == "${{ secrets.LOCALSTACK_AUTH_TOKEN }}"

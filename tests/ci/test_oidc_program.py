"""ci/oidc: the GitHub Actions → AWS trust, evaluated under the CLI's config rules and the provider-faithful mocks."""

from __future__ import annotations

import json
import runpy

import pytest

from offline.cli_config import StackConfigError
from offline.runtime import REPO_ROOT, ProgramRun, run_program, stack_config, stacks
from tests.conftest import RecordingMocks

CI_ROOT = REPO_ROOT / "ci" / "oidc"
REPO = "acme/secure-serverless"


def run_ci(overrides: dict | None = None) -> ProgramRun:
    project, config = stack_config("github", CI_ROOT, overrides)
    return run_program(lambda: runpy.run_path(str(CI_ROOT / "__main__.py"), run_name="__pulumi_program__"),
                       project=project, stack="github", config=config, mocks=RecordingMocks())


def trust(role) -> dict:
    return json.loads(role.inputs["assumeRolePolicy"])


def test_the_cli_refuses_the_stack_until_the_repository_is_set() -> None:
    with pytest.raises(StackConfigError, match="Stack 'github' is missing configuration value 'githubRepository'"):
        stack_config("github", CI_ROOT)


def test_each_environment_gets_a_role_only_its_jobs_of_this_repository_can_assume() -> None:
    run = run_ci({"githubRepository": REPO})
    (provider,) = run.of_type("aws:iam/openIdConnectProvider:OpenIdConnectProvider")
    assert provider.inputs["url"] == "https://token.actions.githubusercontent.com"
    assert provider.inputs["clientIdLists"] == ["sts.amazonaws.com"]
    roles = {r.name: r for r in run.of_type("aws:iam/role:Role")}
    assert set(roles) == {"preview-dev", "preview-prod"}
    for env, role in (("dev", roles["preview-dev"]), ("prod", roles["preview-prod"])):
        (statement,) = trust(role)["Statement"]
        assert statement["Principal"] == {"Federated": provider.outputs["arn"]}
        assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
        # Exact match only: no StringLike wildcard that another branch, event or repository could satisfy.
        assert statement["Condition"] == {"StringEquals": {
            "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
            "token.actions.githubusercontent.com:sub": f"repo:{REPO}:environment:{env}",
        }}
    # A preview changes nothing: the roles hold no permission policy at all.
    assert not [r for r in run.resources if r.type.startswith("aws:iam/") and "olicy" in r.type]
    assert set(run.stack_outputs["preview_role_arns"]) == {"dev", "prod"}


def test_an_existing_account_provider_is_reused_not_created() -> None:
    arn = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"
    run = run_ci({"githubRepository": REPO, "existingProviderArn": arn, "environments": ["dev"]})
    assert not run.of_type("aws:iam/openIdConnectProvider:OpenIdConnectProvider")
    (role,) = run.of_type("aws:iam/role:Role")
    assert trust(role)["Statement"][0]["Principal"] == {"Federated": arn}
    assert run.stack_outputs["oidc_provider_arn"] == arn


@pytest.mark.parametrize("overrides", [
    {"githubRepository": "secure-serverless"},
    {"githubRepository": REPO, "environments": []},
    {"githubRepository": REPO, "environments": ["dev", "dev"]},
    {"githubRepository": REPO, "environments": ["dev/*"]},
    {"githubRepository": REPO, "existingProviderArn": "arn:aws:iam::123456789012:oidc-provider/gitlab.com"},
])
def test_a_trust_that_would_be_unusable_or_too_wide_stops_before_any_resource(overrides) -> None:
    mocks = RecordingMocks()
    project, config = stack_config("github", CI_ROOT, overrides)
    with pytest.raises(Exception, match="stack 'github'"):
        run_program(lambda: runpy.run_path(str(CI_ROOT / "__main__.py"), run_name="__pulumi_program__"),
                    project=project, stack="github", config=config, mocks=mocks)
    assert mocks.registrations == []


def test_the_ci_project_is_not_a_stack_of_the_main_program() -> None:
    assert "github" not in stacks()
    assert (CI_ROOT / "Pulumi.yaml").exists() and (REPO_ROOT / "Pulumi.yaml").exists()

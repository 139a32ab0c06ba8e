"""GitHub Actions → AWS trust for `.github/workflows/preview.yml`, as code.

For each GitHub environment (dev, prod) one IAM role that only a job of that repository running in that
environment can assume: the trust pins the OIDC audience to STS and the subject to
`repo:<owner>/<name>:environment:<env>` exactly (a job that declares `environment:` gets that subject whatever
the branch or event, so pull requests from forks, which get no id-token, and other repositories cannot use it).

The roles carry no permission policy: `pulumi preview` (without --refresh) only needs the provider's
sts:GetCallerIdentity, which IAM never denies, and reads nothing else; everything else it computes locally. A role
that can change nothing is the least privilege a preview needs. Output `preview_role_arns` → GitHub environment
variable `AWS_PREVIEW_ROLE_ARN`.
"""

import json
import re

import pulumi
import pulumi_aws as aws

GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"
STS_AUDIENCE = "sts.amazonaws.com"
# GitHub owner and repository names: letters, digits, '-', '_' and '.'.
_REPOSITORY = re.compile(r"[A-Za-z0-9-]+/[A-Za-z0-9._-]+")
# GitHub environment names become part of the role's logical name, so they must stay valid in one.
_ENVIRONMENT = re.compile(r"[A-Za-z0-9_-]{1,40}")


class CiConfigError(Exception):
    """A config value of the CI trust stack that would make an unusable or too-wide trust."""


def trust_policy(provider_arn: str, repository: str, environment: str) -> str:
    return json.dumps({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Federated": provider_arn},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {"StringEquals": {
                f"{GITHUB_OIDC_HOST}:aud": STS_AUDIENCE,
                f"{GITHUB_OIDC_HOST}:sub": f"repo:{repository}:environment:{environment}",
            }},
        }],
    })


def main() -> None:
    config = pulumi.Config()
    repository = config.require("githubRepository")
    environments = config.get_object("environments") or []
    existing = config.get("existingProviderArn") or ""
    problems = []
    if not _REPOSITORY.fullmatch(repository):
        problems.append(f"githubRepository = {repository!r}: expected <owner>/<name>")
    if not environments or len(set(environments)) != len(environments):
        problems.append(f"environments = {environments!r}: expected a non-empty list without duplicates")
    problems += [f"environments: {env!r} is not a usable environment name" for env in environments
                 if not isinstance(env, str) or not _ENVIRONMENT.fullmatch(env)]
    if existing and not re.fullmatch(rf"arn:aws[\w-]*:iam::\d{{12}}:oidc-provider/{re.escape(GITHUB_OIDC_HOST)}", existing):
        problems.append(f"existingProviderArn = {existing!r}: not an IAM OIDC provider ARN for {GITHUB_OIDC_HOST}")
    if problems:
        raise CiConfigError(f"stack {pulumi.get_stack()!r}: " + "; ".join(problems))

    if existing:
        provider_arn: pulumi.Input[str] = existing
    else:
        # AWS verifies GitHub's certificate against its own trusted CAs: no thumbprint to pin or rotate.
        provider_arn = aws.iam.OpenIdConnectProvider(
            "github", url=f"https://{GITHUB_OIDC_HOST}", client_id_lists=[STS_AUDIENCE]).arn

    roles = {}
    for env in environments:
        roles[env] = aws.iam.Role(
            f"preview-{env}",
            description=f"pulumi preview of stack {env} from {repository} (GitHub environment {env}); no permissions",
            assume_role_policy=pulumi.Output.from_input(provider_arn).apply(
                lambda arn, env=env: trust_policy(arn, repository, env)),
            max_session_duration=3600,
        )
    pulumi.export("oidc_provider_arn", provider_arn)
    pulumi.export("preview_role_arns", {env: role.arn for env, role in roles.items()})


main()

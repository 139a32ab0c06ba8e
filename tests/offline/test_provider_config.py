"""Every stack file's `aws:` keys exist in pulumi-aws v7's provider configuration schema.

The CLI passes unknown `aws:` keys to the provider, which ignores or rejects them only at `pulumi up` time; the
schema shipped in the installed SDK (pulumi_aws/config) is the offline source of truth for what v7 accepts.
"""

from __future__ import annotations

import inspect
import re

import pulumi_aws.config.outputs as provider_config_types
import pulumi_aws.config.vars as provider_config_vars
import pytest
import yaml

from offline.runtime import REPO_ROOT, stacks

PROVIDER_KEYS = set(re.findall(r"__config__\.get\w*\('(\w+)'\)", inspect.getsource(provider_config_vars)))
ENDPOINT_KEYS = {
    name.rstrip("_") for name in inspect.signature(provider_config_types.Endpoints.__init__).parameters if name != "__self__"
}


def _aws_config(stack: str) -> dict:
    config = (yaml.safe_load((REPO_ROOT / f"Pulumi.{stack}.yaml").read_text()) or {}).get("config") or {}
    return {key.split(":", 1)[1]: value for key, value in config.items() if key.startswith("aws:")}


def test_the_schema_was_read() -> None:
    # Guards the two readers above against an SDK layout change that would make every check below vacuous.
    assert {"region", "endpoints", "s3UsePathStyle", "skipCredentialsValidation"} <= PROVIDER_KEYS
    assert {"apigateway", "cognitoidp", "logs", "lambda", "sts"} <= ENDPOINT_KEYS


@pytest.mark.parametrize("stack", stacks())
def test_every_provider_key_is_in_the_v7_schema(stack: str) -> None:
    config = _aws_config(stack)
    assert set(config) <= PROVIDER_KEYS, set(config) - PROVIDER_KEYS
    for entry in config.get("endpoints") or []:
        assert set(entry) <= ENDPOINT_KEYS, set(entry) - ENDPOINT_KEYS


@pytest.mark.parametrize("stack", stacks())
def test_no_stack_skips_the_account_id_lookup(stack: str) -> None:
    # With skipRequestingAccountId the provider builds ARNs with an empty account ("arn:aws:iam:::role/...");
    # LocalStack answers STS GetCallerIdentity, so the local stack does not need it either.
    assert "skipRequestingAccountId" not in _aws_config(stack)

"""UserPool alone, from explicit Args: the pool, its groups and client; its admin link; the per-child escape hatch."""

from __future__ import annotations

import pulumi
import pytest

from components.function import FunctionDefaults, PythonFunction, PythonFunctionArgs
from components.naming import Naming
from components.user_pool import ADMIN_ACTIONS, UserPool, UserPoolArgs
from tests.graph import actions_by_resource, role_statements

NAMING = Naming("shop-test")


def test_pool_groups_and_client_follow_the_args(run_pulumi) -> None:
    def program():
        UserPool("users", UserPoolArgs(naming=NAMING, password_min_length=14, mfa_mode="OPTIONAL", groups=("staff", "ops"),
                                       deletion_protection=True, protect=True, label="shop"))

    run = run_pulumi(program)
    pool = run.named("users-users")
    assert pool.inputs["name"] == "shop-test-users"
    assert pool.inputs["passwordPolicy"]["minimumLength"] == 14
    assert pool.inputs["mfaConfiguration"] == "OPTIONAL" and pool.inputs["deletionProtection"] == "ACTIVE"
    assert pool.protect and pool.retain_on_delete
    assert sorted(g.inputs["name"] for g in run.of_type("aws:cognito/userGroup:UserGroup")) == ["ops", "staff"]
    assert run.named("users-client").inputs["explicitAuthFlows"] == ["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]


def test_admin_link_is_the_pool_id_with_exactly_the_admin_actions(run_pulumi) -> None:
    def program():
        users = UserPool("users", UserPoolArgs(naming=NAMING))
        PythonFunction("signup", PythonFunctionArgs(handler="hello", links=[users.admin_link()],
                                                    defaults=FunctionDefaults(naming=NAMING, account_id="1")))

    run = run_pulumi(program)
    pool = run.named("users-users")
    assert run.named("signup-function").inputs["environment"]["variables"] == {"USER_POOL_ID": pool.id}
    assert actions_by_resource(role_statements(run, "signup"))[pool.outputs["arn"]] == set(ADMIN_ACTIONS)


def test_any_child_can_be_adjusted_with_a_transformation(run_pulumi) -> None:
    """The escape hatch every component has: Pulumi's `transformations` option sees each child's args."""

    def shorter_refresh_tokens(args: pulumi.ResourceTransformationArgs):
        if args.type_ == "aws:cognito/userPoolClient:UserPoolClient":
            return pulumi.ResourceTransformationResult({**args.props, "refresh_token_validity": 1}, args.opts)
        return None

    def program():
        UserPool("users", UserPoolArgs(naming=NAMING), opts=pulumi.ResourceOptions(transformations=[shorter_refresh_tokens]))

    run = run_pulumi(program)
    assert run.named("users-client").inputs["refreshTokenValidity"] == 1
    assert run.named("users-users").inputs["name"] == "shop-test-users"


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"password_min_length": 5}, "password_min_length"), ({"mfa_mode": "SMS"}, "mfa_mode"),
    ({"auth_flows": ("ALLOW_USER_SRP_AUTH",)}, "REFRESH"), ({"groups": ("no spaces",)}, "groups"),
    ({"access_token_minutes": 2}, "access_token_minutes"),
])
def test_args_outside_cognito_limits_are_refused(kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        UserPoolArgs(naming=NAMING, **kwargs)

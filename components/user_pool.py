"""UserPool: the Cognito user pool, its groups and the app client. SecureApi's authorizer consumes its ARN
(or any pool ARNs); functions that manage users take `admin_link()`.

Sign-up is admin-only (POST /register validates and rate-limits it); usernames are case-insensitive emails;
recovery by verified email only; deletion protection and `protect` are separate switches.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from .limits import AUTH_FLOWS, COGNITO_GROUP, MFA_MODES, check_range, check_tags
from .link import Link, Statement
from .naming import Naming
from .tokens import component_type

ADMIN_ACTIONS = ("cognito-idp:AdminCreateUser", "cognito-idp:AdminSetUserPassword", "cognito-idp:AdminDeleteUser")


@dataclass(frozen=True)
class UserPoolArgs:
    naming: Naming
    password_min_length: int = 8
    password_require_lowercase: bool = True
    password_require_uppercase: bool = True
    password_require_numbers: bool = True
    password_require_symbols: bool = True
    temporary_password_validity_days: int = 7
    mfa_mode: str = "OFF"
    auth_flows: Sequence[str] = ("ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH")
    access_token_minutes: int = 60
    id_token_minutes: int = 60
    refresh_token_days: int = 30
    groups: Sequence[str] = ("admins",)
    deletion_protection: bool = False
    protect: bool = False
    tags: Mapping[str, str] = field(default_factory=dict)
    label: str = ""  # in group descriptions, e.g. the stack name

    def __post_init__(self) -> None:
        check_range("password_min_length", self.password_min_length, 6, 99)
        check_range("temporary_password_validity_days", self.temporary_password_validity_days, 1, 365)
        check_range("access_token_minutes", self.access_token_minutes, 5, 1440)
        check_range("id_token_minutes", self.id_token_minutes, 5, 1440)
        check_range("refresh_token_days", self.refresh_token_days, 1, 3650)
        if self.mfa_mode not in MFA_MODES:
            raise ValueError(f"mfa_mode must be one of {MFA_MODES}, got {self.mfa_mode!r}")
        unknown = sorted(set(self.auth_flows) - set(AUTH_FLOWS))
        if unknown:
            raise ValueError(f"auth_flows: unknown flows {unknown}")
        if "ALLOW_REFRESH_TOKEN_AUTH" not in self.auth_flows:
            raise ValueError("auth_flows: ALLOW_REFRESH_TOKEN_AUTH is required by Cognito")
        bad = [g for g in self.groups if not COGNITO_GROUP.match(g)]
        if bad:
            raise ValueError(f"groups {bad}: names are 1-128 word characters or +=,.@-")
        check_tags(self.tags)


class UserPool(pulumi.ComponentResource):
    user_pool: aws.cognito.UserPool
    client: aws.cognito.UserPoolClient
    user_pool_id: pulumi.Output[str]
    arn: pulumi.Output[str]
    client_id: pulumi.Output[str]

    def __init__(self, name: str, args: UserPoolArgs, opts: pulumi.ResourceOptions | None = None, *,
                 moved_from: pulumi.Input[str] | None = None):
        """`moved_from`: URN of the component that created these children before (they keep their URNs)."""
        super().__init__(component_type("UserPool"), name, None, opts)  # new since the namespace: no legacy alias
        tags = dict(args.tags)

        def child(**options) -> pulumi.ResourceOptions:
            aliases = [pulumi.Alias(parent=moved_from)] if moved_from is not None else None
            return pulumi.ResourceOptions(parent=self, aliases=aliases, **options)

        self.user_pool = aws.cognito.UserPool(
            f"{name}-users",
            name=args.naming.name("users", 128),
            username_attributes=["email"],
            auto_verified_attributes=["email"],
            username_configuration=aws.cognito.UserPoolUsernameConfigurationArgs(case_sensitive=False),
            # Sign-up goes through POST /register (validated, rate-limited); the public SignUp API is closed.
            admin_create_user_config=aws.cognito.UserPoolAdminCreateUserConfigArgs(allow_admin_create_user_only=True),
            password_policy=aws.cognito.UserPoolPasswordPolicyArgs(
                minimum_length=args.password_min_length,
                require_lowercase=args.password_require_lowercase,
                require_uppercase=args.password_require_uppercase,
                require_numbers=args.password_require_numbers,
                require_symbols=args.password_require_symbols,
                temporary_password_validity_days=args.temporary_password_validity_days,
            ),
            account_recovery_setting=aws.cognito.UserPoolAccountRecoverySettingArgs(
                recovery_mechanisms=[
                    aws.cognito.UserPoolAccountRecoverySettingRecoveryMechanismArgs(name="verified_email", priority=1)
                ]
            ),
            mfa_configuration=args.mfa_mode,
            software_token_mfa_configuration=(
                aws.cognito.UserPoolSoftwareTokenMfaConfigurationArgs(enabled=True) if args.mfa_mode != "OFF" else None
            ),
            deletion_protection="ACTIVE" if args.deletion_protection else "INACTIVE",
            tags=tags,
            opts=child(protect=args.protect, retain_on_delete=args.protect),
        )
        self.groups = [
            aws.cognito.UserGroup(
                f"{name}-group-{group}",
                user_pool_id=self.user_pool.id,
                name=group,
                description=f"{group} of {args.label}; appears in the cognito:groups claim",
                opts=child(),
            )
            for group in args.groups
        ]
        self.client = aws.cognito.UserPoolClient(
            f"{name}-client",
            name=args.naming.name("client", 128),
            user_pool_id=self.user_pool.id,
            generate_secret=False,
            explicit_auth_flows=list(dict.fromkeys(args.auth_flows)),
            prevent_user_existence_errors="ENABLED",
            enable_token_revocation=True,
            supported_identity_providers=["COGNITO"],
            access_token_validity=args.access_token_minutes,
            id_token_validity=args.id_token_minutes,
            refresh_token_validity=args.refresh_token_days,
            token_validity_units=aws.cognito.UserPoolClientTokenValidityUnitsArgs(
                access_token="minutes", id_token="minutes", refresh_token="days"
            ),
            opts=child(),
        )

        self.user_pool_id = self.user_pool.id
        self.arn = self.user_pool.arn
        self.client_id = self.client.id
        self.register_outputs({"user_pool_id": self.user_pool_id, "arn": self.arn, "client_id": self.client_id})

    def admin_link(self, *, env: str = "USER_POOL_ID", sid: str = "RegisterUsers",
                   actions: Sequence[str] = ADMIN_ACTIONS) -> Link:
        """The pool id in `env` + the admin actions a sign-up function needs, on this pool only."""
        return Link(env={env: self.user_pool_id}, statements=[Statement(actions=list(actions), resources=[self.arn], sid=sid)])

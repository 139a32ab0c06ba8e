"""HostedUi: sign-in for a user pool through the Cognito Hosted UI, with our own OAuth scopes.

One user pool domain per stack (a prefix domain, or a custom domain with an ACM certificate in us-east-1),
a resource server whose custom scopes routes may require (`<identifier>/orders.read` in the access token),
and public app clients for the authorization-code flow with PKCE (no secret, so nothing to leak from a page).

The clients are created by `app_client(...)`, after the sites they return to exist (a docs site's URL is
its CloudFront domain, known only once the distribution is declared).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import pulumi
import pulumi_aws as aws

from .tokens import component_type

STANDARD_SCOPES = ("openid", "email", "profile")
DEFAULT_SCOPES = {
    "orders.read": "Read your orders",
    "orders.write": "Place orders",
    "uploads.write": "Upload files",
}
# Cognito: lowercase letters, digits and hyphens, not starting or ending with a hyphen, 1..63 characters,
# and the reserved words aws, amazon and cognito are refused.
_PREFIX = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_RESERVED = ("aws", "amazon", "cognito")
# A custom scope name (CreateResourceServer ScopeName): printable ASCII without spaces, quotes, '/' or '\\'.
_SCOPE_NAME = re.compile(r"^[\x21\x23-\x2E\x30-\x5B\x5D-\x7E]{1,256}$")
_IDENTIFIER = re.compile(r"^[\x21\x23-\x5B\x5D-\x7E]{1,256}$")
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


def check_redirect_url(url: str) -> None:
    """Cognito accepts https callback/sign-out URLs, and plain http only for localhost."""
    if not (url.startswith("https://") or re.match(r"^http://localhost(:\d{1,5})?(/|$)", url)):
        raise ValueError(f"redirect URL {url!r} must be https (http only for localhost)")
    if "#" in url:
        raise ValueError(f"redirect URL {url!r} must not contain a fragment")


@dataclass(frozen=True)
class HostedUiArgs:
    # Identifier of the resource server: the prefix of every custom scope (`<identifier>/orders.read`).
    resource_server_identifier: str
    # The pool to sign in to (e.g. `UserPool.user_pool_id`); set with `with_user_pool(...)` when it is an Output.
    user_pool_id: pulumi.Input[str] | None = None
    domain_prefix: str | None = None
    custom_domain: str | None = None
    certificate_arn: str | None = None
    region: str = "us-east-1"
    scopes: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_SCOPES))
    access_token_minutes: int = 60
    id_token_minutes: int = 60
    refresh_token_days: int = 30
    # Escape hatch: extra or replaced inputs of every app client (e.g. {"auth_session_validity": 5}).
    client_args: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if (self.domain_prefix is None) == (self.custom_domain is None):
            raise ValueError("set exactly one of domain_prefix and custom_domain")
        if self.domain_prefix is not None:
            if not _PREFIX.match(self.domain_prefix) or any(w in self.domain_prefix for w in _RESERVED):
                raise ValueError(
                    f"domain_prefix {self.domain_prefix!r}: lowercase letters, digits and hyphens (1..63), "
                    "without 'aws', 'amazon' or 'cognito'"
                )
            if self.certificate_arn is not None:
                raise ValueError("certificate_arn is only used with custom_domain")
        else:
            if not _DOMAIN.match(self.custom_domain or ""):
                raise ValueError(f"custom_domain {self.custom_domain!r} is not a domain name")
            # The Hosted UI's custom domain is served by CloudFront: its certificate must be in us-east-1.
            if not (self.certificate_arn or "").startswith("arn:aws:acm:us-east-1:"):
                raise ValueError("a custom Hosted UI domain needs an ACM certificate_arn in us-east-1")
        if not _IDENTIFIER.match(self.resource_server_identifier):
            raise ValueError("resource_server_identifier: 1..256 printable characters, no spaces, quotes or '\\'")
        if not self.scopes or len(self.scopes) > 100:
            raise ValueError("a resource server has 1..100 scopes")
        for name, description in self.scopes.items():
            if not _SCOPE_NAME.match(name) or name in STANDARD_SCOPES:
                raise ValueError(f"scope name {name!r} is not a valid custom scope")
            if not 1 <= len(description) <= 256:
                raise ValueError(f"scope {name!r}: description must be 1..256 characters")
        if not 5 <= self.access_token_minutes <= 1440 or not 5 <= self.id_token_minutes <= 1440:
            raise ValueError("access and ID tokens are valid 5 minutes .. 1 day")
        if not 1 <= self.refresh_token_days <= 3650:
            raise ValueError("refresh tokens are valid 1 .. 3650 days")

    def with_user_pool(self, user_pool_id: pulumi.Input[str]) -> HostedUiArgs:
        return replace(self, user_pool_id=user_pool_id)

    @property
    def base_url(self) -> str:
        if self.custom_domain:
            return f"https://{self.custom_domain}"
        return f"https://{self.domain_prefix}.auth.{self.region}.amazoncognito.com"

    def scope(self, name: str) -> str:
        """The full scope name as it appears in access tokens and in a Method's authorizationScopes."""
        if name not in self.scopes:
            raise ValueError(f"unknown scope {name!r}; the resource server has {', '.join(sorted(self.scopes))}")
        return f"{self.resource_server_identifier}/{name}"


class HostedUi(pulumi.ComponentResource):
    domain: aws.cognito.UserPoolDomain
    resource_server: aws.cognito.ResourceServer
    base_url: str
    authorize_url: str
    token_url: str

    def __init__(self, name: str, args: HostedUiArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(component_type("HostedUi"), name, None, opts)
        if args.user_pool_id is None:
            raise ValueError(f"HostedUi {name!r}: give the user pool with HostedUiArgs.with_user_pool(id)")
        self._name = name
        self._args = args
        child = pulumi.ResourceOptions(parent=self)

        self.domain = aws.cognito.UserPoolDomain(
            f"{name}-domain",
            user_pool_id=args.user_pool_id,
            domain=args.custom_domain or args.domain_prefix,
            certificate_arn=args.certificate_arn,
            opts=child,
        )
        self.resource_server = aws.cognito.ResourceServer(
            f"{name}-resource-server",
            user_pool_id=args.user_pool_id,
            identifier=args.resource_server_identifier,
            name=f"{name} API",
            scopes=[
                aws.cognito.ResourceServerScopeArgs(scope_name=scope, scope_description=description)
                for scope, description in args.scopes.items()
            ],
            opts=child,
        )
        # Static strings: known before deployment, so routes and the docs can use them without Outputs.
        self.base_url = args.base_url
        self.authorize_url = f"{args.base_url}/oauth2/authorize"
        self.token_url = f"{args.base_url}/oauth2/token"
        self.scopes = {args.scope(s): d for s, d in args.scopes.items()}
        self.register_outputs(
            {"base_url": self.base_url, "domain": self.domain.domain, "scopes": list(self.scopes)}
        )

    def scope(self, name: str) -> str:
        return self._args.scope(name)

    def app_client(
        self,
        role: str,
        *,
        callback_urls: pulumi.Input[Sequence[pulumi.Input[str]]],
        logout_urls: pulumi.Input[Sequence[pulumi.Input[str]]],
        static_urls: Sequence[str] = (),
    ) -> aws.cognito.UserPoolClient:
        """A public client (no secret) for the authorization-code flow; the page uses PKCE (S256).

        `static_urls` are the URLs among callback/logout that are plain strings, checked here against
        Cognito's rules (URLs that are Outputs, like a distribution's, are https by construction).
        """
        for url in static_urls:
            check_redirect_url(url)
        args = self._args
        return aws.cognito.UserPoolClient(
            f"{self._name}-{role}-client",
            **{
                "user_pool_id": args.user_pool_id,
                "generate_secret": False,
                "allowed_oauth_flows_user_pool_client": True,
                # Only the code flow: the implicit flow would put tokens in URLs (history, logs, Referer).
                "allowed_oauth_flows": ["code"],
                "allowed_oauth_scopes": [*STANDARD_SCOPES, *self.scopes],
                "callback_urls": callback_urls,
                "logout_urls": logout_urls,
                "supported_identity_providers": ["COGNITO"],
                # Hosted UI sign-in needs no API auth flow; refresh keeps the session without a new sign-in.
                "explicit_auth_flows": ["ALLOW_REFRESH_TOKEN_AUTH"],
                "prevent_user_existence_errors": "ENABLED",
                "enable_token_revocation": True,
                "access_token_validity": args.access_token_minutes,
                "id_token_validity": args.id_token_minutes,
                "refresh_token_validity": args.refresh_token_days,
                "token_validity_units": aws.cognito.UserPoolClientTokenValidityUnitsArgs(
                    access_token="minutes", id_token="minutes", refresh_token="days"
                ),
                **args.client_args,
            },
            # Cognito refuses a client naming scopes that its resource server does not have yet.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.resource_server, self.domain]),
        )

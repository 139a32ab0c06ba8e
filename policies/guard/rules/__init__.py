"""The rule list: the CrossGuard pack and the offline checker both load exactly this tuple."""

from .authorizers import (
    cognito_authorizer_bound,
    lambda_permission_scoped,
    method_requires_authorizer,
    route_requires_authorizer,
)
from .hygiene import (
    bucket_enforces_tls,
    bucket_public_access_blocked,
    kinesis_failure_handling,
    log_group_retention,
    password_policy,
    queue_encrypted,
    queue_has_dlq,
    stage_access_logging,
    stage_throttling,
    stream_encrypted,
    visibility_covers_function,
)
from .iam_scoping import (
    aws_managed_policy_review,
    no_privilege_escalation,
    no_privileged_managed_policies,
    no_wildcard_actions,
    no_wildcard_resources,
    resource_policy_no_public_allow,
    trust_scoped,
)

RULES = (
    method_requires_authorizer,
    cognito_authorizer_bound,
    route_requires_authorizer,
    lambda_permission_scoped,
    no_wildcard_actions,
    no_wildcard_resources,
    no_privileged_managed_policies,
    aws_managed_policy_review,
    trust_scoped,
    no_privilege_escalation,
    resource_policy_no_public_allow,
    queue_has_dlq,
    queue_encrypted,
    visibility_covers_function,
    stream_encrypted,
    kinesis_failure_handling,
    bucket_public_access_blocked,
    bucket_enforces_tls,
    log_group_retention,
    stage_access_logging,
    stage_throttling,
    password_policy,
)
RULES_BY_ID = {r.id: r for r in RULES}

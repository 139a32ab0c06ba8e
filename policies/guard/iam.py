"""IAM policy documents as rules read them, and what policy_sentry's IAM database says about actions."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from functools import cache, lru_cache
from importlib.resources import files
from typing import Any

from policy_sentry.querying.actions import get_actions_for_service, get_actions_that_support_wildcard_arns_only
from policy_sentry.querying.all import get_all_actions, get_all_service_prefixes

from .arns import has_wildcard
from .model import UNKNOWN, Resource, Unverifiable, walk

ROLE = "aws:iam/role:Role"
USER = "aws:iam/user:User"
GROUP = "aws:iam/group:Group"
MANAGED_POLICY = "aws:iam/policy:Policy"
INLINE_POLICIES = {
    ROLE: "aws:iam/rolePolicy:RolePolicy",
    USER: "aws:iam/userPolicy:UserPolicy",
    GROUP: "aws:iam/groupPolicy:GroupPolicy",
}
ATTACHMENTS = {
    ROLE: "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
    USER: "aws:iam/userPolicyAttachment:UserPolicyAttachment",
    GROUP: "aws:iam/groupPolicyAttachment:GroupPolicyAttachment",
}
POLICY_ATTACHMENT = "aws:iam/policyAttachment:PolicyAttachment"
# The property of an inline policy or attachment that names its principal.
PRINCIPAL_PROPERTY = {ROLE: "role", USER: "user", GROUP: "group"}

IDENTITY_POLICY_TYPES = frozenset({*INLINE_POLICIES.values(), MANAGED_POLICY, ROLE})
RESOURCE_POLICY_TYPES = frozenset(
    {
        "aws:s3/bucketPolicy:BucketPolicy",
        "aws:sqs/queuePolicy:QueuePolicy",
        "aws:sqs/queue:Queue",
        "aws:sns/topicPolicy:TopicPolicy",
        "aws:sns/topic:Topic",
    }
)
DOCUMENT_TYPES = IDENTITY_POLICY_TYPES | RESOURCE_POLICY_TYPES
# Resource policies whose every statement grants `execute-api:Invoke` on the API's own routes: judged for who
# they let in (resource-policy-no-public-allow), not for wildcards in their Resource (`execute-api:/*`).
API_POLICY_TYPES = frozenset({"aws:apigateway/restApi:RestApi", "aws:apigateway/restApiPolicy:RestApiPolicy"})


@dataclass(frozen=True)
class Statement:
    where: str
    effect: Any
    action: tuple[Any, ...] | None
    not_action: tuple[Any, ...] | None
    resource: tuple[Any, ...] | None
    not_resource: tuple[Any, ...] | None
    principal: Any
    not_principal: Any
    condition: Any

    @property
    def allows(self) -> bool:
        return self.effect == "Allow"


def as_tuple(value: Any) -> tuple[Any, ...] | None:
    """IAM lets most fields be one string or a list of them."""
    if value is None:
        return None
    if isinstance(value, list | tuple):
        return tuple(value)
    return (value,)


def parse_document(raw: Any, where: str) -> list[Statement]:
    """The statements of a policy given as a JSON string or as an object; ValueError if it is neither."""
    if raw is UNKNOWN:
        raise Unverifiable(where)
    document = json.loads(raw) if isinstance(raw, str) else raw
    if not isinstance(document, Mapping):
        raise ValueError("not a JSON object")
    statements = walk(document, "Statement", where=where)
    if isinstance(statements, Mapping):
        statements = [statements]
    if not isinstance(statements, list):
        raise ValueError("no Statement list")
    parsed = []
    for index, st in enumerate(statements):
        at = f"{where}.Statement[{index}]"
        if st is UNKNOWN:
            raise Unverifiable(at)
        if not isinstance(st, Mapping):
            raise ValueError(f"Statement[{index}] is not an object")
        sid = st.get("Sid")
        parsed.append(
            Statement(
                where=f"{at} ({sid})" if isinstance(sid, str) and sid else at,
                effect=st.get("Effect"),
                action=as_tuple(st.get("Action")),
                not_action=as_tuple(st.get("NotAction")),
                resource=as_tuple(st.get("Resource")),
                not_resource=as_tuple(st.get("NotResource")),
                principal=st.get("Principal"),
                not_principal=st.get("NotPrincipal"),
                condition=st.get("Condition"),
            )
        )
    return parsed


def raw_documents(resource: Resource) -> Iterator[tuple[str, Any]]:
    """(where, document) for each permissions policy a resource carries; trust policies are not included."""
    if resource.type == ROLE:
        for index, inline in enumerate(resource.get("inlinePolicies") or ()):
            document = inline.get("policy") if isinstance(inline, Mapping) else inline
            if document is not None:
                yield f"{resource.name}.inlinePolicies[{index}].policy", document
        return
    document = resource.peek("policy")
    if document is not None and document != "":  # the provider writes "" for a REST API without a policy
        yield f"{resource.name}.policy", document


def statements(documents: Iterable[tuple[str, Any]]) -> Iterator[Statement | str | Unverifiable]:
    """Every statement of the documents; an unreadable document yields a violation message and an unknown
    one an Unverifiable (as a value, so that the other documents are still judged)."""
    for where, raw in documents:
        try:
            yield from parse_document(raw, where)
        except Unverifiable as unknown:
            yield unknown
        except ValueError as error:
            yield f"{where} is not a valid IAM policy document ({error}): it cannot be shown to be safe"


def known(values: tuple[Any, ...] | None, where: str) -> Iterator[Any]:
    """The entries of a field; an unknown entry is raised so the caller cannot skip it silently."""
    for value in values or ():
        if value is UNKNOWN:
            raise Unverifiable(where)
        yield value


def principals(principal: Any) -> list[tuple[str, str]]:
    """(kind, identifier) pairs of a Principal: "*" alone is ("*", "*")."""
    if principal is UNKNOWN:
        raise Unverifiable("Principal")
    if principal is None:
        return []
    if isinstance(principal, str):
        return [("*" if principal == "*" else "AWS", principal)]
    pairs = []
    for kind, identifiers in principal.items():
        pairs.extend((kind, ident) for ident in known(as_tuple(identifiers), "Principal") if isinstance(ident, str))
    return pairs


def is_public(principal: Any) -> bool:
    """`"*"`, `{"AWS": "*"}` or a list holding "*": anyone, in any account."""
    return any(ident == "*" for kind, ident in principals(principal) if kind in ("*", "AWS"))


# --- policy_sentry's IAM database ---------------------------------------------------------------------------

_SERVICES = frozenset(get_all_service_prefixes())


@cache
def _wildcard_only(service: str) -> frozenset[str]:
    return frozenset(a.lower() for a in get_actions_that_support_wildcard_arns_only(service))


@cache
def _actions_of(service: str) -> tuple[str, ...]:
    return tuple(get_actions_for_service(service, lowercase=True))


@cache
def _all_actions() -> tuple[str, ...]:
    return tuple(sorted(get_all_actions(lowercase=True)))


@lru_cache(maxsize=4096)
def matching_actions(pattern: str) -> tuple[str, ...]:
    """The database's actions an Action entry matches (lowercase); the entry itself if it matches none."""
    pattern = pattern.lower()
    if not has_wildcard(pattern):
        return (pattern,)
    service = pattern.split(":", 1)[0]
    universe = _all_actions() if has_wildcard(service) else _actions_of(service)
    return tuple(a for a in universe if fnmatchcase(a, pattern)) or (pattern,)


@lru_cache(maxsize=4096)
def resource_scopable(pattern: str) -> tuple[str, ...]:
    """The actions matched by `pattern` that support resource-level permissions.

    An action the database does not know stays in: nothing shows that a resource ARN could not scope it.
    """
    scopable = []
    for action in matching_actions(pattern):
        service = action.split(":", 1)[0]
        if service not in _SERVICES or action not in _wildcard_only(service):
            scopable.append(action)
    return tuple(scopable)


def _escalation_actions() -> frozenset[str]:
    listing = files("policy_sentry") / "shared" / "data" / "audit" / "privilege-escalation.txt"
    return frozenset(line.strip().lower() for line in listing.read_text().splitlines() if line.strip())


# policy_sentry ships the actions that enable privilege escalation (shared/data/audit/privilege-escalation.txt)
# but not how they combine. The combinations are Rhino Security Labs' published escalation methods
# (github.com/RhinoSecurityLabs/Cloud-Security-Research, AWS/aws_escalate/aws_escalate.py), the source
# policy_sentry's list cites; every action below is in policy_sentry's list (a test holds it to that).
ESCALATION_ACTIONS = _escalation_actions()
ESCALATION_METHODS: dict[str, frozenset[str]] = {
    name: frozenset(actions)
    for name, actions in {
        "CreateNewPolicyVersion": ["iam:createpolicyversion"],
        "SetExistingDefaultPolicyVersion": ["iam:setdefaultpolicyversion"],
        "CreateEC2WithExistingInstanceProfile": ["iam:passrole", "ec2:runinstances"],
        "CreateAccessKey": ["iam:createaccesskey"],
        "CreateLoginProfile": ["iam:createloginprofile"],
        "UpdateLoginProfile": ["iam:updateloginprofile"],
        "AttachUserPolicy": ["iam:attachuserpolicy"],
        "AttachGroupPolicy": ["iam:attachgrouppolicy"],
        "AttachRolePolicy": ["iam:attachrolepolicy", "sts:assumerole"],
        "PutUserPolicy": ["iam:putuserpolicy"],
        "PutGroupPolicy": ["iam:putgrouppolicy"],
        "PutRolePolicy": ["iam:putrolepolicy", "sts:assumerole"],
        "AddUserToGroup": ["iam:addusertogroup"],
        "UpdateRolePolicyToAssumeIt": ["iam:updateassumerolepolicy", "sts:assumerole"],
        "PassExistingRoleToNewLambdaThenInvoke": ["iam:passrole", "lambda:createfunction", "lambda:invokefunction"],
        "PassExistingRoleToNewLambdaThenTriggerWithExistingDynamo": [
            "iam:passrole",
            "lambda:createfunction",
            "lambda:createeventsourcemapping",
        ],
        "PassExistingRoleToNewGlueDevEndpoint": ["iam:passrole", "glue:createdevendpoint"],
        "UpdateExistingGlueDevEndpoint": ["glue:updatedevendpoint"],
        "PassExistingRoleToCloudFormation": ["iam:passrole", "cloudformation:createstack"],
        "PassExistingRoleToNewDataPipeline": [
            "iam:passrole",
            "datapipeline:createpipeline",
            "datapipeline:putpipelinedefinition",
        ],
        "EditExistingLambdaFunctionWithRole": ["lambda:updatefunctioncode"],
        "PassExistingRoleToNewCodeStarProject": ["codestar:createprojectfromtemplate"],
        "CodeStarCreateProjectThenAssociateTeamMember": ["codestar:createproject", "codestar:associateteammember"],
    }.items()
}

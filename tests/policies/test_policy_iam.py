"""IAM scoping rules: documents as strings and dicts, the tricky shapes, and a generated-document oracle."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policies.guard.iam import ESCALATION_ACTIONS, ESCALATION_METHODS
from policies.guard.model import UNKNOWN
from tests.hypothesis_budget import examples
from tests.policies.policy_builders import (
    ACCOUNT,
    LAMBDA_TRUST,
    StackBuilder,
    allow,
    arn,
    document,
    fired,
    judge,
    policy_resource,
)

ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
BUCKET = "arn:aws:s3:::uploads-bucket"
QUEUE = arn("sqs", "orders")
LOG_STREAMS = arn("logs", "log-group:/aws/lambda/orders-fn:*")


def violated(rule_id: str, doc, *, type_: str = ROLE_POLICY, as_string: bool = True, config=None) -> bool:
    verdict = judge(rule_id, type_, policy_resource(doc, as_string=as_string), config)
    assert verdict.unknown is None, verdict
    return bool(verdict.violations)


# --- iam-no-wildcard-actions ---------------------------------------------------------------------------------


@pytest.mark.parametrize("as_string", [True, False], ids=["json-string", "dict"])
@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        (allow("s3:GetObject", f"{BUCKET}/uploads/*"), False),
        (allow(["sqs:SendMessage", "sqs:GetQueueAttributes"], QUEUE), False),
        (allow("*", "*"), True),
        (allow("s3:*", BUCKET), True),
        (allow("s3:Get*", f"{BUCKET}/*"), True),
        (allow(["sqs:SendMessage", "sqs:Receive*"], QUEUE), True),
        (allow("s3:?etObject", f"{BUCKET}/*"), True),
        ({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}, True),
        ({"Effect": "Deny", "Action": "s3:*", "Resource": "*"}, False),
    ],
    ids=["named", "named-list", "star", "service-star", "s3:Get*", "one-of-list", "question-mark", "NotAction",
         "deny-star"],
)
def test_wildcard_actions(statement, expected, as_string):
    assert violated("iam-no-wildcard-actions", document(statement), as_string=as_string) is expected


def test_wildcard_actions_single_statement_object_and_exemptions():
    doc = {"Version": "2012-10-17", "Statement": allow("s3:Get*", f"{BUCKET}/*")}
    assert violated("iam-no-wildcard-actions", doc)
    assert not violated("iam-no-wildcard-actions", doc, config={"exemptActions": ["s3:Get*"]})


def test_wildcard_actions_in_role_inline_policies_and_resource_policies():
    inline = {"inlinePolicies": [{"name": "ok", "policy": json.dumps(document(allow("sqs:SendMessage", QUEUE)))},
                                 {"name": "bad", "policy": json.dumps(document(allow("sqs:*", QUEUE)))}]}
    verdict = judge("iam-no-wildcard-actions", "aws:iam/role:Role", inline)
    assert len(verdict.violations) == 1 and "inlinePolicies[1]" in verdict.violations[0]
    bucket_policy = document(allow("s3:*", f"{BUCKET}/*", Principal={"AWS": f"arn:aws:iam::{ACCOUNT}:root"}))
    assert violated("iam-no-wildcard-actions", bucket_policy, type_="aws:s3/bucketPolicy:BucketPolicy")


def test_unreadable_documents_fail_and_unknown_documents_are_unverifiable():
    broken = judge("iam-no-wildcard-actions", ROLE_POLICY, {"policy": "{not json"})
    assert broken.violations and "not a valid IAM policy document" in broken.violations[0]
    unknown = judge("iam-no-wildcard-actions", ROLE_POLICY, {"policy": UNKNOWN})
    assert unknown.violations == () and unknown.unknown is not None
    # A known wildcard is reported even when another statement's action is still unknown.
    partial = judge("iam-no-wildcard-actions", ROLE_POLICY,
                    {"policy": document(allow(UNKNOWN, "*"), allow("s3:*", BUCKET))})
    assert len(partial.violations) == 1 and partial.unknown is not None


# --- iam-no-wildcard-resources -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        (allow("s3:GetObject", f"{BUCKET}/prefix/*"), False),
        (allow("s3:GetObject", "*"), True),
        (allow("s3:GetObject", ["arn:aws:s3:::*"]), True),
        (allow("s3:ListBucket", "arn:aws:s3:::*"), True),
        (allow("sqs:SendMessage", arn("sqs", "*")), True),
        (allow("sqs:SendMessage", QUEUE), False),
        (allow(["logs:CreateLogStream", "logs:PutLogEvents"], LOG_STREAMS), False),
        (allow("logs:PutLogEvents", arn("logs", "log-group:/aws/lambda/*")), True),
        (allow("dynamodb:Query", arn("dynamodb", "table/orders/index/*")), False),
        (allow("dynamodb:Query", arn("dynamodb", "table/orders", account="*")), True),
        (allow("iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/service-role/*"), True),
        (allow("xray:PutTraceSegments", "*"), False),
        (allow(["xray:PutTraceSegments", "xray:PutTelemetryRecords"], ["*"]), False),
        (allow("sts:GetCallerIdentity", "*"), False),
        (allow("cognito-idp:SignUp", "*"), False),
        (allow(["xray:PutTraceSegments", "s3:GetObject"], "*"), True),
        (allow("s3:Get*", "*"), True),
        (allow("madeup:DoThing", "*"), True),
        ({"Effect": "Allow", "Action": "s3:GetObject", "NotResource": f"{BUCKET}/private/*"}, True),
        ({"Effect": "Deny", "Action": "s3:GetObject", "Resource": "*"}, False),
    ],
    ids=["object-prefix", "star", "all-buckets", "list-all-buckets", "any-queue", "one-queue", "log-streams-of-one-group",
         "any-lambda-log-group", "index-of-one-table", "any-account", "role-path-wildcard", "xray-star",
         "xray-list-star", "sts-star", "signup-star", "mixed-star", "s3:Get*-star", "unknown-action-star",
         "NotResource", "deny-star"],
)
def test_wildcard_resources(statement, expected):
    assert violated("iam-no-wildcard-resources", document(statement)) is expected
    assert violated("iam-no-wildcard-resources", document(statement), as_string=False) is expected


def test_wildcard_resources_names_the_scopable_actions_only():
    verdict = judge("iam-no-wildcard-resources", ROLE_POLICY,
                    policy_resource(document(allow(["xray:PutTraceSegments", "s3:GetObject"], "*"))))
    (message,) = verdict.violations
    assert "s3:getobject" in message and "xray" not in message


def test_wildcard_resources_allowed_patterns():
    secret = allow("secretsmanager:GetSecretValue", arn("secretsmanager", "secret:db-password-??????"))
    assert violated("iam-no-wildcard-resources", document(secret))
    config = {"allowedResourcePatterns": [arn("secretsmanager", "secret:db-password-*")]}
    assert not violated("iam-no-wildcard-resources", document(secret), config=config)


# --- managed policies ----------------------------------------------------------------------------------------

ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"


@pytest.mark.parametrize(
    ("policy_arn", "privileged", "advisory"),
    [
        ("arn:aws:iam::aws:policy/AdministratorAccess", True, False),
        ("arn:aws:iam::aws:policy/PowerUserAccess", True, False),
        ("arn:aws:iam::aws:policy/IAMFullAccess", True, False),
        ("arn:aws:iam::aws:policy/AmazonS3FullAccess", True, False),
        ("arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole", False, True),
        ("arn:aws:iam::aws:policy/ReadOnlyAccess", False, True),
        (f"arn:aws:iam::{ACCOUNT}:policy/AdministratorAccess", False, False),
    ],
)
def test_managed_policies(policy_arn, privileged, advisory):
    for type_, props in ((ATTACHMENT, {"policyArn": policy_arn, "role": "r"}),
                         ("aws:iam/role:Role", {"managedPolicyArns": [policy_arn], "assumeRolePolicy": "{}"}),
                         ("aws:iam/policyAttachment:PolicyAttachment", {"policyArn": policy_arn, "roles": ["r"]})):
        assert bool(judge("iam-no-privileged-managed-policies", type_, props).violations) is privileged
        assert bool(judge("iam-aws-managed-policy-review", type_, props).violations) is advisory


def test_managed_policy_config():
    basic = {"policyArn": "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"}
    assert not judge("iam-aws-managed-policy-review", ATTACHMENT, basic,
                     {"allowedPolicies": ["AWSLambdaBasicExecutionRole"]}).violations
    readonly = {"policyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}
    assert judge("iam-no-privileged-managed-policies", ATTACHMENT, readonly, {"forbiddenPolicies": ["ReadOnly*"]}).violations


# --- iam-trust-scoped ----------------------------------------------------------------------------------------


def trust(principal, effect="Allow", **extra):
    statement = {"Effect": effect, "Action": "sts:AssumeRole", **extra}
    if principal is not None:
        statement["Principal"] = principal
    return {"assumeRolePolicy": json.dumps(document(statement))}


@pytest.mark.parametrize(
    ("props", "expected"),
    [
        ({"assumeRolePolicy": json.dumps(LAMBDA_TRUST)}, False),
        ({"assumeRolePolicy": LAMBDA_TRUST}, False),
        (trust({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}), False),
        (trust({"AWS": ACCOUNT}), False),
        (trust({"Federated": "cognito-identity.amazonaws.com"}), False),
        (trust("*"), True),
        (trust({"AWS": "*"}), True),
        (trust({"AWS": [f"arn:aws:iam::{ACCOUNT}:root", "*"]}), True),
        (trust({"AWS": "arn:aws:iam::*:root"}), True),
        (trust({"Service": "*.amazonaws.com"}), True),
        (trust(None, NotPrincipal={"AWS": f"arn:aws:iam::{ACCOUNT}:root"}), True),
        (trust("*", effect="Deny"), False),
    ],
    ids=["lambda", "lambda-dict", "account-root", "account-id", "federated", "star", "aws-star", "list-with-star",
         "any-account", "any-service", "not-principal", "deny-star"],
)
def test_trust_scoped(props, expected):
    assert bool(judge("iam-trust-scoped", "aws:iam/role:Role", props).violations) is expected


def test_trusted_accounts():
    other = trust({"AWS": "arn:aws:iam::210987654321:role/deployer"})
    assert not judge("iam-trust-scoped", "aws:iam/role:Role", other).violations
    assert judge("iam-trust-scoped", "aws:iam/role:Role", other, {"trustedAccounts": [ACCOUNT]}).violations
    assert not judge("iam-trust-scoped", "aws:iam/role:Role", trust({"AWS": ACCOUNT}), {"trustedAccounts": [ACCOUNT]}).violations


# --- resource-policy-no-public-allow -------------------------------------------------------------------------

BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
QUEUE_POLICY = "aws:sqs/queuePolicy:QueuePolicy"


@pytest.mark.parametrize(
    ("type_", "statement", "expected"),
    [
        (BUCKET_POLICY, allow("s3:GetObject", f"{BUCKET}/*", Principal="*"), True),
        (BUCKET_POLICY, allow("s3:GetObject", f"{BUCKET}/*", Principal={"AWS": "*"}), True),
        (BUCKET_POLICY, allow("s3:GetObject", f"{BUCKET}/*", Principal={"AWS": ["*"]}), True),
        (BUCKET_POLICY, allow("s3:GetObject", f"{BUCKET}/*", Principal={"AWS": f"arn:aws:iam::{ACCOUNT}:root"}), False),
        (BUCKET_POLICY, allow("s3:GetObject", f"{BUCKET}/*", Principal="*",
                              Condition={"StringEquals": {"aws:SourceAccount": ACCOUNT}}), False),
        (BUCKET_POLICY, allow("s3:GetObject", f"{BUCKET}/*", Principal="*",
                              Condition={"StringNotEquals": {"aws:SourceAccount": ACCOUNT}}), True),
        (BUCKET_POLICY, allow("s3:GetObject", f"{BUCKET}/*", Principal="*",
                              Condition={"StringEqualsIfExists": {"aws:SourceAccount": ACCOUNT}}), True),
        (BUCKET_POLICY, allow("s3:GetObject", f"{BUCKET}/*", Principal="*",
                              Condition={"Bool": {"aws:SecureTransport": "true"}}), True),
        (BUCKET_POLICY, allow("s3:GetObject", f"{BUCKET}/*", Principal="*",
                              Condition={"StringLike": {"aws:PrincipalOrgID": "*"}}), True),
        (QUEUE_POLICY, allow("sqs:SendMessage", QUEUE, Principal={"Service": "sns.amazonaws.com"}), False),
        (QUEUE_POLICY, allow("sqs:SendMessage", QUEUE, Principal="*",
                             Condition={"ArnEquals": {"aws:SourceArn": arn("sns", "topic")}}), False),
        ("aws:sqs/queue:Queue", allow("sqs:SendMessage", QUEUE, Principal="*"), True),
        (BUCKET_POLICY, {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": f"{BUCKET}/*"}, False),
    ],
    ids=["star", "aws-star", "aws-star-list", "account", "source-account", "negated-condition", "if-exists",
         "transport-only", "wildcard-value", "service", "source-arn", "queue-inline", "deny"],
)
def test_resource_policy_no_public_allow(type_, statement, expected):
    assert violated("resource-policy-no-public-allow", document(statement), type_=type_) is expected


# --- iam-no-privilege-escalation -----------------------------------------------------------------------------


def role_with(b: StackBuilder, name: str, *documents: dict) -> None:
    role = b.add("aws:iam/role:Role", name, {"assumeRolePolicy": json.dumps(LAMBDA_TRUST), "name": name}, id=name)
    for index, doc in enumerate(documents):
        b.add(ROLE_POLICY, f"{name}-policy{index}", {"role": name, "policy": json.dumps(doc)}, deps={"role": role})


ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/worker"
FUNCTIONS = arn("lambda", "function:orders-fn")


@pytest.mark.parametrize(
    ("documents", "expected"),
    [
        ([document(allow("iam:PassRole", ROLE_ARN))], False),
        ([document(allow("iam:PassRole", "*"))], True),
        ([document({"Effect": "Allow", "Action": "iam:PassRole", "NotResource": ROLE_ARN})], True),
        ([document(allow(["iam:PassRole", "lambda:CreateFunction", "lambda:InvokeFunction"], [ROLE_ARN, FUNCTIONS]))], True),
        ([document(allow("iam:PassRole", ROLE_ARN)),
          document(allow(["lambda:CreateFunction", "lambda:InvokeFunction"], FUNCTIONS))], True),
        ([document(allow("lambda:InvokeFunction", FUNCTIONS))], False),
        ([document(allow("iam:CreatePolicyVersion", f"arn:aws:iam::{ACCOUNT}:policy/app"))], True),
        ([document(allow("iam:*", ROLE_ARN))], True),
        ([document({"Effect": "Allow", "NotAction": "s3:*", "Resource": FUNCTIONS})], True),
    ],
    ids=["passrole-one-role", "passrole-star", "passrole-notresource", "lambda-method", "method-split-over-policies",
         "invoke-only", "create-policy-version", "iam-star", "notaction"],
)
def test_privilege_escalation(documents, expected):
    b = StackBuilder()
    role_with(b, "worker", *documents)
    assert ("iam-no-privilege-escalation" in fired(b.graph())) is expected


def test_privilege_escalation_is_judged_per_principal():
    b = StackBuilder()
    role_with(b, "a", document(allow("iam:PassRole", ROLE_ARN)))
    role_with(b, "b", document(allow(["lambda:CreateFunction", "lambda:InvokeFunction"], FUNCTIONS)))
    assert "iam-no-privilege-escalation" not in fired(b.graph())
    # A customer-managed policy attached to role a completes the method for a, and only for a.
    policy = b.add("aws:iam/policy:Policy", "extra",
                   {"policy": json.dumps(document(allow(["lambda:CreateFunction", "lambda:InvokeFunction"], FUNCTIONS))),
                    "arn": f"arn:aws:iam::{ACCOUNT}:policy/extra"})
    b.add(ATTACHMENT, "extra-attach", {"role": "a", "policyArn": policy.props["arn"]})
    assert fired(b.graph())["iam-no-privilege-escalation"] == {"a"}
    assert "iam-no-privilege-escalation" not in fired(b.graph(), {"iam-no-privilege-escalation": {
        "allowedMethods": ["PassExistingRoleToNewLambdaThenInvoke"]}})


def test_privilege_escalation_on_a_policy_of_a_role_outside_the_stack():
    b = StackBuilder()
    b.add(ROLE_POLICY, "orphan", {"role": "imported-role", "policy": json.dumps(document(allow("iam:PassRole", "*")))})
    assert fired(b.graph())["iam-no-privilege-escalation"] == {"orphan"}


def test_escalation_methods_only_use_policy_sentry_escalation_actions():
    used = set().union(*ESCALATION_METHODS.values())
    assert used <= ESCALATION_ACTIONS, used - ESCALATION_ACTIONS
    assert "iam:passrole" in ESCALATION_ACTIONS and len(ESCALATION_ACTIONS) > 20


# --- generated documents against an independent oracle ------------------------------------------------------

# Facts about each action, written down by hand (not asked from policy_sentry): does it contain a wildcard,
# and does every action it matches lack resource-level permissions?
ACTIONS = {
    "s3:GetObject": (False, False),
    "sqs:SendMessage": (False, False),
    "logs:PutLogEvents": (False, False),
    "xray:PutTraceSegments": (False, True),
    "sts:GetCallerIdentity": (False, True),
    "cognito-idp:SignUp": (False, True),
    "ec2:DescribeInstances": (False, True),
    "xray:Put*": (True, True),
    "s3:Get*": (True, False),
    "s3:*": (True, False),
    "*": (True, False),
}
# Does the pattern span more than one named resource?
RESOURCES = {
    "*": True,
    "arn:aws:s3:::*": True,
    "arn:aws:s3:::bucket": False,
    "arn:aws:s3:::bucket/prefix/*": False,
    f"arn:aws:sqs:us-east-1:{ACCOUNT}:*": True,
    f"arn:aws:sqs:us-east-1:{ACCOUNT}:orders": False,
    f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/lambda/fn:*": False,
    f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:*": True,
    "arn:aws:dynamodb:us-east-1:*:table/orders": True,
}


def one_or_list(values: list[str]):
    return st.just(values[0]) | st.just(values) if len(values) == 1 else st.just(values)


@st.composite
def statements(draw):
    actions = draw(st.lists(st.sampled_from(sorted(ACTIONS)), min_size=1, max_size=3, unique=True))
    resources = draw(st.lists(st.sampled_from(sorted(RESOURCES)), min_size=1, max_size=3, unique=True))
    statement = {"Effect": draw(st.sampled_from(["Allow", "Deny"]))}
    statement["NotAction" if draw(st.booleans()) and len(actions) < 3 else "Action"] = draw(one_or_list(actions))
    statement["NotResource" if draw(st.integers(0, 4)) == 0 else "Resource"] = draw(one_or_list(resources))
    return statement


@st.composite
def documents(draw):
    body = draw(st.lists(statements(), min_size=1, max_size=3))
    doc = {"Version": "2012-10-17", "Statement": body[0] if len(body) == 1 and draw(st.booleans()) else body}
    return doc, body


def as_list(value):
    return value if isinstance(value, list) else [value]


def oracle_wildcard_actions(body) -> bool:
    return any(s["Effect"] == "Allow" and ("NotAction" in s or any(ACTIONS[a][0] for a in as_list(s["Action"])))
               for s in body)


def oracle_wildcard_resources(body) -> bool:
    def violates(s):
        if s["Effect"] != "Allow":
            return False
        if "NotResource" in s:
            return True
        if not any(RESOURCES[r] for r in as_list(s["Resource"])):
            return False
        return "NotAction" in s or not all(ACTIONS[a][1] for a in as_list(s["Action"]))
    return any(violates(s) for s in body)


CARRIERS = [
    ("aws:iam/rolePolicy:RolePolicy", lambda d: {"policy": d}),
    ("aws:iam/policy:Policy", lambda d: {"policy": d}),
    ("aws:iam/role:Role", lambda d: {"inlinePolicies": [{"name": "inline", "policy": d}], "assumeRolePolicy": "{}"}),
]


@settings(max_examples=examples(150), deadline=None)
@given(documents(), st.sampled_from(CARRIERS), st.booleans())
def test_generated_documents_agree_with_the_oracle(doc_and_body, carrier, as_string):
    doc, body = doc_and_body
    type_, wrap = carrier
    props = wrap(json.dumps(doc) if as_string else doc)
    for rule_id, oracle in (("iam-no-wildcard-actions", oracle_wildcard_actions),
                            ("iam-no-wildcard-resources", oracle_wildcard_resources)):
        verdict = judge(rule_id, type_, props)
        assert verdict.unknown is None
        assert bool(verdict.violations) is oracle(body), (rule_id, doc, verdict.violations)

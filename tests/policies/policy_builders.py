"""Synthetic resource graphs for the policy tests: a compliant serverless app shaped like our program, and
small helpers to break exactly one thing in it."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

from policies.guard import RULES, RULES_BY_ID
from policies.guard.config import reconcile
from policies.guard.engine import Finding, evaluate
from policies.guard.model import UNKNOWN, Graph, Resource
from policies.guard.rule import Verdict

ACCOUNT = "123456789012"
REGION = "us-east-1"
LAMBDA_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}


def arn(service: str, resource: str, *, region: str = REGION, account: str = ACCOUNT) -> str:
    return f"arn:aws:{service}:{region}:{account}:{resource}"


def document(*statements: Mapping[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(actions: str | list[str], resources: str | list[str], **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": actions, "Resource": resources, **extra}


class StackBuilder:
    """Registers resources the way the engine records them: URNs qualified by the parent type chain,
    property dependencies by input name."""

    def __init__(self, stack: str = "test", project: str = "secure-serverless"):
        self.stack, self.project = stack, project
        self.resources: list[Resource] = []

    def add(
        self,
        type_: str,
        name: str,
        props: Mapping[str, Any] | None = None,
        *,
        parent: Resource | None = None,
        deps: Mapping[str, Resource | list[Resource]] | None = None,
        id: str | None = None,
    ) -> Resource:
        qualified = type_
        if parent is not None:
            qualified = f"{parent.urn.split('::')[2]}${type_}"
        urn = f"urn:pulumi:{self.stack}::{self.project}::{qualified}::{name}"
        property_dependencies = {
            k: tuple(d.urn for d in (v if isinstance(v, list) else [v])) for k, v in (deps or {}).items()
        }
        resource = Resource(
            urn=urn,
            type=type_,
            props=dict(props or {}),
            id=id if id is not None else (f"{name}-id" if not type_.startswith("app:") else None),
            parent=parent.urn if parent else None,
            dependencies=tuple(dict.fromkeys(u for urns in property_dependencies.values() for u in urns)),
            property_dependencies=property_dependencies,
        )
        self.resources.append(resource)
        return resource

    def graph(self) -> Graph:
        return Graph(self.resources)


def python_function(
    b: StackBuilder, name: str, statements: list[dict[str, Any]], *, timeout: int = 10
) -> Resource:
    """Our PythonFunction component: role, scoped inline policy, log group with retention, function."""
    component = b.add("app:components:PythonFunction", name)
    fn_name = f"{name}-fn"
    role = b.add(
        "aws:iam/role:Role",
        f"{name}-role",
        {"assumeRolePolicy": json.dumps(LAMBDA_TRUST), "name": f"{name}-role", "arn": f"arn:aws:iam::{ACCOUNT}:role/{name}-role"},
        parent=component,
        id=f"{name}-role",
    )
    log_group_arn = arn("logs", f"log-group:/aws/lambda/{fn_name}")
    base = [
        allow(["logs:CreateLogStream", "logs:PutLogEvents"], f"{log_group_arn}:*"),
        allow(["xray:PutTraceSegments", "xray:PutTelemetryRecords"], "*"),
    ]
    b.add(
        "aws:iam/rolePolicy:RolePolicy",
        f"{name}-policy",
        {"role": role.id, "policy": json.dumps(document(*base, *statements))},
        parent=component,
        deps={"role": role},
    )
    b.add(
        "aws:cloudwatch/logGroup:LogGroup",
        f"{name}-logs",
        {"name": f"/aws/lambda/{fn_name}", "retentionInDays": 30, "arn": log_group_arn},
        parent=component,
    )
    return b.add(
        "aws:lambda/function:Function",
        f"{name}-function",
        {"name": fn_name, "role": role.props["arn"], "timeout": timeout, "arn": arn("lambda", f"function:{fn_name}"),
         "runtime": "python3.12", "tracingConfig": {"mode": "Active"}},
        parent=component,
        deps={"role": role},
        id=fn_name,
    )


def queue(b: StackBuilder, name: str, parent: Resource, deps: Mapping[str, Resource] | None = None, **props: Any) -> Resource:
    queue_name = f"{name}-q"
    return b.add(
        "aws:sqs/queue:Queue",
        name,
        {"sqsManagedSseEnabled": True, "arn": arn("sqs", queue_name), "name": queue_name, **props},
        parent=parent,
        deps=deps,
        id=f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{queue_name}",
    )


ROUTES = [
    # (method, path, handler, authorization)
    ("GET", "/health", "health", "NONE"),
    ("POST", "/register", "register", "NONE"),
    ("GET", "/orders", "orders", "COGNITO_USER_POOLS"),
    ("POST", "/orders", "orders", "COGNITO_USER_POOLS"),
    ("GET", "/orders/{id}", "orders", "COGNITO_USER_POOLS"),
    ("OPTIONS", "/orders", None, "NONE"),
]
BLOCK_FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")


def secure_bucket(b: StackBuilder, p: str) -> str:
    uploads = b.add("aws:s3/bucket:Bucket", f"{p}uploads", {"bucket": f"{p}uploads-bucket"}, id=f"{p}uploads-bucket")
    bucket_arn = f"arn:aws:s3:::{p}uploads-bucket"
    b.add("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", f"{p}uploads-pab",
          {"bucket": uploads.id, **dict.fromkeys(BLOCK_FLAGS, True)}, deps={"bucket": uploads})
    tls = {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": [bucket_arn, f"{bucket_arn}/*"],
           "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
    b.add("aws:s3/bucketPolicy:BucketPolicy", f"{p}uploads-policy",
          {"bucket": uploads.id, "policy": json.dumps(document(tls))}, deps={"bucket": uploads})
    return bucket_arn


def order_pipeline(b: StackBuilder, p: str, bucket_arn: str) -> Resource:
    pipeline = b.add("app:components:OrderPipeline", f"{p}orders")
    dlq = queue(b, f"{p}orders-dlq", pipeline)
    redrive = json.dumps({"deadLetterTargetArn": dlq.props["arn"], "maxReceiveCount": 3})
    orders = queue(b, f"{p}orders-queue", pipeline, {"redrivePolicy": dlq}, visibilityTimeoutSeconds=60,
                   redrivePolicy=redrive)
    worker = python_function(b, f"{p}worker", [
        allow(["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"], orders.props["arn"]),
        allow("s3:GetObject", f"{bucket_arn}/orders/*"),
    ])
    b.add("aws:lambda/eventSourceMapping:EventSourceMapping", f"{p}worker-mapping",
          {"eventSourceArn": orders.props["arn"], "functionName": worker.props["arn"]},
          parent=pipeline, deps={"eventSourceArn": orders, "functionName": worker})
    return orders


def upload_stream(b: StackBuilder, p: str) -> None:
    streaming = b.add("app:components:UploadStream", f"{p}uploads-stream")
    stream_arn = arn("kinesis", f"stream/{p}stream")
    stream = b.add("aws:kinesis/stream:Stream", f"{p}stream",
                   {"encryptionType": "KMS", "kmsKeyId": "alias/aws/kinesis", "arn": stream_arn}, parent=streaming)
    failures = queue(b, f"{p}stream-failures", streaming)
    processor = python_function(b, f"{p}processor", [
        allow(["kinesis:GetRecords", "kinesis:GetShardIterator", "kinesis:DescribeStream", "kinesis:ListShards"], stream_arn),
        allow("sqs:SendMessage", failures.props["arn"]),
    ])
    b.add("aws:lambda/eventSourceMapping:EventSourceMapping", f"{p}processor-mapping",
          {"eventSourceArn": stream_arn, "functionName": processor.props["name"], "startingPosition": "LATEST",
           "bisectBatchOnFunctionError": True, "maximumRetryAttempts": 3,
           "destinationConfig": {"onFailure": {"destinationArn": failures.props["arn"]}}},
          parent=streaming, deps={"eventSourceArn": stream, "functionName": processor, "destinationConfig": failures})


def secure_api(b: StackBuilder, p: str, pool: Resource, handlers: Mapping[str, Resource]) -> None:
    component = b.add("app:components:SecureApi", f"{p}api")
    child = {"parent": component}
    execution_arn = arn("execute-api", f"{p}api1234")
    api = b.add("aws:apigateway/restApi:RestApi", f"{p}api-rest",
                {"name": f"{p}api", "rootResourceId": f"{p}root", "executionArn": execution_arn}, id=f"{p}api1234", **child)
    authorizer = b.add("aws:apigateway/authorizer:Authorizer", f"{p}api-authorizer",
                       {"type": "COGNITO_USER_POOLS", "providerArns": [pool.props["arn"]], "restApi": api.id},
                       deps={"restApi": api, "providerArns": pool}, **child)
    by_path = {"/": api}
    for method, path, handler, authorization in ROUTES:
        parent_path, _, part = path.rpartition("/")
        parent = by_path[parent_path or "/"]
        if path not in by_path:
            parent_id = api.props["rootResourceId"] if parent is api else parent.id
            by_path[path] = b.add("aws:apigateway/resource:Resource", f"{p}api{path.replace('/', '-')}",
                                  {"pathPart": part, "parentId": parent_id, "restApi": api.id},
                                  deps={"parentId": parent, "restApi": api}, **child)
        route = f"{p}api-{method.lower()}{path.replace('/', '-')}"
        props = {"httpMethod": method, "authorization": authorization, "resourceId": by_path[path].id, "restApi": api.id}
        deps: dict[str, Any] = {"resourceId": by_path[path], "restApi": api}
        if authorization == "COGNITO_USER_POOLS":
            props["authorizerId"] = authorizer.id
            deps["authorizerId"] = authorizer
        b.add("aws:apigateway/method:Method", route, props, deps=deps, **child)
        if handler:
            b.add("aws:lambda/permission:Permission", f"{route}-permission",
                  {"action": "lambda:InvokeFunction", "function": handlers[handler].props["name"],
                   "principal": "apigateway.amazonaws.com", "sourceArn": f"{execution_arn}/*/{method}{path}"},
                  deps={"function": handlers[handler]}, **child)
    logs_arn = arn("logs", f"log-group:/aws/apigateway/{p}api")
    logs = b.add("aws:cloudwatch/logGroup:LogGroup", f"{p}api-access-logs",
                 {"name": f"/aws/apigateway/{p}api", "retentionInDays": 30, "arn": logs_arn}, **child)
    access_logs = {"destinationArn": logs_arn, "format": '{"requestId":"$context.requestId"}'}
    stage = b.add("aws:apigateway/stage:Stage", f"{p}api-stage",
                  {"restApi": api.id, "stageName": "v1", "accessLogSettings": access_logs, "xrayTracingEnabled": True},
                  deps={"restApi": api, "accessLogSettings": logs}, **child)
    b.add("aws:apigateway/methodSettings:MethodSettings", f"{p}api-throttling",
          {"restApi": api.id, "stageName": "v1", "methodPath": "*/*",
           "settings": {"throttlingBurstLimit": 100, "throttlingRateLimit": 50}},
          deps={"restApi": api, "stageName": stage}, **child)


def reference_app(b: StackBuilder, prefix: str = "") -> None:
    """A compliant app: every rule of the pack passes on it (mandatory and advisory)."""
    p = prefix
    pool = b.add("aws:cognito/userPool:UserPool", f"{p}users",
                 {"passwordPolicy": {"minimumLength": 12}, "arn": arn("cognito-idp", f"userpool/{REGION}_{p}pool")})
    bucket_arn = secure_bucket(b, p)
    orders = order_pipeline(b, p, bucket_arn)
    upload_stream(b, p)
    handlers = {
        "health": python_function(b, f"{p}health", []),
        "register": python_function(b, f"{p}register", [allow("cognito-idp:SignUp", "*")]),
        "orders": python_function(b, f"{p}orders-api", [allow("sqs:SendMessage", orders.props["arn"])]),
    }
    secure_api(b, p, pool, handlers)


def reference_graph(stack: str = "test") -> Graph:
    b = StackBuilder(stack)
    reference_app(b)
    return b.graph()


def synthetic_graph(size: int) -> Graph:
    """About `size` resources: copies of the reference app, each with its own names."""
    b = StackBuilder("bench")
    index = 0
    while len(b.resources) < size:
        reference_app(b, prefix=f"u{index}-")
        index += 1
    return Graph(b.resources[:size])


def with_props(graph: Graph, name: str, **changes: Any) -> Graph:
    """The graph with one resource's props changed (None removes a prop and what it depended on)."""
    def change(r: Resource) -> Resource:
        if r.name != name:
            return r
        props = {**r.props, **changes}
        removed = {k for k, v in changes.items() if v is None}
        return replace(r, props={k: v for k, v in props.items() if v is not None},
                       property_dependencies={k: v for k, v in r.property_dependencies.items() if k not in removed})
    assert any(r.name == name for r in graph.resources), name
    return Graph(change(r) for r in graph.resources)


def with_resource(graph: Graph, resource: Resource) -> Graph:
    return Graph([*graph.resources, resource])


def named(graph: Graph, name: str) -> Resource:
    (found,) = [r for r in graph.resources if r.name == name]
    return found


def judge(rule_id: str, type_: str, props: Mapping[str, Any], settings: Mapping[str, Any] | None = None) -> Verdict:
    """One resource rule on one resource, as CrossGuard's Analyze runs it."""
    rule = RULES_BY_ID[rule_id]
    assert not rule.needs_graph, f"{rule_id} is a graph rule"
    resource = Resource(urn=f"urn:pulumi:test::p::{type_}::subject", type=type_, props=dict(props))
    return rule.judge(resource, None, rule.settings(settings))


def policy_resource(document: Any, *, as_string: bool = True) -> dict:
    return {"policy": json.dumps(document) if as_string else document}


# The reference app's own facts, as our stacks keep them in policies/config/<stack>.json: its public routes.
PUBLIC_ROUTES = ["GET /health", "POST /register"]
APP_CONFIG: dict[str, Any] = {
    rule_id: {"publicRoutes": PUBLIC_ROUTES}
    for rule_id in ("apigateway-method-requires-authorizer", "apigatewayv2-route-requires-authorizer")
}


def app_config(config: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The reference app's pack config with `config` over it (a rule's object is merged into the app's object)."""
    merged: dict[str, Any] = {k: dict(v) for k, v in APP_CONFIG.items()}
    for key, value in (config or {}).items():
        if isinstance(value, Mapping) and key in merged:
            merged[key].update(value)
        elif isinstance(value, str) and key in merged:
            merged[key]["enforcementLevel"] = value
        else:
            merged[key] = value
    return merged


def findings(graph: Graph, rule_id: str | None = None, config: Mapping[str, Any] | None = None) -> list[Finding]:
    report = evaluate(graph, RULES, reconcile(RULES, app_config(config)))
    return [f for f in report.findings if rule_id is None or f.rule == rule_id]


def fired(graph: Graph, config: Mapping[str, Any] | None = None) -> dict[str, set[str]]:
    """rule id -> names of the resources it reports (verified findings only)."""
    result: dict[str, set[str]] = {}
    for f in findings(graph, config=config):
        if f.verified:
            result.setdefault(f.rule, set()).add(f.urn.rsplit("::", 1)[-1])
    return result


def wire(value: Any) -> Any:
    """A model value as the engine sends it: UNKNOWN becomes the engine's unknown sentinel."""
    if value is UNKNOWN:
        return UNKNOWN_STRING_VALUE
    if isinstance(value, Mapping):
        return {k: wire(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [wire(v) for v in value]
    return value


def stack_export(graph: Graph) -> dict[str, Any]:
    """The graph as `pulumi stack export` writes it (deployment version 3)."""
    return {
        "version": 3,
        "deployment": {
            "manifest": {"version": "3.272.0"},
            "resources": [
                {
                    "urn": r.urn,
                    "custom": not r.type.startswith("app:"),
                    "id": r.id or "",
                    "type": r.type,
                    "inputs": wire(r.props),
                    "outputs": wire(r.props),
                    "parent": r.parent or "",
                    "dependencies": list(r.dependencies),
                    "propertyDependencies": {k: list(v) for k, v in r.property_dependencies.items()},
                }
                for r in graph.resources
            ],
        },
    }

"""SecureApi: one REST API per stack, deny-by-default (a Cognito authorizer on every non-public route), built
from a route table.

Routes are data: flows expose `.routes`, the program passes them to `add_routes(...)`, then `deploy()` (called
once, after every flow) turns the whole table into resources, methods, preflights, the deployment and the
stage. A route targets anything with `invoke_arn` and `function_name` (`RouteTarget`). The user pool is its
own component (`components.user_pool`); the API takes any pool ARNs. The
plan is computed by `components.api_plan`, so what is deployed is exactly what the tests property-check.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import pulumi
import pulumi_aws as aws

from .api_plan import (
    CORS_ALLOWED_HEADERS,
    ApiPlan,
    PlannedMethod,
    RouteSpec,
    deployment_fingerprint,
    model_name,
    plan_routes,
    preflight_response_template,
)
from .function import HANDLERS_DIR
from .limits import ENDPOINT_TYPES, LOG_RETENTION_DAYS, ORIGIN, QUOTA_PERIODS, check_range, check_tags
from .naming import Naming, statement_id
from .tokens import component_type, with_legacy_alias

STAGE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,128}$")

# JSON access-log line: one object per request with the fields needed to trace a call end to end.
ACCESS_LOG_FORMAT = json.dumps(
    {
        "requestId": "$context.requestId",
        "extendedRequestId": "$context.extendedRequestId",
        "ip": "$context.identity.sourceIp",
        "userAgent": "$context.identity.userAgent",
        "requestTime": "$context.requestTime",
        "httpMethod": "$context.httpMethod",
        "resourcePath": "$context.resourcePath",
        "status": "$context.status",
        "protocol": "$context.protocol",
        "responseLength": "$context.responseLength",
        "integrationLatency": "$context.integration.latency",
        "sub": "$context.authorizer.claims.sub",
        "errorMessage": "$context.error.message",
        "authorizerError": "$context.authorizer.error",
    },
    separators=(",", ":"),
)
# Gateway-generated errors (401 from the authorizer, 400 from validation, 429 throttling, 5xx) use the
# same `{"error": {"code", "message"}}` body as the handlers.
GATEWAY_ERROR_TEMPLATE = '{"error":{"code":"$context.error.responseType","message":$context.error.messageString}}'
VALIDATION_ERROR_TEMPLATE = (
    '{"error":{"code":"BAD_REQUEST_BODY","message":"$util.escapeJavaScript($context.error.validationErrorString)"}}'
)


def gateway_response_templates() -> dict[str, str]:
    """Response type -> body template of the gateway responses (read at call time: part of the redeploy key)."""
    return {
        "DEFAULT_4XX": GATEWAY_ERROR_TEMPLATE,
        "DEFAULT_5XX": GATEWAY_ERROR_TEMPLATE,
        "BAD_REQUEST_BODY": VALIDATION_ERROR_TEMPLATE,
    }


def preflight_response_parameters(allowed_methods: Sequence[str]) -> dict[str, str]:
    """Static headers of a path's MOCK preflight (the origin itself is echoed by the response template)."""
    return {
        "method.response.header.Access-Control-Allow-Headers": f"'{','.join(CORS_ALLOWED_HEADERS)}'",
        "method.response.header.Access-Control-Allow-Methods": f"'{','.join(allowed_methods)}'",
        # Same credentials answer as the handlers give; browsers may cache the preflight for 10 minutes.
        "method.response.header.Access-Control-Allow-Credentials": "'true'",
        "method.response.header.Access-Control-Max-Age": "'600'",
    }


def gateway_response_parameters(origins: Sequence[str]) -> dict[str, str]:
    """CORS headers on gateway-generated errors, so a browser can read a 401 or 429."""
    # A gateway response cannot run VTL conditions on headers: with one allowed origin it is pinned;
    # with several (dev's localhost ports) the request Origin is echoed, and these bodies carry no data.
    allow_origin = f"'{origins[0]}'" if len(origins) == 1 else "method.request.header.Origin"
    return {
        "gatewayresponse.header.Access-Control-Allow-Origin": allow_origin,
        "gatewayresponse.header.Access-Control-Allow-Headers": f"'{','.join(CORS_ALLOWED_HEADERS)}'",
        "gatewayresponse.header.Vary": "'Origin'",
    }


def localstack_invoke_url(endpoint: str, api_id: str, stage: str) -> str:
    """LocalStack serves a REST API stage at http://<id>.execute-api.localhost.localstack.cloud:<edge port>/<stage>
    (its AWS-style host; the provider's invoke_url names the AWS domain, which does not resolve to LocalStack)."""
    parsed = urlsplit(endpoint)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    return f"{parsed.scheme}://{api_id}.execute-api.localhost.localstack.cloud:{port}/{stage}"


# The authorizer's and the validator's inputs: the resources are created from these and the deployment fingerprint
# covers them, because API Gateway serves authorizer and validator settings from the deployment snapshot too.
AUTHORIZER_SETTINGS: Mapping[str, Any] = {
    "name": "CognitoAuthorizer",
    "type": "COGNITO_USER_POOLS",
    "identity_source": "method.request.header.Authorization",
}
VALIDATOR_SETTINGS: Mapping[str, Any] = {
    "name": "body-and-parameters",
    "validate_request_body": True,
    "validate_request_parameters": True,
}
GONE_STATUS = "410"
GONE_TEMPLATE = '{"error":{"code":"GONE","message":"This route has been removed."}}'


class RouteTarget(Protocol):
    """Anything API Gateway can proxy to: a PythonFunction, or any Lambda with these two outputs."""

    @property
    def invoke_arn(self) -> pulumi.Input[str]: ...

    @property
    def function_name(self) -> pulumi.Input[str]: ...


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    function: RouteTarget | None
    public: bool = False
    request_schema: str | None = None
    api_key_required: bool = False
    # Names the target in the redeploy fingerprint; defaults to the target's Pulumi resource name.
    label: str | None = None
    # Step 1 of removing a route: keep it in the table with retired=True (function may be None) and `pulumi up`;
    # API Gateway then answers 410 itself and the function's permission goes. Step 2: delete the route. In one step
    # the new deployment would still serve the route (deletes run after the snapshot) without its permission.
    retired: bool = False
    # Full OAuth scope names (`<resource server>/<scope>`): the Method then takes only access tokens carrying one.
    scopes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.function is None and not self.retired:
            raise ValueError(f"route {self.method} {self.path}: a route that is not retired needs a function")
        self.target_label  # noqa: B018 (raises now, not at deploy)

    @property
    def spec(self) -> RouteSpec:
        return RouteSpec(self.method, self.path, self.public, self.request_schema, self.api_key_required,
                         retired=self.retired, scopes=tuple(self.scopes))

    @property
    def target_label(self) -> str:
        if self.retired:
            return "retired"
        if self.label:
            return self.label
        if isinstance(self.function, pulumi.Resource):
            return self.function.pulumi_resource_name
        raise ValueError(f"route {self.method} {self.path}: give a label to a target that is not a Pulumi resource")


@dataclass(frozen=True)
class SecureApiArgs:
    naming: Naming
    stage_name: str
    # The Cognito user pools whose tokens the authorizer accepts (e.g. `[UserPool.arn]`); none = public routes only.
    user_pool_arns: Sequence[pulumi.Input[str]] = ()
    cors_origins: Sequence[str] = ("http://localhost:3000",)
    throttle_burst_limit: int = 100
    throttle_rate_limit: float = 50.0
    usage_plan_enabled: bool = True
    usage_plan_quota_limit: int = 10000
    usage_plan_quota_period: str = "MONTH"
    access_log_retention_days: int = 14
    tracing: bool = False
    tags: Mapping[str, str] = field(default_factory=dict)
    description: str = ""
    schemas_dir: Path = HANDLERS_DIR / "schemas"
    routes: Sequence[Route] = field(default_factory=tuple)
    # Escape hatches: extra inputs for the RestApi and the Stage (e.g. {"endpoint_configuration": ...}).
    endpoint_type: str = "REGIONAL"
    rest_api_args: Mapping[str, Any] = field(default_factory=dict)
    stage_args: Mapping[str, Any] = field(default_factory=dict)
    # What the stage must wait for, e.g. the account's CloudWatch Logs role (ApiGatewayAccount): API Gateway
    # refuses a stage with access logs until the account has one.
    stage_depends_on: Sequence[pulumi.Resource] = ()
    # LocalStack's edge URL (e.g. http://localhost:4566) when the provider's apigateway endpoint points there:
    # `url` is then LocalStack's form, http://<api id>.execute-api.localhost.localstack.cloud:<port>/<stage>.
    local_endpoint: str | None = None

    def __post_init__(self) -> None:
        if not self.cors_origins:
            raise ValueError("cors_origins: at least one origin is required")
        bad = [o for o in self.cors_origins if not ORIGIN.match(o)]
        if bad:
            raise ValueError(f"cors_origins {bad}: each origin must be scheme://host[:port] (no path, no '*')")
        check_range("throttle_burst_limit", self.throttle_burst_limit, 1, 5000)
        check_range("throttle_rate_limit", self.throttle_rate_limit, 0.1, 10000)
        check_range("usage_plan_quota_limit", self.usage_plan_quota_limit, 1, 2_000_000_000)
        if self.usage_plan_quota_period not in QUOTA_PERIODS:
            raise ValueError(f"usage_plan_quota_period must be one of {QUOTA_PERIODS}")
        if self.access_log_retention_days not in LOG_RETENTION_DAYS:
            raise ValueError(f"access_log_retention_days must be one of CloudWatch's periods, got "
                             f"{self.access_log_retention_days}")
        if self.endpoint_type not in ENDPOINT_TYPES:
            raise ValueError(f"endpoint_type must be one of {ENDPOINT_TYPES}")
        if not STAGE_NAME.match(self.stage_name):
            raise ValueError(f"stage_name {self.stage_name!r} must be 1-128 letters, digits, '-' or '_'")
        check_tags(self.tags)
        # Methods, paths, duplicates, sibling parameters, API keys vs the usage plan: refused before any resource.
        check_routes(self.routes, self)

    def with_user_pools(self, *arns: pulumi.Input[str]) -> SecureApiArgs:
        return replace(self, user_pool_arns=arns)


def check_routes(routes: Sequence[Route], args: SecureApiArgs) -> ApiPlan:
    if not args.user_pool_arns:
        protected = [f"{r.method} {r.path}" for r in routes if not r.public]
        if protected:
            raise ValueError(f"routes {protected} need an authorizer: give SecureApiArgs.user_pool_arns")
    return plan_routes([r.spec for r in routes], api_keys_enabled=args.usage_plan_enabled)


class SecureApi(pulumi.ComponentResource):
    rest_api: aws.apigateway.RestApi
    url: pulumi.Output[str]

    def __init__(self, name: str, args: SecureApiArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(component_type("SecureApi"), name, None, with_legacy_alias("SecureApi", opts))
        self._name = name
        self._args = args
        self._routes: list[Route] = []
        self._deployed = False
        child = pulumi.ResourceOptions(parent=self)
        tags = dict(args.tags)

        self.rest_api = aws.apigateway.RestApi(
            f"{name}-rest-api",
            **{
                "name": args.naming.name("api", 128),
                "description": args.description,
                "endpoint_configuration": aws.apigateway.RestApiEndpointConfigurationArgs(types=args.endpoint_type),
                "api_key_source": "HEADER",
                "disable_execute_api_endpoint": False,
                "tags": tags,
                **args.rest_api_args,
            },
            opts=child,
        )
        self.authorizer = (
            aws.apigateway.Authorizer(
                f"{name}-authorizer",
                rest_api=self.rest_api.id,
                provider_arns=list(args.user_pool_arns),
                **AUTHORIZER_SETTINGS,
                opts=child,
            )
            if args.user_pool_arns
            else None
        )
        self.validator = aws.apigateway.RequestValidator(
            f"{name}-validator", rest_api=self.rest_api.id, **VALIDATOR_SETTINGS, opts=child
        )
        self.access_logs = aws.cloudwatch.LogGroup(
            f"{name}-access-logs",
            name=f"/aws/apigateway/{args.naming.name('api', 128)}/{args.stage_name}",
            retention_in_days=args.access_log_retention_days,
            tags=tags,
            opts=child,
        )

        self.execution_arn = self.rest_api.execution_arn
        self.add_routes(args.routes)

    # ------------------------------------------------------------------------------------------ routes

    def add_routes(self, routes: Sequence[Route]) -> None:
        """Register routes; the table is validated now so a bad route fails at its call site."""
        if self._deployed:
            raise RuntimeError("routes must be added before SecureApi.deploy()")
        candidate = [*self._routes, *routes]
        self._plan(candidate)
        self._routes = candidate

    @property
    def route_specs(self) -> tuple[RouteSpec, ...]:
        """The route table as data (what the OpenAPI document is generated from)."""
        return tuple(r.spec for r in self._routes)

    def _plan(self, routes: Sequence[Route]) -> ApiPlan:
        return check_routes(routes, self._args)

    # ---------------------------------------------------------------------------------------- deploy

    def deploy(self) -> aws.apigateway.Stage:
        """Create every route's resources, the CORS preflights, the deployment and the throttled stage."""
        if self._deployed:
            raise RuntimeError("SecureApi.deploy() must be called once")
        self._deployed = True
        name, args = self._name, self._args
        child = pulumi.ResourceOptions(parent=self)
        plan = self._plan(self._routes)
        functions = {r.spec.key: r.function for r in self._routes}

        api_resources = self._create_resources(plan)
        models = self._create_models(plan)
        served: list[pulumi.Resource] = [*self._gateway_responses()]
        for planned in plan.methods:
            served.extend(self._create_method(planned, functions[planned.route.key], api_resources, models))
        for preflight in plan.preflights:
            served.extend(self._create_preflight(preflight.path, preflight.allowed_methods, api_resources))

        fingerprint = deployment_fingerprint(
            plan,
            {r.spec.key: r.target_label for r in self._routes},
            {
                "schemas": {s: self._schema(s) for s in plan.schemas},
                "cors": list(args.cors_origins),
                "headers": CORS_ALLOWED_HEADERS,
                # Gateway responses and preflight templates are part of the deployment snapshot too.
                "gateway_responses": [gateway_response_templates(), gateway_response_parameters(args.cors_origins)],
                "preflight": [preflight_response_template(args.cors_origins)]
                + [preflight_response_parameters(p.allowed_methods) for p in plan.preflights],
                "authorizer": dict(AUTHORIZER_SETTINGS) if self.authorizer is not None else None,
                "validator": dict(VALIDATOR_SETTINGS),
                "gone": GONE_TEMPLATE,
            },
        )
        triggers: dict[str, pulumi.Input[str]] = {"redeployment": fingerprint}
        if args.user_pool_arns:
            # The pools the authorizer trusts are outputs: a replaced pool redeploys the stage too.
            triggers["authorizer-pools"] = pulumi.Output.all(*args.user_pool_arns).apply(lambda arns: ",".join(arns))
        deployment = aws.apigateway.Deployment(
            f"{name}-deployment",
            rest_api=self.rest_api.id,
            description=f"routes {fingerprint[:12]}",
            triggers=triggers,
            opts=pulumi.ResourceOptions(parent=self, depends_on=served),
        )
        self.stage = aws.apigateway.Stage(
            f"{name}-stage",
            **{
                "rest_api": self.rest_api.id,
                "deployment": deployment.id,
                "stage_name": args.stage_name,
                "access_log_settings": aws.apigateway.StageAccessLogSettingsArgs(
                    destination_arn=self.access_logs.arn, format=ACCESS_LOG_FORMAT
                ),
                "xray_tracing_enabled": args.tracing,
                "tags": dict(args.tags),
                **args.stage_args,
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.stage_depends_on)),
        )
        aws.apigateway.MethodSettings(
            f"{name}-method-settings",
            rest_api=self.rest_api.id,
            stage_name=self.stage.stage_name,
            method_path="*/*",
            settings=aws.apigateway.MethodSettingsSettingsArgs(
                metrics_enabled=True,
                throttling_burst_limit=args.throttle_burst_limit,
                throttling_rate_limit=args.throttle_rate_limit,
                data_trace_enabled=False,
            ),
            opts=child,
        )
        self.api_key_id: pulumi.Output[str] | None = None
        if args.usage_plan_enabled:
            self.api_key_id = self._create_usage_plan()

        self.deployment_fingerprint = fingerprint
        self.url = (
            self.stage.invoke_url
            if args.local_endpoint is None
            else self.rest_api.id.apply(lambda api_id: localstack_invoke_url(args.local_endpoint, api_id, args.stage_name))
        )
        self.curl_example = pulumi.Output.concat('curl -H "Authorization: Bearer $ID_TOKEN" ', self.url, "/hello")
        self.register_outputs({"url": self.url, "curl_example": self.curl_example})
        return self.stage

    def _schema(self, schema: str) -> str:
        return (self._args.schemas_dir / f"{schema}.json").read_text()

    def _create_resources(self, plan: ApiPlan) -> dict[str, pulumi.Input[str]]:
        ids: dict[str, pulumi.Input[str]] = {"/": self.rest_api.root_resource_id}
        for path in plan.resource_paths:
            parent_path, _, part = path.rpartition("/")
            resource = aws.apigateway.Resource(
                f"{self._name}-resource-{path}",
                rest_api=self.rest_api.id,
                parent_id=ids[parent_path or "/"],
                path_part=part,
                opts=pulumi.ResourceOptions(parent=self),
            )
            ids[path] = resource.id
        return ids

    def _create_models(self, plan: ApiPlan) -> dict[str, aws.apigateway.Model]:
        return {
            schema: aws.apigateway.Model(
                f"{self._name}-model-{schema}",
                rest_api=self.rest_api.id,
                name=model_name(schema),
                content_type="application/json",
                schema=self._schema(schema),
                opts=pulumi.ResourceOptions(parent=self),
            )
            for schema in plan.schemas
        }

    def _create_method(
        self,
        planned: PlannedMethod,
        function: RouteTarget | None,
        resource_ids: dict[str, pulumi.Input[str]],
        models: dict[str, aws.apigateway.Model],
    ) -> list[pulumi.Resource]:
        route = planned.route
        label = f"{self._name}-{route.method}-{route.path}"
        child = pulumi.ResourceOptions(parent=self)
        schema = None if route.retired else route.request_schema
        method = aws.apigateway.Method(
            f"{label}-method",
            rest_api=self.rest_api.id,
            resource_id=resource_ids[route.path],
            http_method=route.method,
            authorization=planned.authorization,
            authorizer_id=None if route.public or self.authorizer is None else self.authorizer.id,
            # With scopes the Cognito authorizer admits only access tokens carrying one of them (no ID tokens).
            authorization_scopes=list(route.scopes) or None,
            api_key_required=route.api_key_required,
            request_parameters={f"method.request.path.{p}": True for p in planned.path_parameters} or None,
            request_models={"application/json": models[schema].name} if schema else None,
            request_validator_id=self.validator.id if (schema or planned.path_parameters) else None,
            opts=child,
        )
        # An integration's id is its method (agi-<api>-<resource>-<METHOD>) and `type` is ForceNew: replaced
        # create-before-delete, the old half's DeleteIntegration would remove the new one. Delete first.
        replace_in_place = pulumi.ResourceOptions(parent=self, delete_before_replace=True)
        if route.retired:
            return [method, *self._gone(label, method, resource_ids[route.path], replace_in_place)]
        integration = aws.apigateway.Integration(
            f"{label}-integration",
            rest_api=self.rest_api.id,
            resource_id=resource_ids[route.path],
            http_method=method.http_method,
            type="AWS_PROXY",
            integration_http_method="POST",
            uri=function.invoke_arn,
            opts=replace_in_place,
        )
        permission = aws.lambda_.Permission(
            f"{label}-permission",
            # Explicit: the provider's auto-name keeps the route's '/', '{', '}', which AWS refuses.
            statement_id=statement_id(f"{label}-permission"),
            action="lambda:InvokeFunction",
            function=function.function_name,
            principal="apigateway.amazonaws.com",
            source_arn=self.rest_api.execution_arn.apply(planned.source_arn),
            opts=child,
        )
        return [method, integration, permission]

    def _gone(self, label: str, method: aws.apigateway.Method, resource_id: pulumi.Input[str],
              integration_opts: pulumi.ResourceOptions) -> list[pulumi.Resource]:
        """A retired route: API Gateway answers 410 with the usual error body, no function behind it."""
        child = pulumi.ResourceOptions(parent=self)
        integration = aws.apigateway.Integration(
            f"{label}-integration",
            rest_api=self.rest_api.id,
            resource_id=resource_id,
            http_method=method.http_method,
            type="MOCK",
            request_templates={"application/json": f'{{"statusCode": {GONE_STATUS}}}'},
            opts=integration_opts,
        )
        method_response = aws.apigateway.MethodResponse(
            f"{label}-gone-response",
            rest_api=self.rest_api.id,
            resource_id=resource_id,
            http_method=method.http_method,
            status_code=GONE_STATUS,
            opts=child,
        )
        integration_response = aws.apigateway.IntegrationResponse(
            f"{label}-gone-integration-response",
            rest_api=self.rest_api.id,
            resource_id=resource_id,
            http_method=method.http_method,
            status_code=method_response.status_code,
            response_templates={"application/json": GONE_TEMPLATE},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[integration]),
        )
        return [integration, method_response, integration_response]

    def _create_preflight(
        self, path: str, allowed_methods: Sequence[str], resource_ids: dict[str, pulumi.Input[str]]
    ) -> list[pulumi.Resource]:
        label = f"{self._name}-OPTIONS-{path}"
        child = pulumi.ResourceOptions(parent=self)
        headers = (
            "Access-Control-Allow-Headers",
            "Access-Control-Allow-Methods",
            "Access-Control-Allow-Origin",
            "Access-Control-Allow-Credentials",
            "Access-Control-Max-Age",
            "Vary",
        )
        # Browsers send preflights without credentials: OPTIONS is the one method that is never authorized.
        method = aws.apigateway.Method(
            f"{label}-method",
            rest_api=self.rest_api.id,
            resource_id=resource_ids[path],
            http_method="OPTIONS",
            authorization="NONE",
            opts=child,
        )
        integration = aws.apigateway.Integration(
            f"{label}-integration",
            rest_api=self.rest_api.id,
            resource_id=resource_ids[path],
            http_method=method.http_method,
            type="MOCK",
            request_templates={"application/json": '{"statusCode": 200}'},
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
        )
        method_response = aws.apigateway.MethodResponse(
            f"{label}-method-response",
            rest_api=self.rest_api.id,
            resource_id=resource_ids[path],
            http_method=method.http_method,
            status_code="200",
            response_parameters={f"method.response.header.{h}": False for h in headers},
            opts=child,
        )
        integration_response = aws.apigateway.IntegrationResponse(
            f"{label}-integration-response",
            rest_api=self.rest_api.id,
            resource_id=resource_ids[path],
            http_method=method.http_method,
            status_code=method_response.status_code,
            response_parameters=preflight_response_parameters(allowed_methods),
            response_templates={"application/json": preflight_response_template(self._args.cors_origins)},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[integration]),
        )
        return [method, integration, method_response, integration_response]

    def _gateway_responses(self) -> list[aws.apigateway.Response]:
        parameters = gateway_response_parameters(self._args.cors_origins)
        templates = gateway_response_templates()
        return [
            aws.apigateway.Response(
                f"{self._name}-response-{response_type}",
                rest_api_id=self.rest_api.id,
                response_type=response_type,
                response_parameters=parameters,
                response_templates={"application/json": template},
                opts=pulumi.ResourceOptions(parent=self),
            )
            for response_type, template in templates.items()
        ]

    def _create_usage_plan(self) -> pulumi.Output[str]:
        args = self._args
        child = pulumi.ResourceOptions(parent=self)
        plan = aws.apigateway.UsagePlan(
            f"{self._name}-usage-plan",
            name=args.naming.name("usage-plan", 128),
            api_stages=[aws.apigateway.UsagePlanApiStageArgs(api_id=self.rest_api.id, stage=self.stage.stage_name)],
            throttle_settings=aws.apigateway.UsagePlanThrottleSettingsArgs(
                burst_limit=args.throttle_burst_limit, rate_limit=args.throttle_rate_limit
            ),
            quota_settings=aws.apigateway.UsagePlanQuotaSettingsArgs(
                limit=args.usage_plan_quota_limit, period=args.usage_plan_quota_period
            ),
            tags=dict(args.tags),
            opts=child,
        )
        key = aws.apigateway.ApiKey(
            f"{self._name}-api-key",
            name=args.naming.name("api-key", 128),
            enabled=True,
            tags=dict(args.tags),
            opts=child,
        )
        aws.apigateway.UsagePlanKey(
            f"{self._name}-usage-plan-key", key_id=key.id, key_type="API_KEY", usage_plan_id=plan.id, opts=child
        )
        return key.id

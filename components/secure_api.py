"""SecureApi: Cognito user pool + one REST API per stack, deny-by-default, built from a route table.

Components add their routes with `add_routes(...)`; `deploy()` (called once by the program, after every
component) turns the whole table into resources, methods, preflights, the deployment and the stage. The
plan is computed by `components.api_plan`, so what is deployed is exactly what the tests property-check.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.api_plan import (
    CORS_ALLOWED_HEADERS,
    ApiPlan,
    PlannedMethod,
    RouteSpec,
    deployment_fingerprint,
    model_name,
    plan_routes,
    preflight_response_template,
)
from components.function import HANDLERS_DIR, PythonFunction
from components.naming import statement_id
from components.settings import Settings

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


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    function: PythonFunction
    public: bool = False
    request_schema: str | None = None
    api_key_required: bool = False

    @property
    def spec(self) -> RouteSpec:
        return RouteSpec(self.method, self.path, self.public, self.request_schema, self.api_key_required)


@dataclass(frozen=True)
class SecureApiArgs:
    settings: Settings
    routes: Sequence[Route] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        # Methods, paths, duplicates, sibling parameters, API keys vs the usage plan: refused before any resource.
        plan_routes([r.spec for r in self.routes], api_keys_enabled=self.settings.usage_plan.enabled)


class SecureApi(pulumi.ComponentResource):
    user_pool: aws.cognito.UserPool
    user_pool_client: aws.cognito.UserPoolClient
    rest_api: aws.apigateway.RestApi
    user_pool_id: pulumi.Output[str]
    user_pool_arn: pulumi.Output[str]
    user_pool_client_id: pulumi.Output[str]
    url: pulumi.Output[str]

    def __init__(self, name: str, args: SecureApiArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("app:components:SecureApi", name, None, opts)
        self._name = name
        self._settings = settings = args.settings
        self._routes: list[Route] = []
        self._deployed = False
        cognito = settings.cognito
        child = pulumi.ResourceOptions(parent=self)
        protected = pulumi.ResourceOptions(
            parent=self, protect=settings.protect_data, retain_on_delete=settings.protect_data
        )

        self.user_pool = aws.cognito.UserPool(
            f"{name}-users",
            name=settings.resource_name("users", 128),
            username_attributes=["email"],
            auto_verified_attributes=["email"],
            username_configuration=aws.cognito.UserPoolUsernameConfigurationArgs(case_sensitive=False),
            # Sign-up goes through POST /register (validated, rate-limited); the public SignUp API is closed.
            admin_create_user_config=aws.cognito.UserPoolAdminCreateUserConfigArgs(allow_admin_create_user_only=True),
            password_policy=aws.cognito.UserPoolPasswordPolicyArgs(
                minimum_length=cognito.password_policy.min_length,
                require_lowercase=cognito.password_policy.require_lowercase,
                require_uppercase=cognito.password_policy.require_uppercase,
                require_numbers=cognito.password_policy.require_numbers,
                require_symbols=cognito.password_policy.require_symbols,
                temporary_password_validity_days=cognito.password_policy.temporary_password_validity_days,
            ),
            account_recovery_setting=aws.cognito.UserPoolAccountRecoverySettingArgs(
                recovery_mechanisms=[
                    aws.cognito.UserPoolAccountRecoverySettingRecoveryMechanismArgs(name="verified_email", priority=1)
                ]
            ),
            mfa_configuration=cognito.mfa_mode,
            software_token_mfa_configuration=(
                aws.cognito.UserPoolSoftwareTokenMfaConfigurationArgs(enabled=True)
                if cognito.mfa_mode != "OFF"
                else None
            ),
            deletion_protection="ACTIVE" if cognito.deletion_protection else "INACTIVE",
            tags=dict(settings.tags),
            opts=protected,
        )
        self.groups = [
            aws.cognito.UserGroup(
                f"{name}-group-{group}",
                user_pool_id=self.user_pool.id,
                name=group,
                description=f"{group} of {settings.stack}; appears in the cognito:groups claim",
                opts=child,
            )
            for group in cognito.groups
        ]
        self.user_pool_client = aws.cognito.UserPoolClient(
            f"{name}-client",
            name=settings.resource_name("client", 128),
            user_pool_id=self.user_pool.id,
            generate_secret=False,
            explicit_auth_flows=list(cognito.auth_flows),
            prevent_user_existence_errors="ENABLED",
            enable_token_revocation=True,
            supported_identity_providers=["COGNITO"],
            access_token_validity=cognito.access_token_minutes,
            id_token_validity=cognito.id_token_minutes,
            refresh_token_validity=cognito.refresh_token_days,
            token_validity_units=aws.cognito.UserPoolClientTokenValidityUnitsArgs(
                access_token="minutes", id_token="minutes", refresh_token="days"
            ),
            opts=child,
        )
        self.rest_api = aws.apigateway.RestApi(
            f"{name}-rest-api",
            name=settings.resource_name("api", 128),
            description=f"{settings.project} API ({settings.stack})",
            endpoint_configuration=aws.apigateway.RestApiEndpointConfigurationArgs(types="REGIONAL"),
            api_key_source="HEADER",
            disable_execute_api_endpoint=False,
            tags=dict(settings.tags),
            opts=child,
        )
        self.authorizer = aws.apigateway.Authorizer(
            f"{name}-authorizer",
            name="CognitoAuthorizer",
            rest_api=self.rest_api.id,
            type="COGNITO_USER_POOLS",
            provider_arns=[self.user_pool.arn],
            identity_source="method.request.header.Authorization",
            opts=child,
        )
        self.validator = aws.apigateway.RequestValidator(
            f"{name}-validator",
            name="body-and-parameters",
            rest_api=self.rest_api.id,
            validate_request_body=True,
            validate_request_parameters=True,
            opts=child,
        )
        self.access_logs = aws.cloudwatch.LogGroup(
            f"{name}-access-logs",
            name=f"/aws/apigateway/{settings.resource_name('api', 128)}/{settings.stack}",
            retention_in_days=settings.log_retention_days,
            tags=dict(settings.tags),
            opts=child,
        )

        self.user_pool_id = self.user_pool.id
        self.user_pool_arn = self.user_pool.arn
        self.user_pool_client_id = self.user_pool_client.id
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

    def _plan(self, routes: Sequence[Route]) -> ApiPlan:
        return plan_routes([r.spec for r in routes], api_keys_enabled=self._settings.usage_plan.enabled)

    # ---------------------------------------------------------------------------------------- deploy

    def deploy(self) -> aws.apigateway.Stage:
        """Create every route's resources, the CORS preflights, the deployment and the throttled stage."""
        if self._deployed:
            raise RuntimeError("SecureApi.deploy() must be called once")
        self._deployed = True
        name, settings = self._name, self._settings
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
            {key: fn._name for key, fn in functions.items()},
            {
                "schemas": {s: (HANDLERS_DIR / "schemas" / f"{s}.json").read_text() for s in plan.schemas},
                "cors": list(settings.cors_origins),
                "headers": CORS_ALLOWED_HEADERS,
                # Gateway responses and preflight templates are part of the deployment snapshot too.
                "gateway_responses": [gateway_response_templates(), gateway_response_parameters(settings.cors_origins)],
                "preflight": [preflight_response_template(settings.cors_origins)]
                + [preflight_response_parameters(p.allowed_methods) for p in plan.preflights],
            },
        )
        deployment = aws.apigateway.Deployment(
            f"{name}-deployment",
            rest_api=self.rest_api.id,
            description=f"routes {fingerprint[:12]}",
            triggers={"redeployment": fingerprint},
            opts=pulumi.ResourceOptions(parent=self, depends_on=served),
        )
        self.stage = aws.apigateway.Stage(
            f"{name}-stage",
            rest_api=self.rest_api.id,
            deployment=deployment.id,
            stage_name=settings.stack,
            access_log_settings=aws.apigateway.StageAccessLogSettingsArgs(
                destination_arn=self.access_logs.arn, format=ACCESS_LOG_FORMAT
            ),
            xray_tracing_enabled=settings.lambda_defaults.tracing,
            tags=dict(settings.tags),
            opts=child,
        )
        aws.apigateway.MethodSettings(
            f"{name}-method-settings",
            rest_api=self.rest_api.id,
            stage_name=self.stage.stage_name,
            method_path="*/*",
            settings=aws.apigateway.MethodSettingsSettingsArgs(
                metrics_enabled=True,
                throttling_burst_limit=settings.throttle.burst_limit,
                throttling_rate_limit=settings.throttle.rate_limit,
                data_trace_enabled=False,
            ),
            opts=child,
        )
        self.api_key_id: pulumi.Output[str] | None = None
        if settings.usage_plan.enabled:
            self.api_key_id = self._create_usage_plan()

        self.deployment_fingerprint = fingerprint
        self.url = self.stage.invoke_url
        self.curl_example = pulumi.Output.concat('curl -H "Authorization: Bearer $ID_TOKEN" ', self.url, "/hello")
        self.register_outputs(
            {
                "url": self.url,
                "user_pool_id": self.user_pool_id,
                "user_pool_arn": self.user_pool_arn,
                "user_pool_client_id": self.user_pool_client_id,
                "curl_example": self.curl_example,
            }
        )
        return self.stage

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
                schema=(HANDLERS_DIR / "schemas" / f"{schema}.json").read_text(),
                opts=pulumi.ResourceOptions(parent=self),
            )
            for schema in plan.schemas
        }

    def _create_method(
        self,
        planned: PlannedMethod,
        function: PythonFunction,
        resource_ids: dict[str, pulumi.Input[str]],
        models: dict[str, aws.apigateway.Model],
    ) -> list[pulumi.Resource]:
        route = planned.route
        label = f"{self._name}-{route.method}-{route.path}"
        child = pulumi.ResourceOptions(parent=self)
        schema = route.request_schema
        method = aws.apigateway.Method(
            f"{label}-method",
            rest_api=self.rest_api.id,
            resource_id=resource_ids[route.path],
            http_method=route.method,
            authorization=planned.authorization,
            authorizer_id=None if route.public else self.authorizer.id,
            api_key_required=route.api_key_required,
            request_parameters={f"method.request.path.{p}": True for p in planned.path_parameters} or None,
            request_models={"application/json": models[schema].name} if schema else None,
            request_validator_id=self.validator.id if (schema or planned.path_parameters) else None,
            opts=child,
        )
        integration = aws.apigateway.Integration(
            f"{label}-integration",
            rest_api=self.rest_api.id,
            resource_id=resource_ids[route.path],
            http_method=method.http_method,
            type="AWS_PROXY",
            integration_http_method="POST",
            uri=function.invoke_arn,
            opts=child,
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
            opts=child,
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
            response_templates={"application/json": preflight_response_template(self._settings.cors_origins)},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[integration]),
        )
        return [method, integration, method_response, integration_response]

    def _gateway_responses(self) -> list[aws.apigateway.Response]:
        parameters = gateway_response_parameters(self._settings.cors_origins)
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
        usage = self._settings.usage_plan
        throttle = self._settings.throttle
        child = pulumi.ResourceOptions(parent=self)
        plan = aws.apigateway.UsagePlan(
            f"{self._name}-usage-plan",
            name=self._settings.resource_name("usage-plan", 128),
            api_stages=[aws.apigateway.UsagePlanApiStageArgs(api_id=self.rest_api.id, stage=self.stage.stage_name)],
            throttle_settings=aws.apigateway.UsagePlanThrottleSettingsArgs(
                burst_limit=throttle.burst_limit, rate_limit=throttle.rate_limit
            ),
            quota_settings=aws.apigateway.UsagePlanQuotaSettingsArgs(
                limit=usage.quota_limit, period=usage.quota_period
            ),
            tags=dict(self._settings.tags),
            opts=child,
        )
        key = aws.apigateway.ApiKey(
            f"{self._name}-api-key",
            name=self._settings.resource_name("api-key", 128),
            enabled=True,
            tags=dict(self._settings.tags),
            opts=child,
        )
        aws.apigateway.UsagePlanKey(
            f"{self._name}-usage-plan-key", key_id=key.id, key_type="API_KEY", usage_plan_id=plan.id, opts=child
        )
        return key.id

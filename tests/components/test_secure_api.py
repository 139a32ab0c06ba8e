"""SecureApi's resource contract under recording mocks."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace

import pulumi
import pulumi_aws as aws
import pytest

from components.function import PythonFunction, PythonFunctionArgs
from components.naming import Naming
from components.secure_api import Route, SecureApi, SecureApiArgs
from tests.graph import dependency, routes
from tests.programs import foundation_api, load_stack


def build(extra_routes=(), deploy=True):
    """A program: the two foundation routes plus `extra_routes(settings, hello) -> [Route]`."""

    def program():
        stack = load_stack()
        api, hello = foundation_api(stack)
        api.add_routes(list(extra_routes(stack, hello)) if callable(extra_routes) else [])
        if deploy:
            api.deploy()
        return api

    return program


def trigger(run):
    return run.of_type("aws:apigateway/deployment:Deployment")[0].inputs["triggers"]["redeployment"]


def test_deployment_trigger_changes_when_a_route_changes_and_not_otherwise(run_pulumi) -> None:
    base = trigger(run_pulumi(build()))
    assert trigger(run_pulumi(build())) == base
    # Unrelated config (retention) does not redeploy the stage.
    assert trigger(run_pulumi(build(), config={"logRetentionDays": 30})) == base
    added = trigger(run_pulumi(build(lambda s, hello: [Route("GET", "/hello/{name}", hello)])))
    assert added != base
    made_public = trigger(run_pulumi(build(lambda s, hello: [Route("GET", "/hello/{name}", hello, public=True)])))
    assert made_public not in (base, added)
    with_schema = trigger(run_pulumi(build(lambda s, hello: [Route("POST", "/hello", hello, request_schema="register")])))
    assert with_schema != base
    cors = trigger(run_pulumi(build(), config={"corsAllowedOrigins": ["http://localhost:8080"]}))
    assert cors != base


def test_deployment_trigger_covers_gateway_response_and_preflight_templates(run_pulumi, monkeypatch) -> None:
    # Gateway responses and MOCK integration responses only reach the stage with a new deployment.
    import components.api_plan as api_plan
    import components.secure_api as secure_api

    base = trigger(run_pulumi(build()))
    monkeypatch.setattr(secure_api, "GATEWAY_ERROR_TEMPLATE", '{"error":{"code":"$context.error.responseType"}}')
    changed_response = trigger(run_pulumi(build()))
    assert changed_response != base
    monkeypatch.undo()
    original = api_plan.preflight_response_template
    monkeypatch.setattr(secure_api, "preflight_response_template", lambda origins: original(origins) + "\n")
    changed_template = trigger(run_pulumi(build()))
    assert changed_template not in (base, changed_response)
    monkeypatch.undo()
    # Static CORS headers of preflights and gateway responses are part of the snapshot as well.
    for function in ("preflight_response_parameters", "gateway_response_parameters"):
        original_parameters = getattr(secure_api, function)
        monkeypatch.setattr(secure_api, function,
                            lambda *a, _f=original_parameters: {**_f(*a), "method.response.header.X-Extra": "'1'"})
        assert trigger(run_pulumi(build())) not in (base, changed_response, changed_template)
        monkeypatch.undo()


def test_args_refuse_an_invalid_route_table_before_any_resource(run_pulumi) -> None:
    def program():
        stack = load_stack()
        hello = PythonFunction("hello", PythonFunctionArgs(handler="hello", defaults=stack.functions))
        replace(stack.api, routes=[Route("GET", "/a/{id}", hello, public=True), Route("GET", "/a/{key}", hello, public=True)])

    with pytest.raises(ValueError, match="conflicts with"):
        run_pulumi(program)


def test_user_pool_matches_the_seed_lab_with_secure_defaults(run_pulumi) -> None:
    run = run_pulumi(build())
    pool = run.of_type("aws:cognito/userPool:UserPool")[0].inputs
    assert pool["usernameAttributes"] == ["email"]
    assert pool["autoVerifiedAttributes"] == ["email"]
    assert pool["adminCreateUserConfig"]["allowAdminCreateUserOnly"] is True
    assert pool["accountRecoverySetting"]["recoveryMechanisms"] == [{"name": "verified_email", "priority": 1}]
    assert pool["passwordPolicy"]["minimumLength"] == 8
    client = run.of_type("aws:cognito/userPoolClient:UserPoolClient")[0].inputs
    assert client["generateSecret"] is False
    assert client["preventUserExistenceErrors"] == "ENABLED"
    assert (client["accessTokenValidity"], client["idTokenValidity"], client["refreshTokenValidity"]) == (60, 60, 30)
    assert client["tokenValidityUnits"] == {"accessToken": "minutes", "idToken": "minutes", "refreshToken": "days"}
    assert "ALLOW_USER_PASSWORD_AUTH" in client["explicitAuthFlows"]
    groups = [g.inputs["name"] for g in run.of_type("aws:cognito/userGroup:UserGroup")]
    assert groups == ["admins"]


def test_mfa_and_groups_follow_settings(run_pulumi) -> None:
    run = run_pulumi(build(), config={"mfaMode": "ON", "userGroups": ["admins", "support"]})
    pool = run.of_type("aws:cognito/userPool:UserPool")[0].inputs
    assert pool["mfaConfiguration"] == "ON"
    assert pool["softwareTokenMfaConfiguration"] == {"enabled": True}
    assert sorted(g.inputs["name"] for g in run.of_type("aws:cognito/userGroup:UserGroup")) == ["admins", "support"]


def test_schema_routes_get_a_model_and_the_body_validator(run_pulumi) -> None:
    run = run_pulumi(build(lambda s, hello: [Route("POST", "/hello", hello, request_schema="register")]))
    model = run.of_type("aws:apigateway/model:Model")[0]
    assert model.inputs["name"] == "RegisterModel"
    assert json.loads(model.inputs["schema"])["$schema"].startswith("http://json-schema.org/draft-04")
    post = routes(run)["POST /hello"].resource
    assert post.inputs["requestModels"] == {"application/json": "RegisterModel"}
    validator = dependency(run, post, "requestValidatorId")
    assert validator.inputs["validateRequestBody"] is True
    get = routes(run)["GET /hello"].resource
    assert "requestValidatorId" not in get.inputs or not get.inputs["requestValidatorId"]


def test_path_parameters_are_required_request_parameters(run_pulumi) -> None:
    run = run_pulumi(build(lambda s, hello: [Route("GET", "/hello/{name}", hello)]))
    method = routes(run)["GET /hello/{name}"].resource
    assert method.inputs["requestParameters"] == {"method.request.path.name": True}


def test_gateway_errors_are_json_with_cors_for_the_single_prod_origin(run_pulumi) -> None:
    run = run_pulumi(build(), stack="prod")
    responses = {r.inputs["responseType"]: r.inputs for r in run.of_type("aws:apigateway/response:Response")}
    assert set(responses) == {"DEFAULT_4XX", "DEFAULT_5XX", "BAD_REQUEST_BODY"}
    for response in responses.values():
        assert response["responseParameters"]["gatewayresponse.header.Access-Control-Allow-Origin"] == (
            "'https://app.example.com'")
        assert '"error"' in response["responseTemplates"]["application/json"]


def test_preflights_are_mock_integrations_echoing_only_allowed_origins(run_pulumi) -> None:
    run = run_pulumi(build())
    responses = run.of_type("aws:apigateway/integrationResponse:IntegrationResponse")
    assert len(responses) == 2
    for response in responses:
        template = response.inputs["responseTemplates"]["application/json"]
        assert '"http://localhost:3000", "http://localhost:5173"' in template
        parameters = response.inputs["responseParameters"]
        assert parameters["method.response.header.Access-Control-Allow-Methods"] == "'GET,OPTIONS'"
        assert parameters["method.response.header.Access-Control-Allow-Credentials"] == "'true'"
        assert parameters["method.response.header.Access-Control-Max-Age"] == "'600'"
    for method_response in run.of_type("aws:apigateway/methodResponse:MethodResponse"):
        declared = set(method_response.inputs["responseParameters"])
        assert {f"method.response.header.{h}" for h in ("Access-Control-Allow-Origin", "Access-Control-Allow-Credentials",
                                                        "Access-Control-Max-Age", "Vary")} <= declared


def test_usage_plan_binds_stage_throttle_quota_and_key(run_pulumi) -> None:
    run = run_pulumi(build())
    plan = run.of_type("aws:apigateway/usagePlan:UsagePlan")[0].inputs
    assert plan["throttleSettings"] == {"burstLimit": 100, "rateLimit": 50}
    assert plan["quotaSettings"] == {"limit": 10000, "period": "MONTH"}
    assert plan["apiStages"][0]["stage"] == "dev"
    assert len(run.of_type("aws:apigateway/apiKey:ApiKey")) == 1
    assert len(run.of_type("aws:apigateway/usagePlanKey:UsagePlanKey")) == 1
    disabled = run_pulumi(build(), config={"usagePlanEnabled": False})
    assert disabled.of_type("aws:apigateway/usagePlan:UsagePlan") == []


def test_routes_after_deploy_and_duplicates_fail_at_the_call_site(run_pulumi) -> None:
    def late_route():
        api = build()()
        api.add_routes([Route("GET", "/late", api._routes[0].function)])

    with pytest.raises(RuntimeError, match="before SecureApi.deploy"):
        run_pulumi(late_route)
    with pytest.raises(ValueError, match="duplicate route 'GET /hello'"):
        run_pulumi(build(lambda s, hello: [Route("GET", "/hello", hello, public=True)]))


def test_component_outputs_are_registered(run_pulumi) -> None:
    run = run_pulumi(build())
    [api] = run.of_type("secure-serverless:components:SecureApi")
    outputs = run.component_outputs[api.urn]
    assert outputs["url"].endswith("/dev")
    assert set(outputs) == {"url", "curl_example"}
    [pool] = run.of_type("secure-serverless:components:UserPool")
    assert set(run.component_outputs[pool.urn]) == {"user_pool_id", "arn", "client_id"}


# ----------------------------------------------------------------------------- SecureApi alone, explicit Args


@dataclass(frozen=True)
class ExternalLambda:
    """Not a PythonFunction: any Lambda with an invoke ARN and a function name can be a route target."""

    invoke_arn: pulumi.Output[str]
    function_name: pulumi.Output[str]


def standalone(**overrides):
    def program():
        fn = aws.lambda_.Function("ext", role="arn:aws:iam::123456789012:role/r", runtime="python3.12",
                                  handler="x.handler", code=pulumi.AssetArchive({}))
        target = ExternalLambda(fn.invoke_arn, fn.name)
        args = SecureApiArgs(naming=Naming("shop-test"), stage_name="v1", cors_origins=("https://shop.example",),
                             **overrides)
        api = SecureApi("shop", args)
        api.add_routes([Route("GET", "/ping", target, public=True, label="ext")])
        api.deploy()

    return program


def test_secure_api_alone_from_explicit_args_with_any_lambda(run_pulumi) -> None:
    run = run_pulumi(standalone())
    [api] = run.of_type("aws:apigateway/restApi:RestApi")
    assert api.inputs["name"] == "shop-test-api"
    assert api.inputs["endpointConfiguration"]["types"] == "REGIONAL"
    assert run.of_type("aws:apigateway/authorizer:Authorizer") == []  # no pool: public routes only
    [integration] = [i for i in run.of_type("aws:apigateway/integration:Integration") if i.inputs["type"] == "AWS_PROXY"]
    assert integration.inputs["uri"] == run.named("ext").outputs["invokeArn"]
    assert run.of_type("aws:apigateway/stage:Stage")[0].inputs["stageName"] == "v1"


def test_escape_hatches_reach_the_rest_api_and_stage(run_pulumi) -> None:
    run = run_pulumi(standalone(endpoint_type="EDGE", rest_api_args={"minimum_compression_size": 1024},
                                stage_args={"cache_cluster_enabled": False}))
    api = run.of_type("aws:apigateway/restApi:RestApi")[0].inputs
    assert api["endpointConfiguration"]["types"] == "EDGE" and api["minimumCompressionSize"] == 1024
    assert run.of_type("aws:apigateway/stage:Stage")[0].inputs["cacheClusterEnabled"] is False


def test_args_refuse_bad_values_and_protected_routes_without_a_pool() -> None:
    naming = Naming("shop-test")
    with pytest.raises(ValueError, match="endpoint_type"):
        SecureApiArgs(naming=naming, stage_name="v1", endpoint_type="GLOBAL")
    with pytest.raises(ValueError, match="cors_origins"):
        SecureApiArgs(naming=naming, stage_name="v1", cors_origins=("*",))
    with pytest.raises(ValueError, match="throttle_burst_limit"):
        SecureApiArgs(naming=naming, stage_name="v1", throttle_burst_limit=0)
    with pytest.raises(ValueError, match="stage_name"):
        SecureApiArgs(naming=naming, stage_name="a/b")
    target = ExternalLambda("arn", "fn")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="need an authorizer"):
        SecureApiArgs(naming=naming, stage_name="v1", routes=[Route("GET", "/x", target, label="x")])


def test_a_target_that_is_not_a_resource_needs_a_label() -> None:
    target = ExternalLambda("arn", "fn")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="label"):
        Route("GET", "/x", target)

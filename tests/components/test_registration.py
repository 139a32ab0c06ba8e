"""UserRegistration: a public, schema-validated POST /register whose function can do exactly four things."""

from __future__ import annotations

import json

import pytest

from components.email_sender import EmailSender
from components.function import HANDLERS_DIR
from components.registration import UserRegistration, UserRegistrationArgs
from components.user_pool import ADMIN_ACTIONS as COGNITO_ACTIONS
from offline.runtime import stacks
from tests.graph import PERMISSION, actions_by_resource, dependency, role_statements, routes
from tests.programs import foundation_api, load_stack

PUBLIC_ROUTES = {"GET /health", "POST /register"}


def program():
    stack = load_stack()
    api, _ = foundation_api(stack)
    email = EmailSender("email", stack.email)
    registration = UserRegistration("registration", UserRegistrationArgs(
        functions=stack.functions, user_pool=api.users.admin_link(), email=email.producer_link()))
    api.add_routes(registration.routes)
    api.deploy()


@pytest.fixture(params=["dev", "prod"])
def run(run_pulumi, request):
    return run_pulumi(program, stack=request.param)


def register_role_grants(run, component_name: str = "registration-register"):
    grants = actions_by_resource(role_statements(run, component_name))
    log_arn = run.named(f"{component_name}-logs").outputs["arn"] + ":*"
    assert grants.pop(log_arn) == {"logs:CreateLogStream", "logs:PutLogEvents"}
    if run.stack == "prod":
        assert grants.pop("*") == {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}
    return grants


def test_register_role_is_exactly_three_pool_actions_and_enqueue(run) -> None:
    pool_arn = run.of_type("aws:cognito/userPool:UserPool")[0].outputs["arn"]
    outbox_arn = run.named("email-outbox").outputs["arn"]

    assert register_role_grants(run) == {
        pool_arn: {"cognito-idp:AdminCreateUser", "cognito-idp:AdminSetUserPassword", "cognito-idp:AdminDeleteUser"},
        outbox_arn: {"sqs:SendMessage"},
    }
    assert set(COGNITO_ACTIONS) == {"cognito-idp:AdminCreateUser", "cognito-idp:AdminSetUserPassword",
                                    "cognito-idp:AdminDeleteUser"}


def test_register_route_is_public_validated_and_invokes_only_the_register_function(run) -> None:
    table = routes(run)
    view = table["POST /register"]
    assert view.authorization == "NONE" and view.authorizer_urn is None
    assert view.resource.inputs["requestModels"] == {"application/json": "RegisterModel"}
    validator = dependency(run, view.resource, "requestValidatorId")
    assert validator.inputs["validateRequestBody"] is True
    [model] = [m for m in run.of_type("aws:apigateway/model:Model") if m.inputs["name"] == "RegisterModel"]
    assert json.loads(model.inputs["schema"]) == json.loads((HANDLERS_DIR / "schemas" / "register.json").read_text())

    function = run.named("registration-register-function")
    [integration] = [i for i in run.of_type("aws:apigateway/integration:Integration")
                     if i.inputs.get("uri") == function.outputs["invokeArn"]]
    assert integration.inputs["type"] == "AWS_PROXY"
    execution_arn = run.of_type("aws:apigateway/restApi:RestApi")[0].outputs["executionArn"]
    [permission] = [p for p in run.of_type(PERMISSION) if p.inputs["function"] == function.outputs["name"]]
    assert permission.inputs["sourceArn"] == f"{execution_arn}/*/POST/register"


def test_public_routes_are_health_and_register_only(run) -> None:
    public = {k for k, v in routes(run).items() if v.authorization == "NONE" and v.method != "OPTIONS"}
    assert public == PUBLIC_ROUTES


def test_register_function_gets_its_env_contract_and_ships_its_schema(run) -> None:
    function = run.named("registration-register-function").inputs
    variables = function["environment"]["variables"]
    assert variables["USER_POOL_ID"] == run.of_type("aws:cognito/userPool:UserPool")[0].id
    assert variables["EMAIL_QUEUE_URL"] == run.named("email-outbox").outputs["url"]
    assert function["handler"] == "handlers.register_user.handler"
    assert "handlers/schemas/register.json" in function["code"]["__archive"]


def test_registration_args_refuse_links_that_do_not_fit() -> None:
    from components.function import FunctionDefaults, Link, Statement
    from components.naming import Naming

    pool = Link(env={"USER_POOL_ID": "p"}, statements=[Statement(["cognito-idp:AdminCreateUser"], ["arn:pool"])])
    outbox = Link(env={"EMAIL_QUEUE_URL": "u"}, statements=[Statement(["sqs:SendMessage"], ["arn:q"])])
    functions = FunctionDefaults(naming=Naming("p-dev"))
    UserRegistrationArgs(functions=functions, user_pool=pool, email=outbox)
    with pytest.raises(ValueError, match="admin_link"):
        UserRegistrationArgs(functions=functions, user_pool=outbox, email=outbox)


def test_component_outputs_are_registered(run) -> None:
    outputs = run.component_outputs[run.named("registration").urn]
    assert outputs == {"function_name": run.named("registration-register-function").outputs["name"],
                       "path": "/register"}


# ---------------------------------------------------------------------------------- the whole program
# These read __main__.py: they pass once it wires EmailSender and UserRegistration.


@pytest.fixture(scope="module", params=stacks())
def stack_run(request):
    from offline.runtime import run_stack

    return run_stack(request.param)


def test_every_stack_exposes_only_health_and_register_publicly(stack_run) -> None:
    public = {k for k, v in routes(stack_run).items() if v.authorization == "NONE" and v.method != "OPTIONS"}
    assert public == PUBLIC_ROUTES


def test_every_stack_wires_register_to_the_email_outbox(stack_run) -> None:
    [registration] = stack_run.of_type("secure-serverless:components:UserRegistration")
    [email] = stack_run.of_type("secure-serverless:components:EmailSender")
    [outbox] = [q for q in stack_run.of_type("aws:sqs/queue:Queue") if q.parent == email.urn
                and "redrivePolicy" in q.inputs]
    [function] = [f for f in stack_run.of_type("secure-serverless:components:PythonFunction") if f.parent == registration.urn]
    grants = actions_by_resource(role_statements(stack_run, function.name))
    assert grants[outbox.outputs["arn"]] == {"sqs:SendMessage"}
    pool_arn = stack_run.of_type("aws:cognito/userPool:UserPool")[0].outputs["arn"]
    assert grants[pool_arn] == set(COGNITO_ACTIONS)

"""UserRegistration: public, schema-validated POST /register and /register/confirm, each function with exactly its
own grants, and the sign-up table (keys, TTL, encryption, protection)."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from components.email_sender import EmailSender
from components.function import HANDLERS_DIR
from components.profiles import Profiles
from components.registration import UserRegistration, UserRegistrationArgs
from components.user_pool import ADMIN_ACTIONS as COGNITO_ACTIONS
from offline.runtime import stacks
from tests.graph import PERMISSION, actions_by_resource, as_list, dependency, role_statements, routes
from tests.programs import foundation_api, load_stack

PUBLIC_ROUTES = {"GET /health", "POST /register", "POST /register/confirm"}


def program():
    stack = load_stack()
    api, _ = foundation_api(stack)
    email = EmailSender("email", stack.email)
    registration = UserRegistration("registration", UserRegistrationArgs(
        functions=stack.functions, user_pool=api.users, email=email.producer_link(), protect=stack.orders.protect))
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


def _signup_table(run):
    [table] = [t for t in run.of_type("aws:dynamodb/table:Table") if t.name == "registration-signup-table"]
    return table


def _only_statement_on(run, component_name: str, resource: str) -> dict:
    [statement] = [st for st in role_statements(run, component_name) if resource in as_list(st["Resource"])]
    return statement


def test_register_role_looks_accounts_up_writes_signup_state_and_enqueues(run) -> None:
    pool_arn = run.of_type("aws:cognito/userPool:UserPool")[0].outputs["arn"]
    outbox_arn = run.named("email-outbox").outputs["arn"]
    table_arn = _signup_table(run).outputs["arn"]

    assert register_role_grants(run) == {
        pool_arn: {"cognito-idp:AdminGetUser"},
        table_arn: {"dynamodb:UpdateItem", "dynamodb:PutItem"},
        outbox_arn: {"sqs:SendMessage"},
    }
    assert _only_statement_on(run, "registration-register", pool_arn)["Sid"] == "FindAccount"
    assert _only_statement_on(run, "registration-register", table_arn) == {
        "Sid": "SignUpState", "Effect": "Allow", "Action": ["dynamodb:PutItem", "dynamodb:UpdateItem"],
        "Resource": [table_arn],
        "Condition": {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["rl#register-*", "code#*"]}},
    }


def test_confirm_role_creates_accounts_writes_signup_state_and_enqueues(run) -> None:
    pool_arn = run.of_type("aws:cognito/userPool:UserPool")[0].outputs["arn"]
    outbox_arn = run.named("email-outbox").outputs["arn"]
    table_arn = _signup_table(run).outputs["arn"]

    assert register_role_grants(run, "registration-confirm") == {
        pool_arn: {"cognito-idp:AdminCreateUser", "cognito-idp:AdminSetUserPassword", "cognito-idp:AdminDeleteUser"},
        table_arn: {"dynamodb:UpdateItem", "dynamodb:DeleteItem"},
        outbox_arn: {"sqs:SendMessage"},
    }
    assert _only_statement_on(run, "registration-confirm", pool_arn)["Sid"] == "CreateAccount"
    assert _only_statement_on(run, "registration-confirm", table_arn)["Condition"] == {
        "ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["rl#confirm-*", "code#*"]}}
    assert set(COGNITO_ACTIONS) == {"cognito-idp:AdminCreateUser", "cognito-idp:AdminSetUserPassword",
                                    "cognito-idp:AdminDeleteUser"}


def test_signup_table_is_keyed_expiring_encrypted_and_protected_in_prod(run) -> None:
    table = _signup_table(run)
    assert table.parent == run.named("registration-signup").urn
    inputs = table.inputs
    assert (inputs["hashKey"], inputs["attributes"], inputs["billingMode"]) == (
        "pk", [{"name": "pk", "type": "S"}], "PAY_PER_REQUEST")
    assert "rangeKey" not in inputs
    assert inputs["ttl"] == {"attributeName": "expiresAt", "enabled": True}
    assert inputs["serverSideEncryption"] == {"enabled": True}
    prod = run.stack == "prod"
    assert inputs["deletionProtectionEnabled"] is prod
    assert table.protect is prod


def test_confirm_route_is_public_validated_by_its_model_and_invokes_only_confirm(run) -> None:
    view = routes(run)["POST /register/confirm"]
    assert view.authorization == "NONE" and view.authorizer_urn is None
    assert view.resource.inputs["requestModels"] == {"application/json": "RegisterConfirmModel"}
    assert dependency(run, view.resource, "requestValidatorId").inputs["validateRequestBody"] is True
    [model] = [m for m in run.of_type("aws:apigateway/model:Model") if m.inputs["name"] == "RegisterConfirmModel"]
    assert json.loads(model.inputs["schema"]) == json.loads(
        (HANDLERS_DIR / "schemas" / "register_confirm.json").read_text())
    function = run.named("registration-confirm-function")
    assert function.inputs["handler"] == "handlers.register_confirm.handler"
    assert "handlers/schemas/register_confirm.json" in function.inputs["code"]["__archive"]
    variables = function.inputs["environment"]["variables"]
    assert variables["SIGNUP_TABLE"] == _signup_table(run).outputs["name"]
    assert variables["USER_POOL_ID"] == run.of_type("aws:cognito/userPool:UserPool")[0].id
    execution_arn = run.of_type("aws:apigateway/restApi:RestApi")[0].outputs["executionArn"]
    [permission] = [p for p in run.of_type(PERMISSION) if p.inputs["function"] == function.outputs["name"]]
    assert permission.inputs["sourceArn"] == f"{execution_arn}/*/POST/register/confirm"


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
    assert variables["SIGNUP_TABLE"] == _signup_table(run).outputs["name"]
    assert function["handler"] == "handlers.register_user.handler"
    assert "handlers/schemas/register.json" in function["code"]["__archive"]


def test_registration_args_refuse_a_pool_link_or_a_wrong_outbox() -> None:
    from components.function import FunctionDefaults, Link, Statement
    from components.naming import Naming

    pool = Link(env={"USER_POOL_ID": "p"}, statements=[Statement(["cognito-idp:AdminCreateUser"], ["arn:pool"])])
    outbox = Link(env={"EMAIL_QUEUE_URL": "u"}, statements=[Statement(["sqs:SendMessage"], ["arn:q"])])
    functions = FunctionDefaults(naming=Naming("p-dev"))
    with pytest.raises(ValueError, match="UserPool component"):
        UserRegistrationArgs(functions=functions, user_pool=pool, email=outbox)


def profiles_program():
    stack = load_stack()
    api, _ = foundation_api(stack)
    email = EmailSender("email", stack.email)
    profiles = Profiles("profiles", replace(stack.profiles, email=email.producer_link()))
    registration = UserRegistration("registration", UserRegistrationArgs(
        functions=stack.functions, user_pool=api.users, email=email.producer_link(),
        profiles=profiles.creator_link()))
    api.add_routes([*registration.routes, *profiles.routes])
    api.deploy()


def test_with_profiles_confirm_may_only_create_profile_rows_and_queue_nothing(run_pulumi) -> None:
    run = run_pulumi(profiles_program, stack="dev")
    table = run.named("profiles-table").outputs
    grants = register_role_grants(run, "registration-confirm")
    assert grants.pop(table["arn"]) == {"dynamodb:PutItem"}
    assert run.named("email-outbox").outputs["arn"] not in grants
    assert _only_statement_on(run, "registration-confirm", table["arn"]) == {
        "Sid": "CreateProfile", "Effect": "Allow", "Action": ["dynamodb:PutItem"], "Resource": [table["arn"]]}
    variables = run.named("registration-confirm-function").inputs["environment"]["variables"]
    assert variables["PROFILES_TABLE"] == table["name"] and "EMAIL_QUEUE_URL" not in variables
    # register still mails the code.
    assert register_role_grants(run)[run.named("email-outbox").outputs["arn"]] == {"sqs:SendMessage"}


def test_registration_args_refuse_a_profiles_link_that_is_not_the_creator_link() -> None:
    from components.function import FunctionDefaults, Link, Statement
    from components.naming import Naming
    from components.user_pool import UserPool

    outbox = Link(env={"EMAIL_QUEUE_URL": "u"}, statements=[Statement(["sqs:SendMessage"], ["arn:q"])])
    wrong = Link(env={"ORDERS_TABLE": "t"}, statements=[Statement(["dynamodb:PutItem"], ["arn:t"])])
    with pytest.raises(ValueError, match="creator_link"):
        # A bare UserPool instance: only the Args are built here.
        UserRegistrationArgs(functions=FunctionDefaults(naming=Naming("p-dev")), user_pool=UserPool.__new__(UserPool),
                             email=outbox, profiles=wrong)


def test_component_outputs_are_registered(run) -> None:
    outputs = run.component_outputs[run.named("registration").urn]
    assert outputs == {"function_name": run.named("registration-register-function").outputs["name"],
                       "confirm_function_name": run.named("registration-confirm-function").outputs["name"],
                       "signup_table": _signup_table(run).outputs["name"], "path": "/register"}


# ---------------------------------------------------------------------------------- the whole program
# These read __main__.py: they pass once it wires EmailSender and UserRegistration.


@pytest.fixture(scope="module", params=stacks())
def stack_run(request):
    from tests.evaluations import run_stack  # shared, read-only evaluations

    return run_stack(request.param)


def test_every_stack_exposes_only_health_and_register_publicly(stack_run) -> None:
    public = {k for k, v in routes(stack_run).items() if v.authorization == "NONE" and v.method != "OPTIONS"}
    assert public == PUBLIC_ROUTES


def test_every_stack_wires_register_to_the_outbox_and_confirm_to_the_profiles_table(stack_run) -> None:
    [registration] = stack_run.of_type("secure-serverless:components:UserRegistration")
    [email] = stack_run.of_type("secure-serverless:components:EmailSender")
    [outbox] = [q for q in stack_run.of_type("aws:sqs/queue:Queue") if q.parent == email.urn
                and "redrivePolicy" in q.inputs]
    [profiles] = [t for t in stack_run.of_type("aws:dynamodb/table:Table") if t.name == "profiles-table"]
    functions = {f.name: f for f in stack_run.of_type("secure-serverless:components:PythonFunction")
                 if f.parent == registration.urn}
    assert set(functions) == {"registration-register", "registration-confirm"}
    pool_arn = stack_run.of_type("aws:cognito/userPool:UserPool")[0].outputs["arn"]
    register = actions_by_resource(role_statements(stack_run, "registration-register"))
    assert register[outbox.outputs["arn"]] == {"sqs:SendMessage"}
    assert register[pool_arn] == {"cognito-idp:AdminGetUser"}
    assert profiles.outputs["arn"] not in register
    # One welcome per user: confirm creates the profile row (the stream sends the welcome) and cannot queue one.
    confirm = actions_by_resource(role_statements(stack_run, "registration-confirm"))
    assert confirm[pool_arn] == set(COGNITO_ACTIONS)
    assert confirm[profiles.outputs["arn"]] == {"dynamodb:PutItem"}
    assert outbox.outputs["arn"] not in confirm
    variables = stack_run.named("registration-confirm-function").inputs["environment"]["variables"]
    assert variables["PROFILES_TABLE"] == profiles.outputs["name"] and "EMAIL_QUEUE_URL" not in variables

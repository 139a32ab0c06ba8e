"""Issue 9 finding 5: removing a route, modelled with the engine's step order (offline/engine_order.py).

One step (delete the route from the table) leaves it served without its permission; the two-step procedure
(retire, `pulumi up`; delete, `pulumi up`) never serves a Lambda route without its permission and ends with the
route gone."""

from __future__ import annotations

import pytest

from components.function import PythonFunction, PythonFunctionArgs
from components.secure_api import Route, SecureApi
from components.user_pool import UserPool
from offline import engine_order
from tests.programs import load_stack

LIVE, RETIRED, REMOVED = "live", "retired", "removed"


def api_program(hello: str):
    def program():
        stack = load_stack()
        users = UserPool("api", stack.user_pool)
        health = PythonFunction("health", PythonFunctionArgs(handler="health", defaults=stack.functions))
        api = SecureApi("api", stack.api.with_user_pools(users.arn))
        routes = [Route("GET", "/health", health, public=True)]
        if hello == LIVE:
            hello_fn = PythonFunction("hello", PythonFunctionArgs(handler="hello", defaults=stack.functions))
            routes.append(Route("GET", "/hello", hello_fn))
        elif hello == RETIRED:
            routes.append(Route("GET", "/hello", None, retired=True))
        api.add_routes(routes)
        api.deploy()

    return program


@pytest.fixture
def runs(run_pulumi):
    return {state: run_pulumi(api_program(state)) for state in (LIVE, RETIRED, REMOVED)}


def test_an_update_that_changes_no_route_keeps_serving_the_old_snapshot(runs, run_pulumi) -> None:
    again = run_pulumi(api_program(LIVE))
    assert not engine_order.deployment_replaced(runs[LIVE], again)
    result = engine_order.outcome(runs[LIVE], again)
    assert {s.key for s in result.served} == {"GET /health", "GET /hello", "OPTIONS /health", "OPTIONS /hello"}
    assert not result.still_live and not result.broken and not result.orphaned


def test_removing_a_route_in_one_step_leaves_it_served_without_its_permission(runs) -> None:
    # The replacement deployment snapshots the API before the engine deletes the dropped method (deletes run
    # last), and the dropped permission is deleted: the stage keeps GET /hello and it answers 500.
    result = engine_order.outcome(runs[LIVE], runs[REMOVED])
    assert engine_order.deployment_replaced(runs[LIVE], runs[REMOVED])
    assert result.still_live == {"GET /hello"} and result.broken == {"GET /hello"}


def test_step_one_retiring_serves_410_from_api_gateway_and_no_function(runs) -> None:
    result = engine_order.outcome(runs[LIVE], runs[RETIRED])
    assert engine_order.deployment_replaced(runs[LIVE], runs[RETIRED])
    served = {s.key: s for s in result.served}
    assert served["GET /hello"].integration_type == "MOCK"
    assert not result.still_live and not result.broken
    # AWS_PROXY -> MOCK replaces the integration: deleted first, or its delete would remove the new one.
    assert not result.orphaned
    # The function's permission goes with step 1, after the snapshot that no longer calls it.
    assert not [p for p in runs[RETIRED].of_type(engine_order.PERMISSION) if "hello" in p.name]


def test_step_two_removing_the_retired_route_never_reaches_a_function(runs) -> None:
    result = engine_order.outcome(runs[RETIRED], runs[REMOVED])
    assert not result.still_live and not result.broken and not result.orphaned
    # Until the next deployment the stale snapshot answers 410 for it, from API Gateway alone.
    assert {s.integration_type for s in result.served if s.key == "GET /hello"} <= {"MOCK"}


def test_without_delete_before_replace_the_retired_method_would_lose_its_integration(runs, monkeypatch) -> None:
    from dataclasses import replace

    after = runs[RETIRED]
    careless = replace(after, resources=[replace(r, delete_before_replace=False) for r in after.resources])
    assert engine_order.orphaned_methods(runs[LIVE], careless) == {"GET /hello"}


def test_the_retired_route_answers_410_with_the_json_error_body(runs) -> None:
    run = runs[RETIRED]
    (response,) = [r for r in run.of_type("aws:apigateway/integrationResponse:IntegrationResponse")
                   if r.name.endswith("gone-integration-response")]
    assert response.inputs["statusCode"] == "410"
    assert response.inputs["responseTemplates"]["application/json"] == (
        '{"error":{"code":"GONE","message":"This route has been removed."}}')
    (method,) = [m for m in run.of_type("aws:apigateway/method:Method") if m.name == "api-GET-/hello-method"]
    assert method.inputs["authorization"] == "COGNITO_USER_POOLS"  # retiring does not open the route

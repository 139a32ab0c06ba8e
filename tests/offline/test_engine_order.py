"""The engine-order model (offline/engine_order.py) reproduces issue 9 finding 5 on a plain route removal."""

from __future__ import annotations

from components import settings as stack_settings
from components.function import PythonFunction, PythonFunctionArgs
from components.secure_api import Route, SecureApi, SecureApiArgs
from offline import engine_order


def api_program(*, with_hello: bool):
    def program():
        settings = stack_settings.load()
        health = PythonFunction("health", PythonFunctionArgs(handler="health", settings=settings))
        hello = PythonFunction("hello", PythonFunctionArgs(handler="hello", settings=settings))
        routes = [Route("GET", "/health", health, public=True)]
        if with_hello:
            routes.append(Route("GET", "/hello", hello))
        SecureApi("api", SecureApiArgs(settings=settings, routes=routes)).deploy()

    return program


def test_an_update_that_changes_no_route_keeps_serving_the_old_snapshot(run_pulumi) -> None:
    before = run_pulumi(api_program(with_hello=True))
    after = run_pulumi(api_program(with_hello=True))
    assert not engine_order.deployment_replaced(before, after)
    result = engine_order.outcome(before, after)
    assert {s.key for s in result.served} == {"GET /health", "GET /hello", "OPTIONS /health", "OPTIONS /hello"}
    assert not result.still_live and not result.broken


def test_removing_a_route_in_one_step_leaves_it_served_without_its_permission(run_pulumi) -> None:
    # The replacement deployment snapshots the API before the engine deletes the dropped method (deletes run
    # last), and the dropped permission is deleted: the stage keeps GET /hello and it answers 500.
    before = run_pulumi(api_program(with_hello=True))
    after = run_pulumi(api_program(with_hello=False))
    assert engine_order.deployment_replaced(before, after)
    result = engine_order.outcome(before, after)
    assert result.still_live == {"GET /hello"}
    assert result.broken == {"GET /hello"}

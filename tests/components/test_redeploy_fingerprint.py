"""Issue 9 finding 5 (second half): the redeploy fingerprint covers the authorizer's and the request validator's
inputs, which API Gateway serves from the deployment snapshot like routes."""

from __future__ import annotations

import components.secure_api as secure_api
from components.secure_api import Route
from tests.programs import foundation_api, load_stack


def program(extra=()):
    def run():
        stack = load_stack()
        api, hello = foundation_api(stack)
        api.add_routes(list(extra))
        api.deploy()

    return run


def triggers(run) -> dict:
    return run.of_type("aws:apigateway/deployment:Deployment")[0].inputs["triggers"]


def camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(part.capitalize() for part in rest)


def test_the_fingerprinted_settings_are_the_deployed_ones(run_pulumi) -> None:
    run = run_pulumi(program())
    (authorizer,) = run.of_type("aws:apigateway/authorizer:Authorizer")
    (validator,) = run.of_type("aws:apigateway/requestValidator:RequestValidator")
    for key, value in secure_api.AUTHORIZER_SETTINGS.items():
        assert authorizer.inputs[camel(key)] == value
    for key, value in secure_api.VALIDATOR_SETTINGS.items():
        assert validator.inputs[camel(key)] == value


def test_changing_an_authorizer_input_redeploys(run_pulumi, monkeypatch) -> None:
    base = triggers(run_pulumi(program()))["redeployment"]
    monkeypatch.setattr(secure_api, "AUTHORIZER_SETTINGS",
                        {**secure_api.AUTHORIZER_SETTINGS, "identity_source": "method.request.header.X-Token"})
    changed = run_pulumi(program())
    (authorizer,) = changed.of_type("aws:apigateway/authorizer:Authorizer")
    assert authorizer.inputs["identitySource"] == "method.request.header.X-Token"
    assert triggers(changed)["redeployment"] != base


def test_changing_a_validator_input_redeploys(run_pulumi, monkeypatch) -> None:
    base = triggers(run_pulumi(program()))["redeployment"]
    monkeypatch.setattr(secure_api, "VALIDATOR_SETTINGS",
                        {**secure_api.VALIDATOR_SETTINGS, "validate_request_parameters": False})
    assert triggers(run_pulumi(program()))["redeployment"] != base


def test_the_pools_the_authorizer_trusts_are_a_trigger(run_pulumi) -> None:
    run = run_pulumi(program())
    (pool,) = run.of_type("aws:cognito/userPool:UserPool")
    assert triggers(run)["authorizer-pools"] == pool.outputs["arn"]


def test_retiring_a_route_redeploys(run_pulumi) -> None:
    from components.function import PythonFunction, PythonFunctionArgs
    from components.secure_api import SecureApi
    from components.user_pool import UserPool

    def with_hello(retired: bool):
        def run():
            stack = load_stack()
            users = UserPool("api", stack.user_pool)
            health = PythonFunction("health", PythonFunctionArgs(handler="health", defaults=stack.functions))
            hello = None if retired else PythonFunction("hello", PythonFunctionArgs(handler="hello", defaults=stack.functions))
            api = SecureApi("api", stack.api.with_user_pools(users.arn))
            api.add_routes([Route("GET", "/health", health, public=True), Route("GET", "/hello", hello, retired=retired)])
            api.deploy()

        return run

    live = triggers(run_pulumi(with_hello(False)))["redeployment"]
    assert triggers(run_pulumi(with_hello(False)))["redeployment"] == live
    assert triggers(run_pulumi(with_hello(True)))["redeployment"] != live


def test_a_route_that_is_not_retired_needs_a_function() -> None:
    import pytest

    with pytest.raises(ValueError, match="needs a function"):
        Route("GET", "/hello", None)

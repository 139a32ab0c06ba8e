"""Issue 9 findings 6 and 7 and LocalStack's api_url: what `pulumi up` would otherwise let through, refused by
the program before any resource, with a config error naming the key."""

from __future__ import annotations

import pytest

from components import settings as stack_settings
from components.settings import ConfigError
from offline.runtime import run_stack
from tests.evaluations import run_stack as evaluated  # shared, for the tests that only read a stack file's graph

# ------------------------------------------------------------------------- finding 6: placeholder email identity


@pytest.mark.parametrize(("stack", "keys"), [("dev", ["emailSender"]), ("prod", ["emailSender", "emailDomain"])])
def test_up_refuses_a_placeholder_sender_or_domain_before_any_resource(stack, keys, monkeypatch) -> None:
    from pulumi.runtime import mocks

    registered = []
    original = mocks.MockMonitor.RegisterResource

    def register(self, request):  # noqa: N802
        registered.append(request.type)
        return original(self, request)

    monkeypatch.setattr(mocks.MockMonitor, "RegisterResource", register)
    with pytest.raises(ConfigError) as error:
        run_stack(stack, preview=False)
    for key in keys:
        assert f"secure-serverless:{key} = " in str(error.value)
    assert "placeholder" in str(error.value) and f"stack {stack!r}" in str(error.value)
    assert [t for t in registered if t != "pulumi:pulumi:Stack"] == []


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_preview_only_warns_about_a_placeholder_so_ci_can_preview_the_stack_files(stack) -> None:
    run = evaluated(stack)  # a preview, as every evaluation the tests share
    assert run.of_type("aws:sesv2/emailIdentity:EmailIdentity")
    assert any("emailSender" in m and "pulumi up" in m for m in run.warnings)


@pytest.mark.parametrize(("overrides", "key"), [
    ({"emailSender": "ops@mail.example.org"}, "emailSender"),
    ({"emailSender": "ops@example.net"}, "emailSender"),
    ({"emailDomain": "shop.example.com", "emailSender": "ops@shop.example.com"}, "emailDomain"),
])
def test_every_reserved_documentation_domain_is_refused(overrides, key) -> None:
    with pytest.raises(ConfigError, match=f"secure-serverless:{key} = "):
        run_stack("dev", overrides=overrides, preview=False)


def test_a_real_sender_deploys_and_the_identitys_verification_status_is_an_output() -> None:
    run = run_stack("dev", overrides={"emailSender": "ops@mail.acme-shop.io"}, preview=False)
    (identity,) = run.of_type("aws:sesv2/emailIdentity:EmailIdentity")
    assert identity.inputs["emailIdentity"] == "ops@mail.acme-shop.io"
    # What CreateEmailIdentity answers for a new identity: not verified until the link is clicked.
    assert run.stack_outputs["email_verified_for_sending"] is False
    assert run.warnings == []


def test_the_local_stack_keeps_its_placeholder() -> None:
    run = run_stack("local", preview=False)
    assert run.of_type("aws:sesv2/emailIdentity:EmailIdentity")
    assert run.warnings == []


# ------------------------------------------------------------------------------ finding 7: reserved concurrency


FUNCTIONS = len(stack_settings.APP_FUNCTIONS)
FITS = (1000 - 100) // FUNCTIONS  # the largest reservation every handler module can take on a 1000 account


def test_the_function_count_reservations_multiply_by_bounds_the_stacks() -> None:
    # Settings are validated before any resource exists, so the check counts every handler module: an upper bound
    # of what a stack deploys (18 of 23 today: profiles are not on the API yet, two order handlers are alternatives).
    for stack in ("dev", "prod", "local"):
        assert 12 <= len(evaluated(stack).of_type("aws:lambda/function:Function")) <= FUNCTIONS


def test_reservations_that_leave_fewer_than_100_unreserved_are_refused_naming_the_key() -> None:
    # n x (FITS + 1) > 1000 - 100: AWS would fail a PutFunctionConcurrency mid-deployment.
    over = FITS + 1
    with pytest.raises(ConfigError, match=rf"secure-serverless:lambdaReservedConcurrency = {over}: "
                                          rf"{FUNCTIONS} functions x {over} = {FUNCTIONS * over}"):
        run_stack("dev", overrides={"lambdaReservedConcurrency": over})


def test_reservations_that_fit_the_account_are_applied_to_every_function() -> None:
    run = run_stack("dev", overrides={"lambdaReservedConcurrency": FITS})  # n x FITS <= 1000 - 100
    reserved = {f.inputs["reservedConcurrentExecutions"] for f in run.of_type("aws:lambda/function:Function")}
    assert FITS in reserved
    bigger = run_stack("dev", overrides={"lambdaReservedConcurrency": 100, "lambdaConcurrencyLimit": 5000})
    assert {f.inputs["reservedConcurrentExecutions"] for f in bigger.of_type("aws:lambda/function:Function")} == {100}


def test_an_account_whose_limit_is_10_cannot_reserve_anything() -> None:
    with pytest.raises(ConfigError, match=r"lambdaReservedConcurrency = 1: an account whose concurrency limit is 10"):
        run_stack("dev", overrides={"lambdaReservedConcurrency": 1, "lambdaConcurrencyLimit": 10})
    run = run_stack("dev", overrides={"lambdaConcurrencyLimit": 10})  # unset: nothing reserved, nothing refused
    assert all(f.inputs.get("reservedConcurrentExecutions") in (None, -1)
               for f in run.of_type("aws:lambda/function:Function"))


# ------------------------------------------------------------------------------------- LocalStack's api_url


def test_the_local_stack_exports_localstacks_url_and_the_others_aws() -> None:
    local = evaluated("local")
    (api,) = local.of_type("aws:apigateway/restApi:RestApi")
    assert local.stack_outputs["api_url"] == f"http://{api.id}.execute-api.localhost.localstack.cloud:4566/local"
    dev = evaluated("dev")
    (dev_api,) = dev.of_type("aws:apigateway/restApi:RestApi")
    assert dev.stack_outputs["api_url"] == f"https://{dev_api.id}.execute-api.us-east-1.amazonaws.com/dev"


def test_only_a_local_apigateway_endpoint_switches_the_url_form() -> None:
    from components.secure_api import localstack_invoke_url
    from components.settings import localstack_endpoint

    assert localstack_endpoint([{"apigateway": "http://localhost:4566", "s3": "http://localhost:4566"}]) == (
        "http://localhost:4566")
    assert localstack_endpoint([{"apigateway": "http://localhost.localstack.cloud:4566"}])
    assert localstack_endpoint([{"apigateway": "https://apigateway.us-east-1.amazonaws.com"}]) is None
    assert localstack_endpoint([{"s3": "http://localhost:4566"}]) is None and localstack_endpoint(None) is None
    assert localstack_invoke_url("http://127.0.0.1:4567", "abc123", "local") == (
        "http://abc123.execute-api.localhost.localstack.cloud:4567/local")


def test_the_order_knobs_count_against_the_same_account_limit() -> None:
    # The front door's reservation is counted with every other function's stack reservation.
    with pytest.raises(ConfigError, match=r"secure-serverless:ordersReservedConcurrency = 500: with lambdaReservedConcurrency"):
        run_stack("dev", overrides={"lambdaReservedConcurrency": FITS, "ordersReservedConcurrency": 500})
    # Provisioned concurrency never exceeds what the charge step may run: its reservation when the stack reserves...
    with pytest.raises(ConfigError, match=r"ordersChargeProvisionedConcurrency = 20: the charge step may run at most 10"):
        run_stack("dev", overrides={"lambdaReservedConcurrency": 10, "ordersChargeProvisionedConcurrency": 20})
    # ...else the pool a small account leaves after AWS's 100.
    with pytest.raises(ConfigError, match=r"ordersChargeProvisionedConcurrency = 150: the charge step may run at most 50"):
        run_stack("dev", overrides={"lambdaConcurrencyLimit": 200, "ordersReservedConcurrency": 50,
                                    "ordersChargeProvisionedConcurrency": 150})
    run = run_stack("dev", overrides={"lambdaReservedConcurrency": 10, "ordersChargeProvisionedConcurrency": 10})
    assert run.of_type("aws:lambda/provisionedConcurrencyConfig:ProvisionedConcurrencyConfig")

"""Stack keys of profiles and order state: defaults, each bad value reported under its key, the concurrency
knobs checked against the account, and the Settings → Args mapping."""

from __future__ import annotations

import json

import pytest

from components.order_settings import WorkflowSettings, read_workflow
from components.settings import _Reader


def read(values: dict[str, object]) -> tuple[WorkflowSettings, list[str]]:
    raw = {k: (v if isinstance(v, str) else json.dumps(v)) for k, v in values.items()}
    reader = _Reader(raw.get, "secure-serverless", "dev")
    return read_workflow(reader), reader.errors


def test_defaults_are_the_seeds() -> None:
    workflow, errors = read({})
    assert errors == []
    assert workflow == WorkflowSettings(cleanup_schedule="rate(1 hour)", pending_timeout_seconds=3600,
                                        retention_days=365, max_charge_amount="5000.00")


def test_knobs_are_read() -> None:
    workflow, errors = read({"ordersCleanupSchedule": "rate(15 minutes)", "ordersReservedConcurrency": 50,
                             "ordersChargeProvisionedConcurrency": 5, "ordersMaxChargeAmount": "250.00"})
    assert errors == []
    assert (workflow.cleanup_schedule, workflow.front_door_reserved_concurrency,
            workflow.charge_provisioned_concurrency, workflow.max_charge_amount) == (
        "rate(15 minutes)", 50, 5, "250.00")


@pytest.mark.parametrize(("values", "key"), [
    ({"ordersCleanupSchedule": "hourly"}, "ordersCleanupSchedule"),
    ({"ordersCleanupSchedule": "rate(1 hours)"}, "ordersCleanupSchedule"),
    ({"ordersMaxChargeAmount": "12.5"}, "ordersMaxChargeAmount"),
    ({"ordersPendingTimeoutSeconds": 5}, "ordersPendingTimeoutSeconds"),
    ({"ordersRetentionDays": 0}, "ordersRetentionDays"),
    ({"ordersReservedConcurrency": 0}, "ordersReservedConcurrency"),
    ({"ordersReservedConcurrency": 600, "ordersChargeProvisionedConcurrency": 400},
     "ordersChargeProvisionedConcurrency"),  # 1000 - 100 unreserved - 600 leaves room for 300
])
def test_each_bad_value_is_reported_under_its_key(values, key) -> None:
    _, errors = read(values)
    assert errors and all(e.startswith(f"secure-serverless:{key} = ") for e in errors), errors


def test_the_keys_reach_the_workflow_and_profiles_args() -> None:
    from components.settings import settings_from, stack_args

    raw = {"ordersChargeProvisionedConcurrency": "5", "ordersReservedConcurrency": "50",
           "ordersCleanupSchedule": "rate(2 hours)", "corsAllowedOrigins": '["https://app.example.com"]'}
    stack = stack_args(settings_from(raw.get, project="secure-serverless", stack="prod", present_keys=raw))
    workflow = stack.orders.workflow
    assert (workflow.charge_provisioned_concurrency, workflow.cleanup_schedule) == (5, "rate(2 hours)")
    assert stack.orders.submit_reserved_concurrency == 50
    assert workflow.protect is True and stack.profiles.protect is True  # prod protects data
    bound = stack.with_account("111122223333")
    assert bound.orders.workflow.functions.account_id == "111122223333"
    assert bound.profiles.functions.account_id == "111122223333"


def test_the_workflow_can_be_switched_off() -> None:
    from components.settings import settings_from, stack_args

    raw = {"ordersWorkflow": "false"}
    stack = stack_args(settings_from(raw.get, project="secure-serverless", stack="dev", present_keys=raw))
    assert stack.orders.workflow is None
    assert stack_args(settings_from({}.get, project="secure-serverless", stack="dev")).orders.workflow is not None

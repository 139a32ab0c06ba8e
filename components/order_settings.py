"""Stack configuration of order state: the keys `components.settings` reads into `WorkflowSettings` and maps to
`OrderWorkflowArgs` (the components themselves never see Settings).

Keys (namespace `secure-serverless:`, declared in Pulumi.yaml, read by `components.settings.settings_from`):

| key | default | meaning |
| --- | --- | --- |
| `ordersWorkflow` | true | the Step Functions order workflow; false keeps the single-Lambda order flow |
| `ordersCleanupSchedule` | `rate(1 hour)` | EventBridge schedule of the stale-order cleanup |
| `ordersPendingTimeoutSeconds` | 3600 | a PENDING order older than this may be expired by the cleanup |
| `ordersRetentionDays` | 365 | DynamoDB TTL deletes an order this long after it was placed |
| `ordersMaxChargeAmount` | `"5000.00"` | the charge step declines larger totals (PaymentDeclined) |
| `ordersReservedConcurrency` | unset | reserved concurrency of the order front door (POST /orders) |
| `ordersChargeProvisionedConcurrency` | unset | provisioned concurrency of the charge step (its `live` alias) |

The two concurrency knobs are checked together against the account's Lambda concurrency (1000 by default,
100 of which must stay unreserved): `components.order_states.ConcurrencyPlan`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .order_states import ConcurrencyPlan, check_schedule

MONEY = re.compile(r"^(0|[1-9][0-9]{0,12})\.[0-9]{2}$")


@dataclass(frozen=True)
class WorkflowSettings:
    enabled: bool = True
    cleanup_schedule: str = "rate(1 hour)"
    pending_timeout_seconds: int = 3600
    retention_days: int = 365
    max_charge_amount: str = "5000.00"
    front_door_reserved_concurrency: int | None = None
    charge_provisioned_concurrency: int | None = None


def read_workflow(reader: Any) -> WorkflowSettings:
    """Read the keys above with `components.settings._Reader`; every problem is reported under its key."""
    schedule = reader.text("ordersCleanupSchedule", "rate(1 hour)")
    try:
        check_schedule(schedule)
    except ValueError as exc:
        reader._fail("ordersCleanupSchedule", schedule, str(exc))
    amount = reader.text("ordersMaxChargeAmount", "5000.00", MONEY, "a decimal string with 2 decimals, e.g. 5000.00")
    reserved = reader.integer("ordersReservedConcurrency", None, 1, 1000)
    provisioned = reader.integer("ordersChargeProvisionedConcurrency", None, 1, 1000)
    try:
        ConcurrencyPlan(front_door_reserved=reserved, charge_provisioned=provisioned)
    except ValueError as exc:
        reader._fail("ordersChargeProvisionedConcurrency", provisioned, str(exc))
    return WorkflowSettings(
        enabled=reader.boolean("ordersWorkflow", True),
        cleanup_schedule=schedule,
        pending_timeout_seconds=reader.integer("ordersPendingTimeoutSeconds", 3600, 60, 604_800),
        retention_days=reader.integer("ordersRetentionDays", 365, 1, 3650),
        max_charge_amount=amount,
        front_door_reserved_concurrency=reserved,
        charge_provisioned_concurrency=provisioned,
    )

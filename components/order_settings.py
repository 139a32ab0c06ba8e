"""Stack configuration of profiles and order state, and the mapping from the app's Settings to the Args of
`Profiles` and `OrderWorkflow` (the components themselves never see Settings).

Keys (namespace `secure-serverless:`, declared in Pulumi.yaml, read by `components.settings.settings_from`):

| key | default | meaning |
| --- | --- | --- |
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
from typing import TYPE_CHECKING, Any

import pulumi

from components.order_states import ConcurrencyPlan, Link, check_schedule

if TYPE_CHECKING:
    from components.bucket import SecureBucket
    from components.email_sender import EmailSender
    from components.order_workflow import OrderWorkflowArgs
    from components.profiles import ProfilesArgs
    from components.settings import Settings

MONEY = re.compile(r"^(0|[1-9][0-9]{0,12})\.[0-9]{2}$")
RECEIPTS_PREFIX = "receipts/"


@dataclass(frozen=True)
class WorkflowSettings:
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
        cleanup_schedule=schedule,
        pending_timeout_seconds=reader.integer("ordersPendingTimeoutSeconds", 3600, 60, 604_800),
        retention_days=reader.integer("ordersRetentionDays", 365, 1, 3650),
        max_charge_amount=amount,
        front_door_reserved_concurrency=reserved,
        charge_provisioned_concurrency=provisioned,
    )


def email_link(email: EmailSender) -> Link:
    """What a producer of email jobs needs from the EmailSender: the outbox URL and `sqs:SendMessage` on it."""
    return Link(env={"EMAIL_QUEUE_URL": email.queue_url}, statements=[email.enqueue_statement()])


def profiles_args(settings: Settings, email: Link) -> ProfilesArgs:
    from components.function_factory import settings_functions
    from components.profiles import ProfilesArgs

    return ProfilesArgs(
        functions=settings_functions(settings),
        table_name=settings.resource_name("profiles", 255),
        failure_queue_name=settings.resource_name("profiles-welcome-failures", 80),
        email=email,
        protect=settings.protect_data,
        admin_group="admins",
        tags=settings.tags,
        alarm_actions=settings.alarm_actions,
    )


def order_workflow_args(settings: Settings, workflow: WorkflowSettings, outbox_url: pulumi.Input[str],
                        outbox_arn: pulumi.Input[str], receipts: SecureBucket) -> OrderWorkflowArgs:
    from components.function_factory import settings_functions
    from components.order_workflow import OrderWorkflowArgs

    return OrderWorkflowArgs(
        functions=settings_functions(settings),
        table_name=settings.resource_name("orders", 255),
        state_machine_name=settings.resource_name("orders", 80),
        compensation_queue_name=settings.resource_name("orders-compensation-failures", 80),
        outbox_url=outbox_url,
        outbox_arn=outbox_arn,
        receipts_bucket=receipts.bucket_name,
        receipts_objects_arn=receipts.objects_arn(RECEIPTS_PREFIX),
        protect=settings.protect_data,
        cleanup_schedule=workflow.cleanup_schedule,
        pending_timeout_seconds=workflow.pending_timeout_seconds,
        order_retention_days=workflow.retention_days,
        max_charge_amount=workflow.max_charge_amount,
        charge_provisioned_concurrency=workflow.charge_provisioned_concurrency,
        tags=settings.tags,
        alarm_actions=settings.alarm_actions,
    )

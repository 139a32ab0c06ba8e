"""Pure planning for profiles and order state: the order state machine's definition (ASL), its checks, the
two tables, the cleanup schedule and the concurrency knobs. No resources, no Outputs: plain values in, plain
values out, so hypothesis can test them and the components only wire the results.

The workflow (Standard, one execution per order, named by the order id):

    Validate ─> Reserve ─> Charge ─> Receipt ─> Confirm ─> HasEmail? ─yes─> QueueConfirmation ─> Done
      λ           λ          λ         λ       dynamodb      Choice           sqs:sendMessage
                                               :updateItem    └─no──────────────────────────────> Done
      └──────────┴──────────┴─────────┴──────────┴── Catch (any error, after Retry) ──> MarkFailed
                                                                       dynamodb:updateItem (FAILED + reason)
                                                                                 └─> Compensate (λ) ─> OrderFailed
                                 Compensate's Catch ─> ParkCompensation (sqs:sendMessage, alarmed queue) ─> Fail
    QueueConfirmation's Catch goes to ConfirmationNotQueued instead: a confirmed order is never undone.

Lambda steps retry on Lambda's own transient errors and our `TransientError` with exponential backoff and jitter;
business errors (OrderInvalid, PaymentDeclined, OrderStateConflict) are not retried. Confirm and MarkFailed are
direct DynamoDB integrations because a Lambda would add nothing to a conditional update.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# Mirrors handlers/common/order_state.py (a test keeps them equal).
PENDING, VALIDATED, RESERVED, CHARGED, CONFIRMED, FAILED, EXPIRED = (
    "PENDING", "VALIDATED", "RESERVED", "CHARGED", "CONFIRMED", "FAILED", "EXPIRED")
STATUS_INDEX = "status-expiresAt"
TTL_ATTRIBUTE = "ttlEpoch"

LAMBDA_STEPS = ("Validate", "Reserve", "Charge", "Receipt", "Compensate")
STEP_HANDLERS = {"Validate": "order_validate", "Reserve": "order_reserve", "Charge": "order_charge",
                 "Receipt": "order_receipt", "Compensate": "order_compensate"}
LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"
DYNAMODB_UPDATE = "arn:aws:states:::dynamodb:updateItem"
SQS_SEND = "arn:aws:states:::sqs:sendMessage"
# The IAM action each service-integration resource needs on the state machine's role.
INTEGRATION_ACTIONS = {LAMBDA_INVOKE: "lambda:InvokeFunction", DYNAMODB_UPDATE: "dynamodb:UpdateItem",
                       SQS_SEND: "sqs:SendMessage"}
LAMBDA_TRANSIENT = ("Lambda.ServiceException", "Lambda.AWSLambdaException", "Lambda.SdkClientException",
                    "Lambda.TooManyRequestsException", "TransientError")
DYNAMODB_TRANSIENT = ("DynamoDB.ProvisionedThroughputExceededException", "DynamoDB.ThrottlingException",
                      "DynamoDB.InternalServerErrorException", "DynamoDB.RequestLimitExceeded",
                      "DynamoDB.AmazonDynamoDBException")
SQS_TRANSIENT = ("SQS.SdkClientException", "SQS.AmazonSQSException", "SQS.KmsThrottledException")
CONDITION_FAILED = "DynamoDB.ConditionalCheckFailedException"

NAME_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{3,255}$")
STATE_MACHINE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_CRON = re.compile(r"^cron\(([^\s()]+ ){5}[^\s()]+\)$")
LAMBDA_ACCOUNT_CONCURRENCY = 1000  # the default account limit; raise it here if the account's limit is higher
UNRESERVED_MINIMUM = 100  # Lambda refuses reservations that leave less than this unreserved


# ---------------------------------------------------------------------------------------------- retry


@dataclass(frozen=True)
class RetryPolicy:
    """Step Functions Retry fields; AWS limits checked here (MaxAttempts 0..99999, BackoffRate >= 1)."""

    interval_seconds: int = 1
    max_attempts: int = 3
    backoff_rate: float = 2.0
    max_delay_seconds: int = 30

    def __post_init__(self) -> None:
        problems = []
        if not 1 <= self.interval_seconds <= 99_999_999:
            problems.append(f"interval must be 1..99999999 s, got {self.interval_seconds}")
        if not 1 <= self.max_attempts <= 99_999:
            problems.append(f"max attempts must be 1..99999 (finite, at least one retry), got {self.max_attempts}")
        if not 1.0 <= self.backoff_rate <= 100.0:
            problems.append(f"backoff rate must be 1.0..100.0, got {self.backoff_rate}")
        if not self.interval_seconds <= self.max_delay_seconds <= 31_622_400:
            problems.append(f"max delay must be between the interval and 31622400 s, got {self.max_delay_seconds}")
        if problems:
            raise ValueError("invalid retry policy: " + "; ".join(problems))

    def retrier(self, errors: Sequence[str]) -> dict[str, Any]:
        return {"ErrorEquals": list(errors), "IntervalSeconds": self.interval_seconds,
                "MaxAttempts": self.max_attempts, "BackoffRate": self.backoff_rate,
                "MaxDelaySeconds": self.max_delay_seconds, "JitterStrategy": "FULL"}

    def worst_case_seconds(self) -> float:
        """Total wait of all retries of one task (without jitter, which only shortens it)."""
        return sum(min(self.interval_seconds * self.backoff_rate ** n, self.max_delay_seconds)
                   for n in range(self.max_attempts))


# ------------------------------------------------------------------------------------- state machine


# Tasks on the longest path: Validate, Reserve, Charge, Receipt, Confirm, MarkFailed, Compensate, ParkCompensation.
LONGEST_PATH_TASKS = 8


def longest_execution_seconds(retry: RetryPolicy, task_timeout_seconds: int) -> int:
    """Every task of the longest path using all its attempts, each timing out, plus the waits between them."""
    per_task = (retry.max_attempts + 1) * task_timeout_seconds + retry.worst_case_seconds()
    return int(LONGEST_PATH_TASKS * per_task) + 1


def _ddb_history(status: str) -> dict[str, Any]:
    return {"L": [{"M": {"status": {"S": status}, "at": {"S.$": "$$.State.EnteredTime"}}}]}


def plan_definition(
    functions: Mapping[str, str],
    table_name: str,
    outbox_url: str,
    compensation_queue_url: str = "",
    retry: RetryPolicy = RetryPolicy(),
    task_timeout_seconds: int = 30,
    execution_timeout_seconds: int | None = None,
) -> dict[str, Any]:
    """The ASL document. `functions` maps each of LAMBDA_STEPS to the ARN the task invokes (the charge step's
    is its alias ARN); `outbox_url` is the email outbox the confirmation job goes to; `compensation_queue_url`
    the alarmed queue where an order whose compensation failed is parked for a human (never silently stuck).

    The execution timeout defaults to the longest path with every task timing out on every attempt: an
    execution that times out skips every Catch, so it must never be what stops a running order."""
    if not compensation_queue_url:
        raise ValueError("a compensation queue is required: a failed undo must reach a human")
    missing = set(LAMBDA_STEPS) - set(functions)
    if missing:
        raise ValueError(f"no function for steps {sorted(missing)}")
    if not 1 <= task_timeout_seconds <= 900:
        raise ValueError(f"task timeout must be 1..900 s (Lambda's maximum), got {task_timeout_seconds}")
    longest = longest_execution_seconds(retry, task_timeout_seconds)
    if execution_timeout_seconds is None:
        execution_timeout_seconds = longest
    if execution_timeout_seconds < longest:
        raise ValueError(f"the execution timeout {execution_timeout_seconds} s is shorter than the steps with their "
                         f"retries ({longest} s)")
    catch_all = [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "MarkFailed"}]

    def lambda_task(step: str, nxt: str, result_path: str | None, catch: list[dict[str, Any]] = catch_all) -> dict:
        state: dict[str, Any] = {
            "Type": "Task",
            "Resource": LAMBDA_INVOKE,
            "Parameters": {"FunctionName": functions[step], "Payload.$": "$"},
            "TimeoutSeconds": task_timeout_seconds,
            "Retry": [retry.retrier(LAMBDA_TRANSIENT)],
            "Catch": catch,
            "Next": nxt,
        }
        if result_path is None:
            state["ResultPath"] = None
        else:
            state |= {"ResultSelector": {"result.$": "$.Payload"}, "ResultPath": result_path}
        return state

    key = {"orderId": {"S.$": "$.orderId"}}
    return {
        "Comment": "Place order: Validate -> Reserve -> Charge -> Receipt -> Confirm; any failure -> FAILED + "
                   "compensation",
        "StartAt": "Validate",
        "TimeoutSeconds": execution_timeout_seconds,
        "States": {
            "Validate": lambda_task("Validate", "Reserve", None),
            "Reserve": lambda_task("Reserve", "Charge", None),
            "Charge": lambda_task("Charge", "Receipt", None),
            "Receipt": lambda_task("Receipt", "Confirm", "$.receipt"),
            "Confirm": {
                "Type": "Task",
                "Resource": DYNAMODB_UPDATE,
                "Parameters": {
                    "TableName": table_name,
                    "Key": key,
                    "UpdateExpression": "SET #status = :to, receiptKey = :receipt, updatedAt = :at, "
                                        "history = list_append(history, :history)",
                    "ConditionExpression": "#status = :from",
                    "ExpressionAttributeNames": {"#status": "status"},
                    "ExpressionAttributeValues": {
                        ":from": {"S": CHARGED}, ":to": {"S": CONFIRMED},
                        ":receipt": {"S.$": "$.receipt.result.receiptKey"},
                        ":at": {"S.$": "$$.State.EnteredTime"}, ":history": _ddb_history(CONFIRMED),
                    },
                },
                "ResultPath": None,
                "Retry": [retry.retrier(DYNAMODB_TRANSIENT)],
                "Catch": catch_all,
                "Next": "HasEmail",
            },
            "HasEmail": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.email", "IsString": True, "Next": "QueueConfirmation"}],
                "Default": "Done",
            },
            "QueueConfirmation": {
                "Type": "Task",
                "Resource": SQS_SEND,
                "Parameters": {
                    "QueueUrl": outbox_url,
                    "MessageBody": {
                        "template": "OrderConfirmation",
                        "to.$": "States.Array($.email)",
                        "data": {"orderId.$": "$.orderId", "total.$": "$.total", "currency.$": "$.currency",
                                 "name.$": "$.name"},
                    },
                },
                "ResultPath": None,
                "Retry": [retry.retrier(SQS_TRANSIENT)],
                "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "ConfirmationNotQueued"}],
                "Next": "Done",
            },
            "Done": {"Type": "Succeed"},
            "ConfirmationNotQueued": {"Type": "Fail", "Error": "ConfirmationNotQueued",
                                      "Cause": "The order is CONFIRMED but its confirmation email was not queued"},
            "MarkFailed": {
                "Type": "Task",
                "Resource": DYNAMODB_UPDATE,
                "Parameters": {
                    "TableName": table_name,
                    "Key": key,
                    "UpdateExpression": "SET #status = :failed, failureReason = :reason, updatedAt = :at, "
                                        "history = list_append(history, :history)",
                    "ConditionExpression": "#status IN (:pending, :validated, :reserved, :charged)",
                    "ExpressionAttributeNames": {"#status": "status"},
                    "ExpressionAttributeValues": {
                        ":failed": {"S": FAILED}, ":reason": {"S.$": "$.error.Error"},
                        ":pending": {"S": PENDING}, ":validated": {"S": VALIDATED}, ":reserved": {"S": RESERVED},
                        ":charged": {"S": CHARGED},
                        ":at": {"S.$": "$$.State.EnteredTime"}, ":history": _ddb_history(FAILED),
                    },
                },
                "ResultPath": None,
                "Retry": [retry.retrier(DYNAMODB_TRANSIENT)],
                # Already terminal, or DynamoDB unavailable: Compensate decides from what is stored either way.
                "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.markFailedError", "Next": "Compensate"}],
                "Next": "Compensate",
            },
            "Compensate": lambda_task(
                "Compensate", "OrderFailed", "$.compensation",
                catch=[{"ErrorEquals": ["States.ALL"], "ResultPath": "$.compensationError",
                        "Next": "ParkCompensation"}],
            ),
            "ParkCompensation": {
                "Type": "Task",
                "Resource": SQS_SEND,
                "Parameters": {
                    "QueueUrl": compensation_queue_url,
                    "MessageBody": {"orderId.$": "$.orderId", "error.$": "$.error",
                                    "compensationError.$": "$.compensationError",
                                    "execution.$": "$$.Execution.Id"},
                },
                "ResultPath": None,
                "Retry": [retry.retrier(SQS_TRANSIENT)],
                "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.parkError", "Next": "CompensationFailed"}],
                "Next": "CompensationFailed",
            },
            "OrderFailed": {"Type": "Fail", "Error": "OrderFailed", "Cause": "The order was recorded FAILED and "
                            "what it had reserved or charged was undone"},
            "CompensationFailed": {"Type": "Fail", "Error": "CompensationFailed",
                                   "Cause": "The order is FAILED but undoing its reservation or charge failed"},
        },
    }


def _targets(state: Mapping[str, Any]) -> list[str]:
    found = [state[k] for k in ("Next", "Default") if k in state]
    found += [choice["Next"] for choice in state.get("Choices", [])]
    found += [catcher["Next"] for catcher in state.get("Catch", [])]
    return found


def reachable(definition: Mapping[str, Any]) -> set[str]:
    states = definition["States"]
    seen: set[str] = set()
    todo = [definition["StartAt"]]
    while todo:
        name = todo.pop()
        if name in seen or name not in states:
            continue
        seen.add(name)
        todo.extend(_targets(states[name]))
    return seen


def check_definition(definition: Mapping[str, Any]) -> list[str]:
    """Problems a reviewer would reject: dangling or unreachable states, dead ends, a Task without Retry or
    Catch, a non-finite retry, a Lambda task without a timeout."""
    states = definition.get("States") or {}
    problems = []
    if definition.get("StartAt") not in states:
        problems.append(f"StartAt {definition.get('StartAt')!r} is not a state")
    for name, state in states.items():
        for target in _targets(state):
            if target not in states:
                problems.append(f"{name} goes to unknown state {target!r}")
        kind = state.get("Type")
        if kind in ("Task", "Pass", "Wait", "Parallel", "Map") and not (state.get("End") or "Next" in state):
            problems.append(f"{name} has neither Next nor End")
        if kind == "Task":
            if not state.get("Retry"):
                problems.append(f"{name} has no Retry")
            if not state.get("Catch"):
                problems.append(f"{name} has no Catch")
            for retrier in state.get("Retry", []):
                if not 0 < retrier.get("MaxAttempts", 3) < 100_000:
                    problems.append(f"{name} retries without a finite bound")
            if state.get("Resource") == LAMBDA_INVOKE and "TimeoutSeconds" not in state:
                problems.append(f"{name} has no TimeoutSeconds")
    unreachable = set(states) - reachable(definition)
    problems += [f"{name} is unreachable" for name in sorted(unreachable)]
    if not any(s.get("Type") in ("Succeed",) or s.get("End") for s in states.values()):
        problems.append("no state ends the execution successfully")
    return problems


def invoked_functions(definition: Mapping[str, Any]) -> dict[str, str]:
    """{state name: FunctionName} of every Lambda task."""
    return {name: state["Parameters"]["FunctionName"] for name, state in definition["States"].items()
            if state.get("Type") == "Task" and state.get("Resource") == LAMBDA_INVOKE}


def integration_actions(definition: Mapping[str, Any]) -> set[str]:
    """The IAM actions the state machine's role needs for the integrations the definition uses."""
    return {INTEGRATION_ACTIONS[state["Resource"]] for state in definition["States"].values()
            if state.get("Type") == "Task"}


# --------------------------------------------------------------------------------------------- tables


@dataclass(frozen=True)
class IndexPlan:
    name: str
    hash_key: str
    range_key: str | None = None
    projection: str = "KEYS_ONLY"


@dataclass(frozen=True)
class TablePlan:
    """One on-demand table: keys, attribute types, indexes, TTL, stream, PITR, protection."""

    name: str
    hash_key: str
    attributes: Mapping[str, str]
    indexes: Sequence[IndexPlan] = ()
    ttl_attribute: str | None = None
    stream_view_type: str | None = None
    protect: bool = False
    point_in_time_recovery: bool = True

    def __post_init__(self) -> None:
        problems = []
        if not NAME_PATTERN.match(self.name):
            problems.append(f"table name {self.name!r} must be 3-255 of [A-Za-z0-9_.-]")
        keys = {self.hash_key} | {k for ix in self.indexes for k in (ix.hash_key, ix.range_key) if k}
        if set(self.attributes) != keys:
            # DynamoDB refuses attribute definitions that are not keys of the table or an index.
            problems.append(f"attribute definitions {sorted(self.attributes)} must be exactly the keys {sorted(keys)}")
        if any(t not in ("S", "N", "B") for t in self.attributes.values()):
            problems.append("key attribute types are S, N or B")
        for index in self.indexes:
            if not NAME_PATTERN.match(index.name):
                problems.append(f"index name {index.name!r} must be 3-255 of [A-Za-z0-9_.-]")
            if index.projection not in ("KEYS_ONLY", "ALL"):
                problems.append(f"index {index.name}: projection must be KEYS_ONLY or ALL")
        if len({ix.name for ix in self.indexes}) != len(self.indexes):
            problems.append("index names must be unique")
        if len(self.indexes) > 20:
            problems.append("at most 20 global secondary indexes")
        if self.ttl_attribute is not None and self.ttl_attribute in keys:
            problems.append("the TTL attribute cannot be a key")
        if self.stream_view_type not in (None, "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES", "KEYS_ONLY"):
            problems.append(f"unknown stream view type {self.stream_view_type!r}")
        if problems:
            raise ValueError(f"invalid table plan {self.name!r}: " + "; ".join(problems))


def profiles_table(name: str, protect: bool) -> TablePlan:
    return TablePlan(name=name, hash_key="userId", attributes={"userId": "S"},
                     stream_view_type="NEW_AND_OLD_IMAGES", protect=protect)


def orders_table(name: str, protect: bool) -> TablePlan:
    # The index holds PENDING orders only (leaving PENDING removes expiresAt); keys are all the cleanup reads.
    return TablePlan(name=name, hash_key="orderId",
                     attributes={"orderId": "S", "status": "S", "expiresAt": "N"},
                     indexes=(IndexPlan(STATUS_INDEX, "status", "expiresAt"),),
                     ttl_attribute=TTL_ATTRIBUTE, protect=protect)


# ------------------------------------------------------------------------------- schedule, concurrency


def check_schedule(expression: str) -> str:
    """An EventBridge schedule expression: `rate(N unit)` with the unit agreeing with N, or a 6-field cron."""
    rate = _RATE.match(expression)
    if rate:
        value, unit = int(rate.group(1)), rate.group(2)
        if value < 1 or (value == 1) != (not unit.endswith("s")):
            raise ValueError(f"schedule {expression!r}: rate(1 unit) is singular, rate(N units) plural, N >= 1")
        return expression
    if _CRON.match(expression):
        return expression
    raise ValueError(f"schedule {expression!r} must be rate(N minutes|hours|days) or cron(6 fields)")


@dataclass(frozen=True)
class ConcurrencyPlan:
    """The seed's performance knobs: a reservation on the order front door (POST /orders) and provisioned
    concurrency on the charge step, checked against the account's Lambda concurrency."""

    front_door_reserved: int | None = None
    charge_provisioned: int | None = None
    other_reserved: int = 0
    account_limit: int = LAMBDA_ACCOUNT_CONCURRENCY

    def __post_init__(self) -> None:
        problems = []
        if self.front_door_reserved is not None and self.front_door_reserved < 1:
            problems.append("the front door's reserved concurrency must be >= 1 (0 would throttle every order)")
        if self.charge_provisioned is not None and self.charge_provisioned < 1:
            problems.append("provisioned concurrency must be >= 1, or unset")
        reserved = (self.front_door_reserved or 0) + self.other_reserved
        if reserved > self.account_limit - UNRESERVED_MINIMUM:
            problems.append(f"reserving {reserved} leaves less than {UNRESERVED_MINIMUM} of the account's "
                            f"{self.account_limit} unreserved")
        if (self.charge_provisioned or 0) > self.account_limit - UNRESERVED_MINIMUM - reserved:
            problems.append(f"provisioned concurrency {self.charge_provisioned} does not fit in the unreserved pool")
        if problems:
            raise ValueError("invalid concurrency settings: " + "; ".join(problems))

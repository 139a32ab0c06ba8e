"""Properties of the pure planners: the state machine definition, the status transitions, tables, schedule,
concurrency."""

from __future__ import annotations

import copy

import pytest
from hypothesis import given
from hypothesis import strategies as st

from components import order_states as plan
from components.order_states import (
    LAMBDA_STEPS,
    ConcurrencyPlan,
    IndexPlan,
    RetryPolicy,
    TablePlan,
    check_definition,
    check_schedule,
    invoked_functions,
    plan_definition,
    reachable,
)
from handlers.common import order_state

arns = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789:-", min_size=1, max_size=40)
functions = st.fixed_dictionaries({step: arns.map(lambda s, step=step: f"arn:{step}:{s}") for step in LAMBDA_STEPS})
retries = st.builds(
    RetryPolicy,
    interval_seconds=st.integers(1, 5),
    max_attempts=st.integers(1, 6),
    backoff_rate=st.floats(1.0, 3.0),
    max_delay_seconds=st.integers(5, 60),
)


@given(functions, retries, st.integers(1, 60))
def test_every_planned_definition_is_sound(fns, retry, timeout) -> None:
    document = plan_definition(fns, "orders", "https://queue", "https://park", retry, timeout)

    assert check_definition(document) == []
    assert reachable(document) == set(document["States"])
    assert invoked_functions(document) == fns
    for state in document["States"].values():
        if state["Type"] == "Task":
            assert state["Retry"][0]["MaxAttempts"] == retry.max_attempts
            # Business errors are never retried: only transient error names are.
            assert not {"States.ALL", "PaymentDeclined", "OrderInvalid"} & set(state["Retry"][0]["ErrorEquals"])


@given(functions, st.data())
def test_removing_a_tasks_retry_or_catch_or_any_state_is_reported(fns, data) -> None:
    document = plan_definition(fns, "orders", "https://queue", "https://park")
    tasks = sorted(n for n, s in document["States"].items() if s["Type"] == "Task")
    broken = copy.deepcopy(document)
    name = data.draw(st.sampled_from(tasks))
    field = data.draw(st.sampled_from(["Retry", "Catch"]))
    del broken["States"][name][field]
    assert f"{name} has no {field}" in check_definition(broken)

    removed = copy.deepcopy(document)
    victim = data.draw(st.sampled_from(sorted(set(document["States"]) - {document["StartAt"]})))
    del removed["States"][victim]
    assert check_definition(removed), victim  # a dangling Next/Catch/Default somewhere


def test_an_unreachable_state_is_reported() -> None:
    document = plan_definition({s: s for s in LAMBDA_STEPS}, "orders", "https://queue", "https://park")
    document["States"]["Orphan"] = {"Type": "Succeed"}
    assert check_definition(document) == ["Orphan is unreachable"]


def test_a_confirmed_order_is_never_compensated() -> None:
    """QueueConfirmation (after Confirm) must not lead to MarkFailed/Compensate, whatever fails."""
    document = plan_definition({s: s for s in LAMBDA_STEPS}, "orders", "https://queue", "https://park")
    after_confirm = reachable({"StartAt": "HasEmail", "States": document["States"]})
    assert not after_confirm & {"MarkFailed", "Compensate"}


@given(retries, st.integers(1, 900))
def test_execution_timeout_covers_the_longest_path_with_every_attempt_timing_out(retry, timeout) -> None:
    document = plan_definition({s: s for s in LAMBDA_STEPS}, "t", "u", "p", retry, timeout)
    tasks = [s for s in document["States"].values() if s["Type"] == "Task"]
    per_task = [(r["MaxAttempts"] + 1) * timeout + retry.worst_case_seconds() for s in tasks for r in s["Retry"][:1]]
    longest_path = sorted(per_task)[-plan.LONGEST_PATH_TASKS:]
    assert document["TimeoutSeconds"] >= sum(longest_path)
    with pytest.raises(ValueError, match="execution timeout"):
        plan_definition({s: s for s in LAMBDA_STEPS}, "t", "u", "p", retry, timeout,
                        execution_timeout_seconds=document["TimeoutSeconds"] - 2)


@given(st.sampled_from(sorted(order_state.FORWARD + (order_state.FAILED, order_state.EXPIRED))),
       st.sampled_from(sorted(order_state.FORWARD + (order_state.FAILED, order_state.EXPIRED))))
def test_no_status_goes_backwards_or_leaves_a_terminal_one(current, new) -> None:
    forward = order_state.FORWARD
    if order_state.allowed(current, new):
        assert current not in order_state.TERMINAL
        if new in forward:
            assert forward.index(new) == forward.index(current) + 1
        if new == order_state.EXPIRED:
            assert current == order_state.PENDING
    if current in forward and new in forward and forward.index(new) <= forward.index(current):
        assert not order_state.allowed(current, new)


def test_planner_and_handlers_agree_on_statuses_and_index() -> None:
    for name in ("PENDING", "VALIDATED", "RESERVED", "CHARGED", "CONFIRMED", "FAILED", "EXPIRED", "STATUS_INDEX"):
        assert getattr(plan, name) == getattr(order_state, name)
    # Every in-progress status is one MarkFailed may move to FAILED (its condition lists them all).
    condition = plan_definition({s: s for s in LAMBDA_STEPS}, "t", "u", "p")["States"]["MarkFailed"]["Parameters"]
    values = {v["S"] for k, v in condition["ExpressionAttributeValues"].items() if k != ":failed" and "S" in v}
    assert values == set(order_state.IN_PROGRESS)


names = st.from_regex(r"[A-Za-z0-9_.-]{3,40}", fullmatch=True)


@given(names, st.booleans())
def test_table_plans_accept_any_valid_name(name, protect) -> None:
    assert plan.profiles_table(name, protect).protect is protect
    orders = plan.orders_table(name, protect)
    assert set(orders.attributes) == {"orderId", "status", "expiresAt"}
    assert orders.ttl_attribute == "ttlEpoch"


@given(st.text(min_size=0, max_size=300).filter(lambda s: not plan.NAME_PATTERN.match(s)))
def test_table_plans_refuse_invalid_names(name) -> None:
    with pytest.raises(ValueError, match="table name"):
        plan.orders_table(name, False)


def test_attribute_definitions_must_be_exactly_the_keys() -> None:
    with pytest.raises(ValueError, match="exactly the keys"):
        TablePlan("orders", "orderId", {"orderId": "S", "note": "S"})
    with pytest.raises(ValueError, match="exactly the keys"):
        TablePlan("orders", "orderId", {"orderId": "S"}, indexes=(IndexPlan("by-status", "status"),))


@given(st.integers(1, 10_000), st.sampled_from(["minute", "hour", "day"]))
def test_schedules_accept_rates_with_agreeing_units(n, unit) -> None:
    expression = f"rate({n} {unit}{'' if n == 1 else 's'})"
    assert check_schedule(expression) == expression
    wrong = f"rate({n} {unit}{'s' if n == 1 else ''})"
    with pytest.raises(ValueError):
        check_schedule(wrong)


def test_cron_and_garbage_schedules() -> None:
    assert check_schedule("cron(0 * * * ? *)") == "cron(0 * * * ? *)"
    for bad in ("rate(0 hours)", "cron(0 * * *)", "hourly", "rate(1 week)"):
        with pytest.raises(ValueError):
            check_schedule(bad)


@given(st.one_of(st.none(), st.integers(-5, 1200)), st.one_of(st.none(), st.integers(-5, 1200)),
       st.integers(0, 1000))
def test_concurrency_is_accepted_exactly_when_it_fits_the_account(reserved, provisioned, other) -> None:
    fits = ((reserved is None or reserved >= 1) and (provisioned is None or provisioned >= 1)
            and (reserved or 0) + other <= 900 and (provisioned or 0) <= 900 - (reserved or 0) - other)
    if fits:
        ConcurrencyPlan(reserved, provisioned, other)
    else:
        with pytest.raises(ValueError):
            ConcurrencyPlan(reserved, provisioned, other)


@given(retries)
def test_worst_case_retry_wait_is_bounded_by_the_max_delay(retry) -> None:
    assert retry.worst_case_seconds() <= retry.max_attempts * retry.max_delay_seconds


def test_retry_policy_refuses_unbounded_or_shrinking_retries() -> None:
    for kwargs in ({"max_attempts": 0}, {"max_attempts": 100_000}, {"backoff_rate": 0.5},
                   {"interval_seconds": 10, "max_delay_seconds": 5}):
        with pytest.raises(ValueError):
            RetryPolicy(**kwargs)

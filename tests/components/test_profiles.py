"""Profiles under recording mocks: the table's contract, exact roles, the stream consumer's mapping, the routes."""

from __future__ import annotations

import json

import pytest

from components.link import Link, Statement
from components.profiles import Profiles, ProfilesArgs
from components.settings import StackArgs
from offline.mocks import ACCOUNT_ID, REGION
from tests.graph import actions_by_resource, role_statements, routes
from tests.programs import foundation_api, load_stack

OUTBOX_ARN = f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:email-outbox"
OUTBOX_URL = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT_ID}/email-outbox"


def email_link() -> Link:
    return Link(env={"EMAIL_QUEUE_URL": OUTBOX_URL},
                statements=[Statement(actions=["sqs:SendMessage"], resources=[OUTBOX_ARN], sid="EnqueueEmail")])


def profiles_args(stack: StackArgs, **overrides) -> ProfilesArgs:
    """Explicit Args: the stack's FunctionDefaults, protection as the stack file says, an outbox link."""
    values = dict(functions=stack.functions, email=email_link(), protect=stack.settings.protect_data,
                  tags=stack.settings.tags, alarm_actions=stack.settings.alarm_actions)
    return ProfilesArgs(**(values | overrides))


def program(stack_name: str):
    def run() -> None:
        stack = load_stack()
        api, _ = foundation_api(stack)
        profiles = Profiles("profiles", profiles_args(stack))
        api.add_routes(profiles.routes)
        api.deploy()

    return run


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_table_is_on_demand_recoverable_encrypted_streamed_and_protected_in_prod(run_pulumi, stack: str) -> None:
    run = run_pulumi(program(stack), stack=stack)
    table = run.named("profiles-table")
    production = stack == "prod"

    assert table.inputs["name"] == f"secure-serverless-{stack}-profiles"
    assert table.inputs["billingMode"] == "PAY_PER_REQUEST"
    assert table.inputs["hashKey"] == "userId"
    assert table.inputs["attributes"] == [{"name": "userId", "type": "S"}]
    assert table.inputs["pointInTimeRecovery"] == {"enabled": True}
    assert table.inputs["serverSideEncryption"] == {"enabled": True}
    assert table.inputs["streamEnabled"] is True and table.inputs["streamViewType"] == "NEW_AND_OLD_IMAGES"
    assert table.inputs["deletionProtectionEnabled"] is production
    assert (table.protect, table.retain_on_delete) == (production, production)


def test_each_role_holds_exactly_its_grants(run_pulumi) -> None:
    run = run_pulumi(program("dev"))
    table = run.named("profiles-table").outputs
    failures = run.named("profiles-welcome-failures").outputs["arn"]

    def grants(component: str) -> dict[str, set[str]]:
        found = actions_by_resource(role_statements(run, component))
        return {arn: actions for arn, actions in found.items() if not str(arn).startswith("arn:aws:logs:")}

    assert grants("profiles-upsert") == {table["arn"]: {"dynamodb:UpdateItem"}}
    assert grants("profiles-get") == {table["arn"]: {"dynamodb:GetItem"}}
    assert grants("profiles-welcome") == {
        table["streamArn"]: {"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"},
        "*": {"dynamodb:ListStreams"},  # the only action without resource-level permissions
        table["arn"]: {"dynamodb:UpdateItem"},
        OUTBOX_ARN: {"sqs:SendMessage"},
        failures: {"sqs:SendMessage"},
    }
    env = run.named("profiles-welcome-function").inputs["environment"]["variables"]
    assert env["EMAIL_QUEUE_URL"] == OUTBOX_URL and env["PROFILES_TABLE"] == table["name"]


def test_stream_consumer_filters_inserts_bisects_retries_finitely_and_keeps_failures(run_pulumi) -> None:
    run = run_pulumi(program("dev"))
    mapping = run.named("profiles-welcome-trigger").inputs

    assert mapping["eventSourceArn"] == run.named("profiles-table").outputs["streamArn"]
    assert mapping["functionName"] == run.named("profiles-welcome-function").outputs["arn"]
    assert mapping["startingPosition"] == "TRIM_HORIZON"
    assert mapping["bisectBatchOnFunctionError"] is True
    assert mapping["maximumRetryAttempts"] == 3 and mapping["maximumRecordAgeInSeconds"] == 3600
    assert mapping["functionResponseTypes"] == ["ReportBatchItemFailures"]
    assert json.loads(mapping["filterCriteria"]["filters"][0]["pattern"]) == {"eventName": ["INSERT"]}
    assert mapping["destinationConfig"]["onFailure"]["destinationArn"] == run.named(
        "profiles-welcome-failures").outputs["arn"]
    queue = run.named("profiles-welcome-failures").inputs
    assert queue["sqsManagedSseEnabled"] is True and queue["messageRetentionSeconds"] == 14 * 24 * 3600
    alarm = run.named("profiles-welcome-failures-alarm").inputs
    assert alarm["dimensions"] == {"QueueName": queue["name"]} and alarm["threshold"] == 0


def test_routes_are_protected_by_the_authorizer(run_pulumi) -> None:
    run = run_pulumi(program("dev"))
    table = routes(run)

    for key in ("POST /profiles", "GET /profiles/{id}"):
        assert table[key].authorization == "COGNITO_USER_POOLS"
        assert table[key].authorizer_urn is not None


@pytest.mark.parametrize(("override", "message"), [
    ({"max_retry_attempts": -1}, "finite"),
    ({"max_record_age_seconds": 10}, "max_record_age_seconds"),
    ({"email": Link(env={"OTHER": "x"})}, "EMAIL_QUEUE_URL"),
])
def test_args_refuse_what_aws_would(run_pulumi, override, message) -> None:
    def run() -> None:
        with pytest.raises(ValueError, match=message):
            profiles_args(load_stack(), **override)

    run_pulumi(run)


def test_profiles_need_the_outbox(run_pulumi) -> None:
    def run() -> None:
        with pytest.raises(ValueError, match="producer_link"):
            Profiles("profiles", profiles_args(load_stack(), email=None))

    run_pulumi(run)


def test_the_policy_pack_finds_nothing_in_prod(run_pulumi) -> None:
    from policies.check import stack_config_path
    from policies.guard import RULES
    from policies.guard.adapters import from_program_run
    from policies.guard.config import load
    from policies.guard.engine import evaluate

    run = run_pulumi(program("prod"), stack="prod")
    report = evaluate(from_program_run(run), RULES, load(RULES, stack_config_path("prod")))
    assert report.findings == ()
    assert report.resources > 20

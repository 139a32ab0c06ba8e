"""The offline runtime every other test stands on: config as the CLI passes it, engine-shaped URNs, realistic
provider answers."""

from __future__ import annotations

import asyncio
import gc
import json
import logging

import pulumi
import pulumi_aws as aws
import pytest

from offline.mocks import ACCOUNT_ID, REGION, policy_document_json
from offline.runtime import REPO_ROOT, stack_config, stacks


def test_stack_config_layers_project_defaults_stack_file_and_overrides() -> None:
    project, values = stack_config("prod", REPO_ROOT, {"logRetentionDays": 30, "usagePlanEnabled": None})
    assert project == "secure-serverless"
    assert values["secure-serverless:logRetentionDays"] == "30"  # override beats the stack file's 365
    assert values["secure-serverless:usagePlanEnabled"] == "true"  # None removes the stack value: the default applies
    assert values["secure-serverless:lambdaMemoryMb"] == "256"  # project default
    assert json.loads(values["secure-serverless:corsAllowedOrigins"]) == ["https://app.example.com"]
    assert values["aws:region"] == "us-east-1"
    with pytest.raises(FileNotFoundError):
        stack_config("staging", REPO_ROOT)
    assert set(stacks()) == {"dev", "prod", "local"}


def nested_program():
    class Outer(pulumi.ComponentResource):
        def __init__(self, name: str):
            super().__init__("app:components:Outer", name, None, None)
            inner = pulumi.ComponentResource("app:components:Inner", f"{name}-inner", None,
                                             pulumi.ResourceOptions(parent=self))
            queue = aws.sqs.Queue(f"{name}-queue", fifo_queue=True, visibility_timeout_seconds=60,
                                  opts=pulumi.ResourceOptions(parent=inner))
            aws.sqs.QueuePolicy(f"{name}-policy", queue_url=queue.url, policy=queue.arn.apply(lambda a: a),
                                opts=pulumi.ResourceOptions(parent=self, protect=True))
            self.register_outputs({"url": queue.url})

    Outer("outer")
    pulumi.export("account", aws.get_caller_identity_output().account_id)


def test_urns_parents_and_property_dependencies_are_engine_shaped(run_pulumi) -> None:
    run = run_pulumi(nested_program)
    queue = run.named("outer-queue")
    assert queue.urn == ("urn:pulumi:dev::secure-serverless::app:components:Outer$app:components:Inner"
                         "$aws:sqs/queue:Queue::outer-queue")
    assert queue.parent == run.named("outer-inner").urn
    assert run.named("outer").parent == "urn:pulumi:dev::secure-serverless::pulumi:pulumi:Stack::secure-serverless-dev"
    policy = run.named("outer-policy")
    assert policy.property_dependencies["queueUrl"] == (queue.urn,)
    assert policy.protect and not queue.protect
    assert run.component_outputs[run.named("outer").urn] == {"url": queue.outputs["url"]}
    assert run.stack_outputs == {"account": ACCOUNT_ID}


def test_aliases_and_invokes_are_recorded_as_registered(run_pulumi) -> None:
    old_urn = "urn:pulumi:dev::secure-serverless::aws:sqs/queue:Queue::before"

    def program() -> None:
        aws.sqs.Queue("renamed", opts=pulumi.ResourceOptions(aliases=[pulumi.Alias(name="before", parent=None),
                                                                     old_urn]))
        nested_program()

    run = run_pulumi(program)
    assert run.named("renamed").aliases == ({"name": "before", "noParent": True}, {"urn": old_urn})
    assert run.named("outer-queue").aliases == () and run.named("outer-queue").alias_urns == ()
    assert [token for token, _args in run.invokes] == ["aws:index/getCallerIdentity:getCallerIdentity"]


def test_warnings_reach_the_run_also_when_attached_to_a_resource(run_pulumi, caplog) -> None:
    def program() -> None:
        queue = aws.sqs.Queue("warned")
        pulumi.log.warn("about the queue", resource=queue)  # sent once the queue's URN is known
        pulumi.log.warn("about the stack")
        pulumi.log.info("not a warning")

    with caplog.at_level(logging.INFO):
        run = run_pulumi(program)
    assert sorted(run.warnings) == ["about the queue", "about the stack"]
    assert {"about the queue", "about the stack", "not a warning"} <= {r.getMessage() for r in caplog.records}


def test_provider_answers_look_like_aws(run_pulumi) -> None:
    run = run_pulumi(nested_program)
    queue = run.named("outer-queue")
    name = queue.outputs["name"]
    assert name.startswith("outer-queue-") and name.endswith(".fifo")  # auto-name keeps the FIFO suffix
    assert queue.outputs["arn"] == f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{name}"
    assert queue.outputs["url"] == f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT_ID}/{name}"
    assert queue.inputs["visibilityTimeoutSeconds"] == 60 and isinstance(queue.inputs["visibilityTimeoutSeconds"], int)


def test_get_policy_document_renders_iam_json() -> None:
    document = json.loads(policy_document_json({
        "statements": [
            {"sid": "Send", "actions": ["sqs:SendMessage"], "resources": ["arn:aws:sqs:us-east-1:1:q"],
             "conditions": [{"test": "StringEquals", "variable": "aws:SourceAccount", "values": ["1"]}]},
            {"effect": "Deny", "actions": ["s3:*"], "resources": ["a", "b"],
             "principals": [{"type": "*", "identifiers": ["*"]}]},
        ]
    }))
    assert document["Version"] == "2012-10-17"
    send, deny = document["Statement"]
    assert send == {"Sid": "Send", "Effect": "Allow", "Action": "sqs:SendMessage",
                    "Resource": "arn:aws:sqs:us-east-1:1:q", "Condition": {"StringEquals": {"aws:SourceAccount": "1"}}}
    assert deny["Effect"] == "Deny" and deny["Principal"] == "*" and sorted(deny["Resource"]) == ["a", "b"]


def test_unanswered_invokes_fail_loudly(run_pulumi) -> None:
    def program():
        aws.ec2.get_vpc_output(default=True).id.apply(lambda v: v)

    with pytest.raises(Exception, match="offline mocks do not answer invoke"):
        run_pulumi(program)


def test_a_runs_abandoned_failed_futures_are_not_reported_when_collected(run_pulumi, caplog) -> None:
    """Their report formats a traceback from inside whatever the collector interrupted (offline/runtime.py,
    `_unretrieved_errors_are_the_runs_own`). As a failed registration's futures are: failed, and never awaited."""

    def program():
        abandoned = asyncio.get_event_loop().create_future()
        abandoned.set_exception(RuntimeError("a registration's error, raised by the run itself"))

    run_pulumi(program)
    with caplog.at_level(logging.ERROR, logger="asyncio"):
        gc.collect()
    assert [r.getMessage() for r in caplog.records if "exception was never retrieved" in r.getMessage()] == []


def test_a_loop_the_sdk_makes_outside_a_run_is_closed_by_the_next_run(run_pulumi) -> None:
    asyncio.set_event_loop_policy(None)  # a fresh policy, as in a test worker before its first run
    pulumi.Output.from_input("built before any run")  # the SDK sets a loop of its own for it
    made = asyncio.get_event_loop_policy().get_event_loop()
    assert not made.is_closed()
    run_pulumi(lambda: None)
    assert made.is_closed()

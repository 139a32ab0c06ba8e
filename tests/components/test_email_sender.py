"""EmailSender's resource contract under recording mocks, and its pure planning under hypothesis."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from components.email_sender import (
    CONSUME_ACTIONS,
    EmailSender,
    EmailSenderArgs,
    plan_email,
    sender_statements,
)
from components.email_templates import TemplateError, load_templates, parse_template, placeholders
from components.function import FunctionDefaults, PythonFunction, PythonFunctionArgs
from components.naming import Naming
from components.settings import settings_from, stack_args
from tests.graph import actions_by_resource, role_statements, statements_of
from tests.programs import load_stack

TEMPLATES = load_templates()
STACK_SENDERS = {"dev": ("no-reply@dev.example.com", None), "prod": ("no-reply@example.com", "example.com")}


def build(**args):
    def program():
        stack = load_stack()
        email = EmailSender("email", replace(stack.email, **args))
        PythonFunction("producer", PythonFunctionArgs(handler="hello", defaults=stack.functions,
                                                      links=[email.producer_link()]))

    return program


@pytest.fixture(params=["dev", "prod"])
def stack(request) -> str:
    return request.param


@pytest.fixture
def run(run_pulumi, stack):
    return run_pulumi(build(), stack=stack)


def only(run, type_token):
    [resource] = run.of_type(type_token)
    return resource


def test_identity_is_the_address_in_dev_and_the_dkim_domain_in_prod(run, stack) -> None:
    sender, domain = STACK_SENDERS[stack]
    identity = only(run, "aws:sesv2/emailIdentity:EmailIdentity").inputs
    config_set = only(run, "aws:sesv2/configurationSet:ConfigurationSet").inputs
    assert identity["emailIdentity"] == (domain or sender)
    assert identity["configurationSetName"] == config_set["configurationSetName"]
    if domain:
        assert identity["dkimSigningAttributes"] == {"nextSigningKeyLength": "RSA_2048_BIT"}
    else:
        assert "dkimSigningAttributes" not in identity


def test_configuration_set_tracks_reputation_and_publishes_the_delivery_events(run, stack) -> None:
    config_set = only(run, "aws:sesv2/configurationSet:ConfigurationSet").inputs
    assert config_set["configurationSetName"] == f"secure-serverless-{stack}-email"
    assert config_set["reputationOptions"] == {"reputationMetricsEnabled": True}
    assert config_set["deliveryOptions"] == {"tlsPolicy": "REQUIRE"}
    assert set(config_set["suppressionOptions"]["suppressedReasons"]) == {"BOUNCE", "COMPLAINT"}
    destination = only(run, "aws:sesv2/configurationSetEventDestination:ConfigurationSetEventDestination").inputs
    assert destination["configurationSetName"] == config_set["configurationSetName"]
    assert destination["eventDestination"]["enabled"] is True
    assert {"SEND", "BOUNCE", "COMPLAINT", "DELIVERY"} <= set(destination["eventDestination"]["matchingEventTypes"])
    [dimension] = destination["eventDestination"]["cloudWatchDestination"]["dimensionConfigurations"]
    assert dimension["dimensionValueSource"] == "MESSAGE_TAG" and dimension["dimensionName"] == "template"


def test_templates_are_the_repository_files_with_stack_unique_names(run, stack) -> None:
    created = {t.inputs["name"]: t.inputs for t in run.of_type("aws:ses/template:Template")}
    assert set(created) == {f"secure-serverless-{stack}-{t.name}" for t in TEMPLATES}
    for template in TEMPLATES:
        inputs = created[f"secure-serverless-{stack}-{template.name}"]
        assert (inputs["subject"], inputs["text"], inputs["html"]) == (template.subject, template.text, template.html)
    assert {"WelcomeEmail": {"name", "accountId"}, "OrderConfirmation": {"orderId", "total", "currency", "name"}} == {
        t.name: set(t.variables) for t in TEMPLATES
    }


def test_outbox_is_encrypted_redrives_into_its_dlq_and_outlasts_six_sender_timeouts(run, stack) -> None:
    outbox, dlq = run.named("email-outbox"), run.named("email-dlq")
    sender = run.named("email-sender-function").inputs
    for queue in (outbox, dlq):
        assert queue.inputs["sqsManagedSseEnabled"] is True
    assert json.loads(outbox.inputs["redrivePolicy"]) == {"deadLetterTargetArn": dlq.outputs["arn"], "maxReceiveCount": 3}
    assert outbox.inputs["visibilityTimeoutSeconds"] >= 6 * sender["timeout"]
    assert dlq.inputs["messageRetentionSeconds"] > outbox.inputs["messageRetentionSeconds"]
    allow = json.loads(only(run, "aws:sqs/redriveAllowPolicy:RedriveAllowPolicy").inputs["redriveAllowPolicy"])
    assert allow == {"redrivePermission": "byQueue", "sourceQueueArns": [outbox.outputs["arn"]]}
    alarm = only(run, "aws:cloudwatch/metricAlarm:MetricAlarm").inputs
    assert alarm["dimensions"] == {"QueueName": dlq.inputs["name"]} and alarm["threshold"] == 0


def test_sender_is_triggered_with_partial_batch_responses(run) -> None:
    mapping = only(run, "aws:lambda/eventSourceMapping:EventSourceMapping").inputs
    assert mapping["eventSourceArn"] == run.named("email-outbox").outputs["arn"]
    assert mapping["functionName"] == run.named("email-sender-function").outputs["arn"]
    assert mapping["functionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["batchSize"] == 10 and mapping["scalingConfig"] == {"maximumConcurrency": 2}


def test_sender_environment_is_its_contract(run, stack) -> None:
    sender, _ = STACK_SENDERS[stack]
    variables = run.named("email-sender-function").inputs["environment"]["variables"]
    assert variables["SENDER_ADDRESS"] == sender
    assert variables["CONFIGURATION_SET"] == f"secure-serverless-{stack}-email"
    manifest = json.loads(variables["EMAIL_TEMPLATES"])
    assert manifest == {
        t.name: {"templateName": f"secure-serverless-{stack}-{t.name}", "variables": sorted(t.variables)}
        for t in TEMPLATES
    }


def test_sender_role_sends_only_our_templates_as_the_sender_and_consumes_only_the_outbox(run, stack) -> None:
    sender, _ = STACK_SENDERS[stack]
    statements = role_statements(run, "email-sender")
    ses_arns = {
        run.named("email-identity").outputs["arn"],
        run.named("email-configuration-set").outputs["arn"],
        *(t.outputs["arn"] for t in run.of_type("aws:ses/template:Template")),
    }
    [send] = [s for s in statements if any(a.startswith("ses:") for a in s["Action"])]
    assert send["Action"] == ["ses:SendTemplatedEmail"]
    assert set(send["Resource"]) == ses_arns and len(send["Resource"]) == 4
    assert send["Condition"] == {"StringEquals": {"ses:FromAddress": [sender]}}
    grants = actions_by_resource(statements)
    assert grants[run.named("email-outbox").outputs["arn"]] == set(CONSUME_ACTIONS)
    log_arn = run.named("email-sender-logs").outputs["arn"] + ":*"
    expected = {log_arn, run.named("email-outbox").outputs["arn"], *ses_arns} | ({"*"} if stack == "prod" else set())
    assert set(grants) == expected
    if stack == "prod":  # tracing: X-Ray writes have no resource-level permissions
        assert grants["*"] == {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}
    assert not any("*" in a for s in statements for a in s["Action"])


def test_sender_timeout_override_moves_the_visibility_timeout(run_pulumi) -> None:
    run = run_pulumi(build(sender_timeout_seconds=45, batch_size=5, max_concurrency=4))
    assert run.named("email-sender-function").inputs["timeout"] == 45
    assert run.named("email-outbox").inputs["visibilityTimeoutSeconds"] == 270
    mapping = only(run, "aws:lambda/eventSourceMapping:EventSourceMapping").inputs
    assert (mapping["batchSize"], mapping["scalingConfig"]["maximumConcurrency"]) == (5, 4)


def test_max_receive_count_comes_from_settings(run_pulumi) -> None:
    run = run_pulumi(build(), config={"emailMaxReceiveCount": 7})
    assert json.loads(run.named("email-outbox").inputs["redrivePolicy"])["maxReceiveCount"] == 7


def test_component_outputs_are_registered(run) -> None:
    outputs = run.component_outputs[run.named("email").urn]
    assert outputs["queue_url"] == run.named("email-outbox").outputs["url"]
    assert outputs["queue_arn"] == run.named("email-outbox").outputs["arn"]
    assert outputs["identity_arn"] == run.named("email-identity").outputs["arn"]


@pytest.mark.parametrize(
    "bad", [{"batch_size": 0}, {"batch_size": 11}, {"max_concurrency": 1}, {"sender_timeout_seconds": 901}]
)
def test_args_outside_aws_limits_are_refused(bad) -> None:
    with pytest.raises(ValueError):
        EmailSenderArgs(functions=FunctionDefaults(naming=Naming("p-dev")), sender="a@b.example.com", **bad)


@pytest.mark.parametrize(("sender", "domain", "message"), [
    ("not-an-address", None, "email address"), ("a@b.example.com", "other.com", "address of domain"),
    ("a@example.com", "-bad-.com", "domain name"),
])
def test_sender_and_domain_are_checked_in_the_args(sender, domain, message) -> None:
    with pytest.raises(ValueError, match=message):
        EmailSenderArgs(functions=FunctionDefaults(naming=Naming("p-dev")), sender=sender, domain=domain)


def test_producer_link_is_the_outbox_url_with_exactly_its_enqueue_grant(run) -> None:
    variables = run.named("producer-function").inputs["environment"]["variables"]
    assert variables["EMAIL_QUEUE_URL"] == run.named("email-outbox").outputs["url"]
    [policy] = [p for p in run.of_type("aws:iam/rolePolicy:RolePolicy") if p.name == "producer-policy"]
    enqueue = [s for s in statements_of(policy.inputs["policy"]) if s.get("Sid") == "EnqueueEmail"]
    assert [(s["Action"], s["Resource"]) for s in enqueue] == [(["sqs:SendMessage"], [run.named("email-outbox").outputs["arn"]])]
    grants = actions_by_resource(role_statements(run, "producer"))
    assert grants[run.named("email-outbox").outputs["arn"]] == {"sqs:SendMessage"}


# ------------------------------------------------------------------------------------------- planning

DEV = stack_args(settings_from(lambda key: None, project="secure-serverless", stack="dev")).email
labels = st.from_regex(r"[a-z][a-z0-9-]{0,20}[a-z0-9]", fullmatch=True)


@st.composite
def email_settings(draw) -> dict:
    domain = draw(st.none() | st.builds(lambda a, b: f"{a}.{b}", labels, st.sampled_from(["com", "org", "io"])))
    host = domain or draw(labels) + ".example.com"
    return {"sender": f"{draw(labels)}@{host}", "domain": domain, "max_receive_count": draw(st.integers(1, 1000))}


@given(
    email=email_settings(),
    stack=st.from_regex(r"[a-z][a-z0-9-]{0,30}", fullmatch=True),
    timeout=st.integers(1, 900),
)
def test_plan_names_are_valid_unique_and_the_identity_covers_the_sender(email, stack, timeout) -> None:
    functions = replace(DEV.functions, naming=Naming(f"secure-serverless-{stack}"))
    plan = plan_email(replace(DEV, functions=functions, sender_timeout_seconds=timeout, **email), TEMPLATES)
    assert plan.domain_identity == (email["domain"] is not None)
    assert plan.sender == email["sender"] and plan.sender.endswith("@" + plan.identity) or plan.identity == plan.sender
    names = list(plan.template_names.values())
    assert len(set(names)) == len(names) == len(TEMPLATES)
    assert all(len(n) <= 64 and n.replace("-", "").replace("_", "").isalnum() for n in names)
    assert len(plan.outbox_name) <= 80 and len(plan.dlq_name) <= 80 and plan.outbox_name != plan.dlq_name
    assert plan.visibility_timeout_seconds == 6 * timeout <= 43200
    assert {name: entry["templateName"] for name, entry in plan.manifest.items()} == plan.template_names


@given(sender=st.emails(), arns=st.lists(st.text(min_size=1, max_size=30), min_size=4, max_size=8, unique=True))
def test_sender_statements_never_widen(sender, arns) -> None:
    identity, config_set, outbox, *templates = arns
    send, consume = sender_statements(sender, identity, config_set, templates, outbox)
    assert list(send.resources) == [identity, config_set, *templates]
    assert send.document()["Condition"] == {"StringEquals": {"ses:FromAddress": [sender]}}
    assert list(consume.resources) == [outbox] and not consume.conditions
    assert all("*" not in a for s in (send, consume) for a in s.actions)


@pytest.mark.parametrize(
    "part",
    ["Hi {{{name}}}", "{{#if name}}x{{/if}}", "{{name.first}}", "{{ }}", "{{> partial}}", "{{name}"  "}}"],
)
def test_only_plain_placeholders_are_allowed(part) -> None:
    with pytest.raises(TemplateError):
        placeholders(part)


@pytest.mark.parametrize(
    ("name", "subject", "text", "html"),
    [
        ("Bad Name", "s", "t", "h"),
        ("Ok", "two\nlines", "t", "h"),
        ("Ok", "", "t", "h"),
        ("Ok", "s", "", "h"),
        ("Ok", "s", "t", "x" * (500 * 1024)),
    ],
)
def test_templates_ses_would_refuse_are_refused_at_load(name, subject, text, html) -> None:
    with pytest.raises(TemplateError):
        parse_template(name, subject, text, html)


def test_a_template_missing_a_part_or_a_stray_file_fails_loading(tmp_path) -> None:
    (tmp_path / "A.subject.txt").write_text("Hi {{name}}")
    (tmp_path / "A.txt").write_text("Hi {{name}}")
    with pytest.raises(TemplateError, match="missing A.html"):
        load_templates(tmp_path)
    (tmp_path / "A.html").write_text("<p>Hi {{name}}</p>")
    assert [t.variables for t in load_templates(tmp_path)] == [frozenset({"name"})]
    (tmp_path / "B.html").write_text("orphan")
    with pytest.raises(TemplateError, match="belong to no template"):
        load_templates(tmp_path)

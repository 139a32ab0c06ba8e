"""EmailSender: the one way this app sends mail — an SQS outbox drained by a sender function into SES.

    producer ──sqs:SendMessage──> outbox (SSE, redrive) ──ESM, partial batch──> send_email ──> SES v1 templates
                                    └── after maxReceiveCount ──> DLQ (14 days, alarmed)

Producers get `sqs:SendMessage` on the outbox and nothing in SES; the sender function alone may call
`ses:SendTemplatedEmail`, only on the identity, the configuration set and our templates, and only as the
configured sender address. A job that fails is retried and then kept in the DLQ: mail is never dropped.

The SES side: an identity (the sender address in dev/local, the domain with Easy DKIM when `emailDomain` is
set), a configuration set (reputation metrics, TLS required, bounce/complaint suppression) publishing send,
delivery, bounce, complaint, reject and rendering-failure events to CloudWatch per template, and the templates
loaded from `templates/email/` by `components.email_templates`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pulumi
import pulumi_aws as aws

from .email_templates import TEMPLATE_DIR, EmailTemplate, load_templates, sender_manifest
from .function import FunctionDefaults, PythonFunction, PythonFunctionArgs
from .limits import DOMAIN, EMAIL, check_range, check_tags
from .link import Condition, Link, Statement
from .queues import dead_letter_queue, guard_dead_letter_queue, redrive_policy, sqs_trigger
from .tokens import component_type, with_legacy_alias

# Events the configuration set publishes; the first four are the ones an operator watches.
EVENT_TYPES = ("SEND", "DELIVERY", "BOUNCE", "COMPLAINT", "REJECT", "RENDERING_FAILURE", "DELIVERY_DELAY")
# The sender tags every message with its (logical) template name: CloudWatch metrics per template.
TEMPLATE_TAG = "template"
CONSUME_ACTIONS = ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes")
SEND_ACTIONS = ("ses:SendTemplatedEmail",)
OUTBOX_RETENTION_SECONDS = 4 * 24 * 3600


@dataclass(frozen=True)
class EmailPlan:
    """Everything about the email resources that follows from settings alone (no cloud values)."""

    identity: str
    domain_identity: bool
    sender: str
    configuration_set_name: str
    template_names: dict[str, str]
    outbox_name: str
    dlq_name: str
    max_receive_count: int
    visibility_timeout_seconds: int
    sender_timeout_seconds: int
    manifest: dict[str, dict]


def plan_email(args: EmailSenderArgs, templates: Sequence[EmailTemplate]) -> EmailPlan:
    """Names and limits: stack-unique SES and SQS names, visibility timeout = 6 x the sender's timeout."""
    naming = args.functions.naming
    template_names = {t.name: naming.name(t.name) for t in templates}
    if len(set(template_names.values())) != len(template_names):
        raise ValueError(f"template names collide once shortened: {template_names}")
    return EmailPlan(
        identity=args.domain or args.sender,
        domain_identity=args.domain is not None,
        sender=args.sender,
        configuration_set_name=naming.name("email"),
        template_names=template_names,
        outbox_name=naming.name("email-outbox", 80),
        dlq_name=naming.name("email-dlq", 80),
        max_receive_count=args.max_receive_count,
        # AWS guidance for SQS event sources: >= 6 x the function timeout, so a slow batch is not redelivered.
        visibility_timeout_seconds=6 * args.timeout,
        sender_timeout_seconds=args.timeout,
        manifest=sender_manifest(tuple(templates), template_names),
    )


def sender_statements(
    sender: str,
    identity_arn: pulumi.Input[str],
    configuration_set_arn: pulumi.Input[str],
    template_arns: Sequence[pulumi.Input[str]],
    outbox_arn: pulumi.Input[str],
) -> list[Statement]:
    """The sender function's grants: send our templates as `sender` only, and consume the outbox."""
    return [
        Statement(
            actions=list(SEND_ACTIONS),
            resources=[identity_arn, configuration_set_arn, *template_arns],
            conditions=[Condition("StringEquals", "ses:FromAddress", [sender])],
            sid="SendTemplatedAsSender",
        ),
        Statement(actions=list(CONSUME_ACTIONS), resources=[outbox_arn], sid="ConsumeOutbox"),
    ]


def enqueue_statement(outbox_arn: pulumi.Input[str]) -> Statement:
    """All a producer may do: put a job on the outbox."""
    return Statement(actions=["sqs:SendMessage"], resources=[outbox_arn], sid="EnqueueEmail")


@dataclass(frozen=True)
class EmailSenderArgs:
    functions: FunctionDefaults
    sender: str
    # SES domain identity with Easy DKIM; None: the sender address itself is the identity.
    domain: str | None = None
    max_receive_count: int = 3
    batch_size: int = 10
    max_concurrency: int = 2
    sender_timeout_seconds: int | None = None
    templates_dir: Path = TEMPLATE_DIR
    tags: Mapping[str, str] = field(default_factory=dict)
    alarm_actions: Sequence[str] = ()

    def __post_init__(self) -> None:
        if not EMAIL.match(self.sender):
            raise ValueError(f"sender {self.sender!r} must be an email address")
        if self.domain is not None:
            if not DOMAIN.match(self.domain):
                raise ValueError(f"domain {self.domain!r} must be a domain name such as example.com")
            if not self.sender.lower().endswith("@" + self.domain.lower()):
                raise ValueError(f"sender {self.sender!r} must be an address of domain {self.domain!r}")
        check_range("max_receive_count", self.max_receive_count, 1, 1000)
        # Above 10 a standard queue needs a batching window; 10 emails per invocation is plenty.
        check_range("batch_size", self.batch_size, 1, 10)
        # SQS event sources accept a maximum concurrency of 2..1000; low keeps us under the SES send rate.
        check_range("max_concurrency", self.max_concurrency, 2, 1000)
        # The visibility timeout (6 x this) may not exceed SQS's 12 hours.
        check_range("sender_timeout_seconds", self.sender_timeout_seconds, 1, 900)
        check_tags(self.tags)

    @property
    def timeout(self) -> int:
        return self.sender_timeout_seconds or self.functions.timeout_seconds


class EmailSender(pulumi.ComponentResource):
    identity: aws.sesv2.EmailIdentity
    configuration_set: aws.sesv2.ConfigurationSet
    templates: dict[str, aws.ses.Template]
    queue: aws.sqs.Queue
    dlq: aws.sqs.Queue
    sender: PythonFunction
    queue_url: pulumi.Output[str]
    queue_arn: pulumi.Output[str]
    dlq_url: pulumi.Output[str]

    def __init__(self, name: str, args: EmailSenderArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(component_type("EmailSender"), name, None, with_legacy_alias("EmailSender", opts))
        self._name = name
        tags = dict(args.tags)
        child = pulumi.ResourceOptions(parent=self)
        templates = load_templates(args.templates_dir)
        plan = plan_email(args, templates)

        # --- SES: configuration set, identity, templates
        self.configuration_set = aws.sesv2.ConfigurationSet(
            f"{name}-configuration-set",
            configuration_set_name=plan.configuration_set_name,
            reputation_options=aws.sesv2.ConfigurationSetReputationOptionsArgs(reputation_metrics_enabled=True),
            sending_options=aws.sesv2.ConfigurationSetSendingOptionsArgs(sending_enabled=True),
            delivery_options=aws.sesv2.ConfigurationSetDeliveryOptionsArgs(tls_policy="REQUIRE"),
            suppression_options=aws.sesv2.ConfigurationSetSuppressionOptionsArgs(
                suppressed_reasons=["BOUNCE", "COMPLAINT"]
            ),
            tags=tags,
            opts=child,
        )
        aws.sesv2.ConfigurationSetEventDestination(
            f"{name}-events",
            configuration_set_name=self.configuration_set.configuration_set_name,
            event_destination_name="cloudwatch",
            event_destination=aws.sesv2.ConfigurationSetEventDestinationEventDestinationArgs(
                enabled=True,
                matching_event_types=list(EVENT_TYPES),
                cloud_watch_destination=aws.sesv2.ConfigurationSetEventDestinationEventDestinationCloudWatchDestinationArgs(
                    dimension_configurations=[
                        aws.sesv2.ConfigurationSetEventDestinationEventDestinationCloudWatchDestinationDimensionConfigurationArgs(
                            dimension_name=TEMPLATE_TAG,
                            dimension_value_source="MESSAGE_TAG",
                            default_dimension_value="none",
                        )
                    ]
                ),
            ),
            opts=child,
        )
        self.identity = aws.sesv2.EmailIdentity(
            f"{name}-identity",
            email_identity=plan.identity,
            configuration_set_name=self.configuration_set.configuration_set_name,
            # A domain signs with Easy DKIM (2048-bit); publish `dkim_tokens` as CNAMEs to finish verification.
            dkim_signing_attributes=(
                aws.sesv2.EmailIdentityDkimSigningAttributesArgs(next_signing_key_length="RSA_2048_BIT")
                if plan.domain_identity
                else None
            ),
            tags=tags,
            opts=child,
        )
        self.templates = {
            template.name: aws.ses.Template(
                f"{name}-template-{template.name}",
                name=plan.template_names[template.name],
                subject=template.subject,
                text=template.text,
                html=template.html,
                opts=child,
            )
            for template in templates
        }

        # --- the outbox
        self.dlq = dead_letter_queue(name, plan.dlq_name, tags, child)
        self.queue = aws.sqs.Queue(
            f"{name}-outbox",
            name=plan.outbox_name,
            visibility_timeout_seconds=plan.visibility_timeout_seconds,
            message_retention_seconds=OUTBOX_RETENTION_SECONDS,
            receive_wait_time_seconds=20,
            sqs_managed_sse_enabled=True,
            redrive_policy=redrive_policy(self.dlq, plan.max_receive_count),
            tags=tags,
            opts=child,
        )
        guard_dead_letter_queue(name, self.dlq, self.queue, "Email jobs", tags, child, args.alarm_actions)

        # --- the sender
        self.sender = PythonFunction(
            f"{name}-sender",
            PythonFunctionArgs(
                handler="send_email",
                defaults=args.functions,
                environment={
                    "SENDER_ADDRESS": plan.sender,
                    "CONFIGURATION_SET": self.configuration_set.configuration_set_name,
                    "EMAIL_TEMPLATES": json.dumps(plan.manifest, separators=(",", ":"), sort_keys=True),
                },
                statements=sender_statements(
                    plan.sender,
                    self.identity.arn,
                    self.configuration_set.arn,
                    [t.arn for t in self.templates.values()],
                    self.queue.arn,
                ),
                schemas=("email_job",),
                timeout_seconds=plan.sender_timeout_seconds,
                description=args.functions.describe("Sends queued email jobs through SES"),
            ),
            opts=child,
        )
        self.trigger = sqs_trigger(
            f"{name}-sender-trigger",
            self.queue,
            self.sender.arn,
            child,
            batch_size=args.batch_size,
            max_concurrency=args.max_concurrency,
        )

        self.queue_url = self.queue.url
        self.queue_arn = self.queue.arn
        self.dlq_url = self.dlq.url
        self.sender_address = plan.sender
        self.configuration_set_name = self.configuration_set.configuration_set_name
        self.identity_arn = self.identity.arn
        self.dkim_tokens = self.identity.dkim_signing_attributes.apply(
            lambda attributes: list((attributes.tokens if attributes else None) or [])
        )
        # SES's VerifiedForSendingStatus as of the last `up` or `refresh`: false until the address's link is clicked
        # or the domain's DKIM records resolve (then `pulumi refresh` reads true).
        self.verified_for_sending = self.identity.verified_for_sending_status
        self.register_outputs(
            {
                "queue_url": self.queue_url,
                "queue_arn": self.queue_arn,
                "dlq_url": self.dlq_url,
                "identity_arn": self.identity_arn,
                "configuration_set_name": self.configuration_set_name,
                "dkim_tokens": self.dkim_tokens,
                "verified_for_sending": self.verified_for_sending,
            }
        )

    def enqueue_statement(self) -> Statement:
        """`sqs:SendMessage` on the outbox, nothing else (prefer `producer_link()`, which carries the URL too)."""
        return enqueue_statement(self.queue_arn)

    def producer_link(self, *, env: str = "EMAIL_QUEUE_URL") -> Link:
        """For a producer's `PythonFunctionArgs(links=[...])`: the outbox URL in `env` + its enqueue grant."""
        return Link(env={env: self.queue_url}, statements=[self.enqueue_statement()])

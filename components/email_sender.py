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
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.email_templates import EmailTemplate, load_templates, sender_manifest
from components.function import Condition, PythonFunction, PythonFunctionArgs, Statement
from components.queues import dead_letter_queue, guard_dead_letter_queue, redrive_policy, sqs_trigger
from components.settings import Settings

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


def plan_email(settings: Settings, templates: Sequence[EmailTemplate], sender_timeout_seconds: int) -> EmailPlan:
    """Names and limits: stack-unique SES and SQS names, visibility timeout = 6 x the sender's timeout."""
    email = settings.email
    template_names = {t.name: settings.resource_name(t.name) for t in templates}
    if len(set(template_names.values())) != len(template_names):
        raise ValueError(f"template names collide once shortened: {template_names}")
    return EmailPlan(
        identity=email.domain or email.sender,
        domain_identity=email.domain is not None,
        sender=email.sender,
        configuration_set_name=settings.resource_name("email"),
        template_names=template_names,
        outbox_name=settings.resource_name("email-outbox", 80),
        dlq_name=settings.resource_name("email-dlq", 80),
        max_receive_count=email.max_receive_count,
        # AWS guidance for SQS event sources: >= 6 x the function timeout, so a slow batch is not redelivered.
        visibility_timeout_seconds=6 * sender_timeout_seconds,
        sender_timeout_seconds=sender_timeout_seconds,
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
    settings: Settings
    batch_size: int = 10
    max_concurrency: int = 2
    sender_timeout_seconds: int | None = None

    def __post_init__(self) -> None:
        # Above 10 a standard queue needs a batching window; 10 emails per invocation is plenty.
        if not 1 <= self.batch_size <= 10:
            raise ValueError(f"batch_size must be 1..10, got {self.batch_size}")
        # SQS event sources accept a maximum concurrency of 2..1000; low keeps us under the SES send rate.
        if not 2 <= self.max_concurrency <= 1000:
            raise ValueError(f"max_concurrency must be 2..1000, got {self.max_concurrency}")
        # The visibility timeout (6 x this) may not exceed SQS's 12 hours.
        if self.sender_timeout_seconds is not None and not 1 <= self.sender_timeout_seconds <= 900:
            raise ValueError(f"sender_timeout_seconds must be 1..900, got {self.sender_timeout_seconds}")

    @property
    def timeout(self) -> int:
        return self.sender_timeout_seconds or self.settings.lambda_defaults.timeout_seconds


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
        super().__init__("app:components:EmailSender", name, None, opts)
        self._name = name
        settings = args.settings
        tags = dict(settings.tags)
        child = pulumi.ResourceOptions(parent=self)
        templates = load_templates()
        plan = plan_email(settings, templates, args.timeout)

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
        guard_dead_letter_queue(name, self.dlq, self.queue, "Email jobs", tags, child, settings.alarm_actions)

        # --- the sender
        self.sender = PythonFunction(
            f"{name}-sender",
            PythonFunctionArgs(
                handler="send_email",
                settings=settings,
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
                description=f"Sends queued email jobs through SES ({settings.stack})",
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
        self.register_outputs(
            {
                "queue_url": self.queue_url,
                "queue_arn": self.queue_arn,
                "dlq_url": self.dlq_url,
                "identity_arn": self.identity_arn,
                "configuration_set_name": self.configuration_set_name,
                "dkim_tokens": self.dkim_tokens,
            }
        )

    def enqueue_statement(self) -> Statement:
        """For a producer's PythonFunctionArgs(statements=[...]): `sqs:SendMessage` on the outbox, nothing else."""
        return enqueue_statement(self.queue_arn)

    def grant_enqueue(self, function: PythonFunction) -> aws.iam.RolePolicy:
        """Let an existing function put jobs on the outbox (exactly `sqs:SendMessage` on its ARN)."""
        return function.grant("enqueue-email", [self.enqueue_statement()])

"""One deployment per stack: a Cognito-secured REST API and the serverless flows behind it.

    browser/curl ──HTTPS──> API Gateway (stage = stack, throttled, JSON access logs)
                              │  Cognito authorizer (user pool) on every route except GET /health, POST /register
                              ├─ GET  /health, GET /hello ─────────────> Lambda
                              ├─ POST /register ──> Lambda ──> Cognito user ──> email outbox (SQS) ──> SES
                              ├─ POST /orders ──> SQS (+DLQ) ──> processor ──> S3 receipt + email outbox
                              ├─ GET  /orders/{orderId} ──> S3 receipt (caller's own)
                              └─ POST /uploads[/url], GET /uploads ──> S3 ──> Kinesis ──> consumer ──> S3
    every failure mode ──alarm──> SNS alarm topic (configured, or the stack's own, encrypted) ──> on-call
    one CloudWatch dashboard and saved Logs Insights queries, built from the same components
"""

from dataclasses import replace

import pulumi
import pulumi_aws as aws

from components import settings as stack_settings
from components.alarm_topic import AlarmTopic
from components.api_gateway_account import ApiGatewayAccount
from components.email_sender import EmailSender
from components.function import PythonFunction, PythonFunctionArgs
from components.observability import Observability, ObservabilityArgs, observe
from components.order_pipeline import OrderPipeline
from components.registration import UserRegistration, UserRegistrationArgs
from components.secure_api import Route, SecureApi
from components.upload_stream import UploadStream
from components.user_pool import UserPool

# Validated before anything is created or looked up: a bad value stops here naming the stack and key. Then the
# account id is looked up once for the whole stack (each lookup is a provider round trip), passed to every function.
stack = stack_settings.load().with_account(aws.get_caller_identity_output().account_id)
functions = stack.functions
settings = stack.settings

# Every alarm (the flows' dead-letter alarms included) notifies this topic: the configured one, or the stack's own.
# Its Args (alarmTopicArn / alarmEmail) were validated with every other key by `load()`.
alarm_topic = AlarmTopic("alarms", stack.alarm_topic)
stack = stack.with_alarm_actions([alarm_topic.arn])

# The pool was created inside SecureApi "api" before it became its own component: same children, same URNs.
users = UserPool("api", stack.user_pool, moved_from=pulumi.resource.create_urn("api", "app:components:SecureApi"))
# The stage's access logs need the account's API Gateway CloudWatch role; one stack per account manages it.
account = ApiGatewayAccount("apigateway-account", stack.api_account) if stack.api_account else None
api = SecureApi("api", replace(stack.api.with_user_pools(users.arn), stage_depends_on=[account] if account else []))

health = PythonFunction("health", PythonFunctionArgs(handler="health", defaults=functions))
hello = PythonFunction("hello", PythonFunctionArgs(handler="hello", defaults=functions))
api.add_routes([Route("GET", "/health", health, public=True), Route("GET", "/hello", hello)])

email = EmailSender("email", stack.email)
registration = UserRegistration(
    "registration",
    UserRegistrationArgs(functions=functions, user_pool=users.admin_link(), email=email.producer_link()),
)
orders = OrderPipeline("orders", replace(stack.orders, email=email.producer_link()))
uploads = UploadStream("uploads", stack.uploads)

# Routes are data: every flow's table goes to the one API, then the stage is built from the complete table.
for flow in (registration, orders, uploads):
    api.add_routes(flow.routes)
api.deploy()

# Alarms, dashboard and saved queries for all of the above: a function added to any of these gets them too.
observability = Observability("observability", ObservabilityArgs(
    project=settings.project, stage=settings.stack, tags=settings.tags, alarm_topic_arn=alarm_topic.arn,
    thresholds=stack.thresholds,
    targets=observe([users, api, health, hello, email, registration, orders, uploads], apis=[api],
                    asynchronous=["uploads-ingest"], on_failure_destination=["uploads-ingest"],
                    stream_consumers=["uploads-process"]),
))

pulumi.export("api_url", api.url)
pulumi.export("user_pool_id", users.user_pool_id)
pulumi.export("user_pool_arn", users.arn)
pulumi.export("user_pool_client_id", users.client_id)
pulumi.export("curl_example", api.curl_example)
pulumi.export("email_queue_url", email.queue_url)
pulumi.export("email_dlq_url", email.dlq_url)
pulumi.export("email_configuration_set", email.configuration_set_name)
pulumi.export("email_dkim_tokens", email.dkim_tokens)
pulumi.export("email_verified_for_sending", email.verified_for_sending)
pulumi.export("orders_queue_url", orders.queue_url)
pulumi.export("orders_dlq_url", orders.dlq_url)
pulumi.export("receipts_bucket", orders.receipts_bucket)
pulumi.export("uploads_bucket", uploads.uploads_bucket)
pulumi.export("processed_bucket", uploads.processed_bucket)
pulumi.export("uploads_stream_name", uploads.stream_name)
pulumi.export("uploads_failure_queue_url", uploads.failure_queue_url)
pulumi.export("alarm_topic_arn", alarm_topic.arn)
pulumi.export("dashboard_name", observability.dashboard_name)
if api.api_key_id is not None:
    pulumi.export("api_key_id", api.api_key_id)

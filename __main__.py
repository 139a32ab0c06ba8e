"""One deployment per stack: a Cognito-secured REST API and the serverless flows behind it.

    browser/curl ──HTTPS──> API Gateway (stage = stack, throttled, JSON access logs)
                              │  Cognito authorizer on every route except GET /health, POST /register
                              ├─ GET  /health, GET /hello ─────────────> Lambda
                              ├─ POST /register ──> Lambda ──> Cognito user ──> email outbox (SQS) ──> SES
                              ├─ POST /orders ──> SQS (+DLQ) ──> processor ──> Step Functions order workflow
                              │                    (orders table, receipt in S3, email outbox, hourly cleanup)
                              ├─ GET  /orders/{orderId} ──> orders table (caller's own: status, history, receipt)
                              ├─ POST /profiles, GET /profiles/{id} ──> profiles table ──stream──> welcome email
                              └─ POST /uploads[/url], GET /uploads ──> S3 ──> Kinesis ──> consumer ──> S3
"""

import pulumi

from components import settings as stack_settings
from components.email_sender import EmailSender, EmailSenderArgs
from components.function import PythonFunction, PythonFunctionArgs
from components.order_pipeline import OrderPipeline, OrderPipelineArgs
from components.order_settings import email_link, profiles_args
from components.profiles import Profiles
from components.registration import UserRegistration, UserRegistrationArgs
from components.secure_api import Route, SecureApi, SecureApiArgs
from components.upload_stream import UploadStream, UploadStreamArgs

# Validated before any resource exists: a bad value stops here naming the stack and key.
settings = stack_settings.load()

health = PythonFunction("health", PythonFunctionArgs(handler="health", settings=settings))
hello = PythonFunction("hello", PythonFunctionArgs(handler="hello", settings=settings))

api = SecureApi(
    "api",
    SecureApiArgs(
        settings=settings,
        routes=[
            Route("GET", "/health", health, public=True),
            Route("GET", "/hello", hello),
        ],
    ),
)

email = EmailSender("email", EmailSenderArgs(settings=settings))
UserRegistration("registration", UserRegistrationArgs(settings=settings, api=api, email=email))
orders = OrderPipeline("orders", OrderPipelineArgs(settings=settings, api=api, email=email))
uploads = UploadStream("uploads", UploadStreamArgs(settings=settings, api=api))
profiles = Profiles("profiles", profiles_args(settings, email_link(email)))
api.add_routes(profiles.routes)

# Every component has added its routes: build the stage from the complete route table.
api.deploy()

pulumi.export("api_url", api.url)
pulumi.export("user_pool_id", api.user_pool_id)
pulumi.export("user_pool_arn", api.user_pool_arn)
pulumi.export("user_pool_client_id", api.user_pool_client_id)
pulumi.export("curl_example", api.curl_example)
pulumi.export("email_queue_url", email.queue_url)
pulumi.export("email_dlq_url", email.dlq_url)
pulumi.export("email_configuration_set", email.configuration_set_name)
pulumi.export("email_dkim_tokens", email.dkim_tokens)
pulumi.export("orders_queue_url", orders.queue_url)
pulumi.export("orders_dlq_url", orders.dlq_url)
pulumi.export("receipts_bucket", orders.receipts_bucket)
pulumi.export("orders_table", orders.orders_table)
pulumi.export("order_state_machine_arn", orders.state_machine_arn)
pulumi.export("orders_cleanup_function", orders.workflow.cleanup.function_name)
pulumi.export("profiles_table", profiles.table_name)
pulumi.export("profiles_welcome_function", profiles.welcome.function_name)
pulumi.export("profiles_welcome_failures_url", profiles.failure_queue_url)
pulumi.export("uploads_bucket", uploads.uploads_bucket)
pulumi.export("processed_bucket", uploads.processed_bucket)
pulumi.export("uploads_stream_name", uploads.stream_name)
pulumi.export("uploads_failure_queue_url", uploads.failure_queue_url)
if api.api_key_id is not None:
    pulumi.export("api_key_id", api.api_key_id)

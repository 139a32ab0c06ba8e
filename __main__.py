"""One deployment per stack: a Cognito-secured REST API and the serverless flows behind it.

    browser/curl ──HTTPS──> API Gateway (stage = stack, throttled, JSON access logs)
                              │  Cognito authorizer on every route except GET /health, POST /register
                              ├─ GET  /health, GET /hello ─────────────> Lambda
                              ├─ POST /register ──> Lambda ──> Cognito user ──> email outbox (SQS) ──> SES
                              ├─ POST /orders ──> SQS (+DLQ) ──> processor ──> S3 receipt + email outbox
                              ├─ GET  /orders/{orderId} ──> S3 receipt (caller's own)
                              └─ POST /uploads[/url], GET /uploads ──> S3 ──> Kinesis ──> consumer ──> S3
"""

import pulumi

from components import settings as stack_settings
from components.email_sender import EmailSender, EmailSenderArgs
from components.function import PythonFunction, PythonFunctionArgs
from components.order_pipeline import OrderPipeline, OrderPipelineArgs
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
pulumi.export("uploads_bucket", uploads.uploads_bucket)
pulumi.export("processed_bucket", uploads.processed_bucket)
pulumi.export("uploads_stream_name", uploads.stream_name)
pulumi.export("uploads_failure_queue_url", uploads.failure_queue_url)
if api.api_key_id is not None:
    pulumi.export("api_key_id", api.api_key_id)

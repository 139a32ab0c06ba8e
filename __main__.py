"""One deployment per stack: a Cognito-secured REST API and the serverless flows behind it.

    browser/curl ──HTTPS──> API Gateway (stage = stack, throttled, JSON access logs)
                              │  Cognito authorizer (user pool) on every route except GET /health, POST /register[/confirm]
                              ├─ GET  /health, GET /hello ─────────────> Lambda
                              ├─ POST /register ──> Lambda ──> code (DynamoDB) ──> email outbox (SQS) ──> SES
                              ├─ POST /register/confirm ──> Lambda ──> Cognito user + profile row
                              ├─ POST /profiles, GET /profiles/{id} ──> profiles table ──stream: INSERT──> welcome
                              │                   ──> email outbox (one welcome per user)
                              ├─ POST /orders ──> SQS (+DLQ) ──> processor ──> Step Functions order workflow
                              │                   (orders table, receipt in S3, email outbox, hourly cleanup)
                              ├─ GET  /orders/{orderId} ──> orders table (caller's own: status, history, receipt)
                              └─ POST /uploads[/url], GET /uploads ──> S3 ──> Kinesis ──> consumer ──> S3
    every failure mode ──alarm──> SNS alarm topic (configured, or the stack's own, encrypted) ──> on-call
    one CloudWatch dashboard and saved Logs Insights queries, built from the same components
    browser ──HTTPS──> CloudFront ──OAC──> private S3: docs page + openapi.json (/api/* ──> the stage)
                        sign-in: Cognito Hosted UI (code + PKCE) ──> access tokens with our scopes
"""

from dataclasses import replace

import pulumi
import pulumi_aws as aws

from components import settings as stack_settings
from components.alarm_topic import AlarmTopic
from components.api_gateway_account import ApiGatewayAccount
from components.docs_site import DocsSite, SignIn
from components.email_sender import EmailSender
from components.function import PythonFunction, PythonFunctionArgs
from components.hosted_ui import STANDARD_SCOPES, HostedUi
from components.observability import Observability, ObservabilityArgs, observe
from components.openapi import OAuthSettings, document_json
from components.order_pipeline import OrderPipeline
from components.profiles import Profiles
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

sign_in = HostedUi("sign-in", stack.hosted_ui.with_user_pool(users.user_pool_id))

health = PythonFunction("health", PythonFunctionArgs(handler="health", defaults=functions))
hello = PythonFunction("hello", PythonFunctionArgs(handler="hello", defaults=functions))

email = EmailSender("email", stack.email)
profiles = Profiles("profiles", replace(stack.profiles, email=email.producer_link()))
# One welcome per user: confirm creates the profile row and the table's stream sends the welcome (a user who
# signs up another way gets it from their first POST /profiles).
registration = UserRegistration(
    "registration",
    UserRegistrationArgs(functions=functions, user_pool=users, email=email.producer_link(),
                         profiles=profiles.creator_link(), protect=stack.settings.protect_data),
)
orders = OrderPipeline("orders", replace(stack.orders, email=email.producer_link()))
uploads = UploadStream("uploads", stack.uploads)

# Routes are data: every flow's table goes to the one API (with the stack's `routeScopes`), then the stage is
# built from the complete table.
routes = [Route("GET", "/health", health, public=True), Route("GET", "/hello", hello)]
for flow in (registration, profiles, orders, uploads):
    routes.extend(flow.routes)
api.add_routes(stack.scoped(routes))
api.deploy()

# The docs site documents exactly the deployed table; the sign-in client returns to it (and dev's localhost).
callback_urls: list = list(stack.settings.hosted_ui.callback_urls)
if stack.docs is not None:
    oauth = OAuthSettings(sign_in.authorize_url, sign_in.token_url, sign_in.scopes)
    servers = ["/api"] if stack.docs.serve_api else []
    openapi = api.url.apply(lambda url: document_json(
        api.route_specs, stack.api.schemas_dir, title=f"{stack.settings.project} API", version=stack.settings.stack,
        servers=[url, *servers], oauth=oauth, api_keys_enabled=stack.api.usage_plan_enabled))
    docs = DocsSite("docs", stack.docs.with_api(openapi, api.url))
    callback_urls.insert(0, docs.docs_url)
if callback_urls:
    client = sign_in.app_client("web", callback_urls=callback_urls, logout_urls=callback_urls)
    pulumi.export("hosted_ui_client_id", client.id)
if stack.docs is not None:
    docs.publish_config(SignIn(sign_in.base_url, client.id, (*STANDARD_SCOPES, *sign_in.scopes)))
    pulumi.export("docs_url", docs.docs_url)
    pulumi.export("docs_distribution_domain", docs.domain_name)
    pulumi.export("docs_api_url", docs.api_base_url)

# Alarms, dashboard and saved queries for all of the above: a function added to any of these gets them too.
observability = Observability("observability", ObservabilityArgs(
    project=settings.project, stage=settings.stack, tags=settings.tags, alarm_topic_arn=alarm_topic.arn,
    thresholds=stack.thresholds,
    targets=observe([users, api, health, hello, email, registration, profiles, orders, uploads], apis=[api],
                    asynchronous=["uploads-ingest"], on_failure_destination=["uploads-ingest"],
                    stream_consumers=["uploads-process", "profiles-welcome"]),
))

pulumi.export("api_url", api.url)
pulumi.export("user_pool_id", users.user_pool_id)
pulumi.export("user_pool_arn", users.arn)
pulumi.export("user_pool_client_id", users.client_id)
pulumi.export("curl_example", api.curl_example)
pulumi.export("hosted_ui_url", sign_in.base_url)
pulumi.export("oauth_scopes", list(sign_in.scopes))
pulumi.export("email_queue_url", email.queue_url)
pulumi.export("email_dlq_url", email.dlq_url)
pulumi.export("email_configuration_set", email.configuration_set_name)
pulumi.export("email_dkim_tokens", email.dkim_tokens)
pulumi.export("email_verified_for_sending", email.verified_for_sending)
pulumi.export("profiles_table", profiles.table_name)
pulumi.export("profiles_stream_arn", profiles.stream_arn)
pulumi.export("profiles_welcome_function", profiles.welcome.function_name)
pulumi.export("profiles_welcome_failures_url", profiles.failure_queue_url)
pulumi.export("orders_queue_url", orders.queue_url)
pulumi.export("orders_dlq_url", orders.dlq_url)
pulumi.export("receipts_bucket", orders.receipts_bucket)
if orders.workflow is not None:
    pulumi.export("orders_table", orders.workflow.table_name)
    pulumi.export("order_state_machine_arn", orders.workflow.state_machine_arn)
    pulumi.export("orders_cleanup_function", orders.workflow.cleanup.function_name)
pulumi.export("uploads_bucket", uploads.uploads_bucket)
pulumi.export("processed_bucket", uploads.processed_bucket)
pulumi.export("uploads_stream_name", uploads.stream_name)
pulumi.export("uploads_failure_queue_url", uploads.failure_queue_url)
pulumi.export("alarm_topic_arn", alarm_topic.arn)
pulumi.export("dashboard_name", observability.dashboard_name)
if api.api_key_id is not None:
    pulumi.export("api_key_id", api.api_key_id)
    pulumi.export("api_key_value", api.api_key_value)  # secret: `pulumi stack output api_key_value --show-secrets`

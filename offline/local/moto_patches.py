"""Small, named patches of moto 5.2.5 where it is more forgiving (or stricter) than AWS for what we run.

Each patch is applied once in the runtime process (`apply_all`) before the moto server starts, and each has a
contract test in tests/local/test_moto_patches.py that fails loudly if a moto upgrade changes what it patches.
Five change speed only, never behaviour (`botocore_data_parsed_once`, `botocore_endpoint_rules_built_once`,
`cognito_signing_key_imported_once`, `moto_modules_listed_once`, `stepfunctions_definitions_parsed_once`); the
tests' own moto applies those as well (tests/conftest.py; the last only in the tests that execute state machines,
since it imports moto's parser). The two botocore ones are checked against the installed botocore the same way.
moto is pinned exactly (requirements-dev.txt) for this reason.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import parseaddr
from types import SimpleNamespace
from typing import Any

APPLIED: list[str] = []


def _once(name: str) -> Callable[[Callable[[], None]], Callable[[], None]]:
    def wrap(patch: Callable[[], None]) -> Callable[[], None]:
        def apply() -> None:
            if name not in APPLIED:
                patch()
                APPLIED.append(name)

        apply.__name__ = patch.__name__
        apply.__doc__ = patch.__doc__
        return apply

    return wrap


@_once("cognito_all_attributes_readable_by_default")
def cognito_all_attributes_readable_by_default() -> None:
    """A client without ReadAttributes can read every attribute (AWS), not none (moto): the IdToken then
    carries email and email_verified, which the order flow needs."""
    from moto.cognitoidp.models import CognitoIdpUserPoolClient

    original = CognitoIdpUserPoolClient.get_readable_fields

    def get_readable_fields(self: Any) -> list[str]:
        if "ReadAttributes" in self.extended_config:
            return original(self)
        pool = self.user_pool_id
        from moto.cognitoidp.models import cognitoidp_backends

        for regions in cognitoidp_backends.values():
            for backend in regions.values():
                user_pool = backend.user_pools.get(pool)
                if user_pool is not None:
                    return sorted({a["Name"] for u in user_pool.users.values() for a in u.attributes})
        return []

    CognitoIdpUserPoolClient.get_readable_fields = get_readable_fields


def _secret_for(access_key_id: str) -> str | None:
    from moto.iam.models import iam_backends
    from moto.sts.models import sts_backends

    for partitions in sts_backends.values():
        for backend in partitions.values():
            role = backend.get_assumed_role_from_access_key(access_key_id)
            if role is not None:
                return role.secret_access_key
    for partitions in iam_backends.values():
        for backend in partitions.values():
            for key in backend.get_all_access_keys_for_all_users():
                if key.access_key_id == access_key_id:
                    return key.secret_access_key
    if access_key_id == "testing":
        return "testing"
    return None


def post_policy_violation(fields: dict[str, str], bucket: str, content_length: int,
                          now: datetime.datetime | None = None) -> str | None:
    """Why S3 would refuse this browser POST (signature V4, expiration, every condition), or None."""
    policy_b64 = fields.get("policy")
    if not policy_b64:
        return "missing policy"
    credential = fields.get("x-amz-credential", "")
    parts = credential.split("/")
    if len(parts) != 5 or fields.get("x-amz-algorithm") != "AWS4-HMAC-SHA256":
        return "only AWS4-HMAC-SHA256 POST policies are supported"
    access_key, date, region, service, _ = parts
    secret = _secret_for(access_key)
    if secret is None:
        return "InvalidAccessKeyId"

    def sign(key: bytes, message: str) -> bytes:
        return hmac.new(key, message.encode(), hashlib.sha256).digest()

    signing_key = sign(sign(sign(sign(f"AWS4{secret}".encode(), date), region), service), "aws4_request")
    expected = hmac.new(signing_key, policy_b64.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, fields.get("x-amz-signature", "")):
        return "SignatureDoesNotMatch"
    policy = json.loads(base64.b64decode(policy_b64))
    now = now or datetime.datetime.now(datetime.UTC)
    expiration = datetime.datetime.fromisoformat(policy["expiration"].replace("Z", "+00:00"))
    if now > expiration:
        return "Invalid according to Policy: Policy expired."
    values = {k.lower(): v for k, v in fields.items()}
    values["bucket"] = bucket
    covered = {"x-amz-signature", "file", "policy"}
    for condition in policy.get("conditions", []):
        if isinstance(condition, dict):
            for name, value in condition.items():
                covered.add(name.lower())
                if values.get(name.lower()) != value:
                    return f"Invalid according to Policy: Policy Condition failed: [\"eq\", \"${name}\", \"{value}\"]"
        elif condition[0] == "content-length-range":
            if not int(condition[1]) <= content_length <= int(condition[2]):
                return "EntityTooLarge" if content_length > int(condition[2]) else "EntityTooSmall"
        else:
            operator, name, value = condition
            field = name.lstrip("$").lower()
            covered.add(field)
            actual = values.get(field, "")
            if (operator == "eq" and actual != value) or (operator == "starts-with" and not actual.startswith(value)):
                return f"Invalid according to Policy: Policy Condition failed: {json.dumps(condition)}"
    extra = [k for k in values if k not in covered and not k.startswith("x-ignore-") and k != "bucket"]
    if extra:
        return f"Invalid according to Policy: Extra input fields: {extra[0]}"
    return None


def post_signer_may_put(fields: dict[str, str], bucket: str, key: str, account_id: str) -> bool:
    """Under IAM enforcement: whether the POST's signer (its credential) may s3:PutObject this key."""
    from moto import settings
    from moto.core.authorization import ActionAuthenticatorMixin
    from moto.iam.access_control import IAMPolicy, PermissionResult, create_access_key

    if ActionAuthenticatorMixin.request_count < settings.INITIAL_NO_AUTH_ACTION_COUNT:
        return True  # enforcement off
    lowered = {k.lower(): v for k, v in fields.items()}
    access_key_id = lowered.get("x-amz-credential", "").split("/")[0]
    headers = {"X-Amz-Security-Token": lowered["x-amz-security-token"]} if "x-amz-security-token" in lowered else {}
    principal = create_access_key(account_id=account_id, partition="aws", access_key_id=access_key_id,
                                  headers=headers)
    permitted = False
    for policy in principal.collect_policies():
        result = IAMPolicy(policy).is_action_permitted("s3:PutObject", f"arn:aws:s3:::{bucket}/{key}")
        if result == PermissionResult.DENIED:
            return False
        permitted = permitted or result == PermissionResult.PERMITTED
    return permitted


@_once("s3_post_policy_enforced")
def s3_post_policy_enforced() -> None:
    """Browser POST uploads: moto stores whatever is posted; S3 checks the signed policy. Also, under IAM
    enforcement moto answers a policy-signed POST with a 500 (no Authorization header): S3 authorises the
    POST as its signer, so the signer's IAM policies are checked here instead of moto's header-based check."""
    from moto.s3.responses import S3Response

    original = S3Response._bucket_response_post

    def _bucket_response_post(self: Any, request: Any, bucket_name: str) -> Any:
        form = getattr(self, "form_data", None) or {}
        if "policy" in form or "Policy" in form:
            fields = {k: v for k, v in form.items()}
            reason = post_policy_violation(fields, bucket_name, len(self.body or b""))
            if reason is None and not post_signer_may_put(fields, bucket_name, fields.get("key", ""),
                                                          self.current_account):
                reason = "the signer is not allowed s3:PutObject on this key"
            if reason is not None:
                body = f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>{reason}' \
                       f"</Message></Error>"
                return 403, {"Content-Type": "application/xml"}, body
            skip = self._authenticate_and_authorize_s3_action
            self._authenticate_and_authorize_s3_action = lambda **_: None
            try:
                return original(self, request, bucket_name)
            finally:
                self._authenticate_and_authorize_s3_action = skip
        return original(self, request, bucket_name)

    S3Response._bucket_response_post = _bucket_response_post


# AWS authorises a batch call with the single-message action (sqs:DeleteMessage for DeleteMessageBatch).
BATCH_ACTIONS = {"sqs:DeleteMessageBatch": "sqs:DeleteMessage", "sqs:SendMessageBatch": "sqs:SendMessage",
                 "sqs:ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility"}


@_once("iam_batch_actions_checked_as_aws_does")
def iam_batch_actions_checked_as_aws_does() -> None:
    """moto checks `sqs:DeleteMessageBatch` literally; AWS checks `sqs:DeleteMessage` (no batch IAM actions)."""
    _rename_checked_actions(BATCH_ACTIONS)


def _rename_checked_actions(names: dict[str, str]) -> None:
    """Make moto's IAM check use the action names AWS checks (moto derives them from the API operation)."""
    from moto.iam.access_control import IAMRequestBase

    original = IAMRequestBase.__init__

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:  # noqa: N807
        original(self, *args, **kwargs)
        self._action = names.get(self._action, self._action)

    IAMRequestBase.__init__ = __init__


@_once("iam_resource_arns_for_kinesis_cognito_ses_logs_dynamodb")
def iam_resource_arns_for_kinesis_cognito_ses_logs_dynamodb() -> None:
    """moto resolves a resource ARN for the IAM check only for S3, SQS, IAM and STS; everything else is checked
    against `*`, so ARN-scoped grants (ours) are wrongly denied. Teach Kinesis, Cognito, SES, Logs and DynamoDB
    theirs (batch and transact calls naming several tables stay checked against `*`)."""
    from moto.cognitoidp.responses import CognitoIdpResponse
    from moto.dynamodb.responses import DynamoHandler
    from moto.kinesis.responses import KinesisResponse
    from moto.kinesis.utils import decompose_shard_iterator
    from moto.logs.responses import LogsResponse
    from moto.ses.responses import EmailResponse

    def kinesis_resource(self: Any) -> str:
        arn = self._get_param("StreamARN")
        if arn:
            return arn
        name = self._get_param("StreamName")
        if not name and self._get_param("ShardIterator"):
            name = decompose_shard_iterator(self._get_param("ShardIterator"))[0]
        if not name:
            return "*"
        return f"arn:aws:kinesis:{self.region}:{self.current_account}:stream/{name}"

    def cognito_resource(self: Any) -> str:
        pool = self._get_param("UserPoolId")
        return f"arn:aws:cognito-idp:{self.region}:{self.current_account}:userpool/{pool}" if pool else "*"

    def logs_resource(self: Any) -> str:
        group = self._get_param("logGroupName")
        if not group:
            return "*"
        arn = f"arn:aws:logs:{self.region}:{self.current_account}:log-group:{group}"
        stream = self._get_param("logStreamName")
        return f"{arn}:log-stream:{stream}" if stream else arn

    def dynamodb_resource(self: Any) -> str:
        name = self._get_param("TableName")
        if not name:
            return "*"
        arn = f"arn:aws:dynamodb:{self.region}:{self.current_account}:table/{name}"
        index = self._get_param("IndexName")
        return f"{arn}/index/{index}" if index else arn

    KinesisResponse._determine_resource = kinesis_resource
    DynamoHandler._determine_resource = dynamodb_resource
    LogsResponse._determine_resource = logs_resource
    CognitoIdpResponse._determine_resource = cognito_resource

    original = EmailResponse._authenticate_and_authorize_normal_action

    def ses_authorize(self: Any, resource: str = "*") -> None:
        # SES authorises a send against every resource it uses: the identity, the configuration set, the template.
        prefix = f"arn:aws:ses:{self.region}:{self.current_account}"
        resources = []
        _, address = parseaddr(self._get_param("Source") or "")
        if address:
            # The identity used is the address if it is verified itself, else its domain.
            identities = self.backend.email_identities
            identity = address if address in identities or "@" not in address else address.split("@", 1)[1]
            resources.append(f"{prefix}:identity/{identity}")
        if self._get_param("ConfigurationSetName"):
            resources.append(f"{prefix}:configuration-set/{self._get_param('ConfigurationSetName')}")
        if self._get_param("Template"):
            resources.append(f"{prefix}:template/{self._get_param('Template')}")
        for arn in resources or [resource]:
            original(self, arn)

    EmailResponse._authenticate_and_authorize_normal_action = ses_authorize


# TransactWriteItems/TransactGetItems have no IAM action of their own: AWS authorises each item with the
# single-item action on its table ("Using IAM with DynamoDB transactions").
TRANSACT_ITEM_ACTIONS = {"Put": "dynamodb:PutItem", "Update": "dynamodb:UpdateItem", "Delete": "dynamodb:DeleteItem",
                         "ConditionCheck": "dynamodb:ConditionCheckItem", "Get": "dynamodb:GetItem"}


@_once("iam_dynamodb_transactions_checked_per_item")
def iam_dynamodb_transactions_checked_per_item() -> None:
    """moto checks `dynamodb:TransactWriteItems` (an action AWS does not have) against `*`; AWS checks every
    item's own action on its table, so a grant of exactly UpdateItem on the table was wrongly denied."""
    from moto.dynamodb.responses import DynamoHandler
    from moto.iam.access_control import IAMRequest

    original = DynamoHandler._authenticate_and_authorize_normal_action

    def request_for(action: str) -> type:
        class ItemRequest(IAMRequest):
            def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, **kwargs)
                self._action = action

        return ItemRequest

    def authorize(self: Any, resource: str = "*") -> None:
        target = str(self.headers.get("X-Amz-Target", ""))
        if not target.endswith((".TransactWriteItems", ".TransactGetItems")):
            return original(self, resource)
        for item in self._get_param("TransactItems") or []:
            for kind, operation in item.items():
                arn = f"arn:aws:dynamodb:{self.region}:{self.current_account}:table/{operation.get('TableName')}"
                # An unknown item kind keeps the literal action: denied, as nothing grants it.
                action = TRANSACT_ITEM_ACTIONS.get(kind, f"dynamodb:{target.rsplit('.', 1)[-1]}")
                self._authenticate_and_authorize_action(request_for(action), arn)
        return None

    DynamoHandler._authenticate_and_authorize_normal_action = authorize


# --- Step Functions and Lambda ------------------------------------------------------------------------------


@dataclass
class LocalWorld:
    """What the Step Functions / Lambda patches need from the running local runtime (set by
    offline.local.stepfunctions before the first execution): moto's endpoint, each state machine role's STS
    credentials, one dispatcher per function name, the time scale of retry intervals."""

    endpoint: str | None = None
    time_scale: float = 1.0
    role_credentials: dict[str, dict[str, str]] = field(default_factory=dict)  # role ARN -> STS credentials
    lambda_dispatch: dict[str, Callable[[Any], tuple[str, bool, str]]] = field(default_factory=dict)
    on_task: Callable[[str, str], None] | None = None  # (role ARN, service) per task call
    on_change: Callable[[], None] | None = None  # a stream record written or a role's policy changed


LOCAL = LocalWorld()


@_once("stepfunctions_executions_interpreted")
def stepfunctions_executions_interpreted() -> None:
    """moto's Step Functions only records executions unless `execute_state_machine` is on (what
    `mock_aws(config=...)` sets in-process); the server process has no decorator, so turn it on here."""
    from moto.core.config import default_user_config

    default_user_config.setdefault("stepfunctions", {})["execute_state_machine"] = True


# Every module of moto's interpreter that imports `boto_client_for` by name (the contract test greps moto's source
# for this list, so a module added by an upgrade fails it).
BOTO_CLIENT_USERS = tuple(f"moto.stepfunctions.parser.asl.component.state.exec.{m}" for m in (
    "state_map.result_writer.resource_eval.resource_eval_s3", "state_map.item_reader.eval.resource_eval_s3",
    "state_task.lambda_eval_utils", "state_task.service.state_task_service_unsupported",
    "state_task.service.state_task_service_glue", "state_task.service.state_task_service_events",
    "state_task.service.state_task_service_ecs", "state_task.service.state_task_service_sqs",
    "state_task.service.state_task_service_sfn", "state_task.service.state_task_service_dynamodb",
    "state_task.service.state_task_service_batch", "state_task.service.state_task_service_sns",
    "state_task.service.state_task_service_aws_sdk"))


@_once("stepfunctions_tasks_run_as_the_state_machine_role")
def stepfunctions_tasks_run_as_the_state_machine_role() -> None:
    """moto's interpreter calls every service integration (lambda:invoke, dynamodb:updateItem, sqs:sendMessage)
    with the fixed keys `ak`/`sk` on `localhost:$MOTO_PORT`; Step Functions calls them as the state machine's
    role. Use that role's STS session (taken before IAM enforcement) on the runtime's moto endpoint, so moto's
    IAM enforcement checks each task's action and resource against the role's generated policy. A role with no
    session keeps `ak`/`sk`, which enforcement refuses: fail closed."""
    import threading

    import boto3
    from botocore.config import Config
    from moto.stepfunctions.parser.asl.utils import boto_client

    original = boto_client.boto_client_for
    # One client per (endpoint, region, service, keys), made under a lock: moto made one per task call (~10 ms of
    # CPU each, a sixth of the runtime's busy time), from boto3's default session, which is not thread-safe.
    clients: dict[tuple[str, ...], Any] = {}
    making = threading.Lock()

    def boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        role_arn = getattr(state_credentials, "role_arn", None)
        credentials = LOCAL.role_credentials.get(role_arn or "")
        if LOCAL.endpoint is None:
            return original(region, service, state_credentials)
        if LOCAL.on_task is not None:
            LOCAL.on_task(role_arn or "", service)
        keys = ({"aws_access_key_id": credentials["AccessKeyId"], "aws_secret_access_key": credentials["SecretAccessKey"],
                 "aws_session_token": credentials["SessionToken"]} if credentials
                else {"aws_access_key_id": "ak", "aws_secret_access_key": "sk"})
        key = (LOCAL.endpoint, region, service, *keys.values())
        with making:
            if key not in clients:
                clients[key] = boto3.client(service, region_name=region, endpoint_url=LOCAL.endpoint, **keys,
                                            config=Config(parameter_validation=False,
                                                          retries={"max_attempts": 0, "total_max_attempts": 1},
                                                          connect_timeout=60, read_timeout=960))
            return clients[key]

    boto_client.boto_client_for = boto_client_for
    # A user imported from now on binds the patched function itself; only one already imported is re-bound.
    # (Importing them all would import moto's Batch, and with it EC2: 0.8 s of CPU at every start-up.)
    for name in BOTO_CLIENT_USERS:
        if name in sys.modules:
            sys.modules[name].boto_client_for = boto_client_for


class _ScaledTime:
    """`time` for moto's retrier: sleeps scaled by LOCAL.time_scale, everything else the real module."""

    def __getattr__(self, name: str) -> Any:
        import time

        return getattr(time, name)

    @staticmethod
    def sleep(seconds: float) -> None:
        import time

        time.sleep(seconds * LOCAL.time_scale)


@_once("stepfunctions_retry_intervals_time_scaled")
def stepfunctions_retry_intervals_time_scaled() -> None:
    """A Retry's IntervalSeconds/BackoffRate are honoured, but scaled like the runtime's other waits
    (`--time-scale`), so retry paths run in seconds."""
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl

    retrier_decl.time = _ScaledTime()


@_once("lambda_invoke_dispatched_to_local_workers")
def lambda_invoke_dispatched_to_local_workers() -> None:
    """moto runs an invoked function in Docker (`LambdaFunction._invoke_lambda`); the runtime runs it in the
    function's own warm worker (its role, environment, timeout, logs). A function without a worker is an error,
    never a Docker run."""
    from moto.awslambda.models import LambdaFunction

    def _invoke_lambda(self: Any, event: Any = None) -> tuple[str, bool, str]:
        dispatch = LOCAL.lambda_dispatch.get(self.function_name)
        if dispatch is None:
            return json.dumps({"errorType": "Runtime.NoLocalWorker",
                               "errorMessage": f"no local worker for {self.function_name}"}), True, ""
        return dispatch(event)

    LambdaFunction._invoke_lambda = _invoke_lambda


# IAM names an action differently from its API operation for these (moto checks the operation's name).
IAM_ACTION_NAMES = {"lambda:Invoke": "lambda:InvokeFunction"}


@_once("iam_resource_arns_for_stepfunctions_and_lambda")
def iam_resource_arns_for_stepfunctions_and_lambda() -> None:
    """Like the patch above, for Step Functions (`states:StartExecution` on the state machine ARN, execution
    calls on the execution ARN) and Lambda (`lambda:InvokeFunction` on the function ARN, qualified when the call
    names a version or alias); moto also checks `lambda:Invoke`, an action IAM does not have."""
    from urllib.parse import unquote

    from moto.awslambda.responses import LambdaResponse
    from moto.stepfunctions.responses import StepFunctionResponse

    def states_resource(self: Any) -> str:
        for key in ("executionArn", "stateMachineArn", "mapRunArn"):
            if self._get_param(key):
                return self._get_param(key)
        name = self._get_param("name")
        action = self._get_action()
        if name and action == "CreateStateMachine":
            return f"arn:aws:states:{self.region}:{self.current_account}:stateMachine:{name}"
        return "*"

    def lambda_resource(self: Any) -> str:
        parts = self.path.split("/")
        if len(parts) < 4 or parts[2] != "functions" or not parts[3]:
            return "*"  # ListFunctions and the account-level calls have no resource
        name = unquote(parts[3])
        qualifier = self.querystring.get("Qualifier", [None])[0]
        if not name.startswith("arn:"):
            name = f"arn:aws:lambda:{self.region}:{self.current_account}:function:{name}"
        if qualifier and name.count(":") == 6:
            name = f"{name}:{qualifier}"
        return name

    StepFunctionResponse._determine_resource = states_resource
    LambdaResponse._determine_resource = lambda_resource
    _rename_checked_actions(IAM_ACTION_NAMES)


@_once("iam_resource_arns_for_dynamodb_streams")
def iam_resource_arns_for_dynamodb_streams() -> None:
    """moto checks DynamoDB Streams calls against `*`, so a grant of the stream read actions on the stream ARN
    (ours, and AWS's own least-privilege advice) is wrongly denied. AWS authorises DescribeStream,
    GetShardIterator and GetRecords on the stream ARN (a shard iterator belongs to one stream: moto's is
    `<stream arn>|1|<id>`), and ListStreams on `*` (no resource-level permission)."""
    from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

    def stream_resource(self: Any) -> str:
        arn = self._get_param("StreamArn")
        iterator = self._get_param("ShardIterator")
        if not arn and iterator:
            arn = str(iterator).split("|", 1)[0]
        return arn or "*"

    DynamoDBStreamsHandler._determine_resource = stream_resource


@_once("dynamodb_update_item_creating_an_item_streams_one_insert")
def dynamodb_update_item_creating_an_item_streams_one_insert() -> None:
    """moto streams an UpdateItem that creates an item as two INSERTs (the bare key, then the full item); DynamoDB
    streams one INSERT with the full NewImage. The bare-key record is not written (sequence numbers stay dense:
    moto's iterators index records by them)."""
    import threading

    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import StreamShard

    creating = threading.local()  # the table whose UpdateItem is creating an item, per moto server thread
    original_update, original_add = DynamoDBBackend.update_item, StreamShard.add

    def update_item(self: Any, table_name: str, key: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        try:
            table = self.get_table(table_name)
            creating.table = table if table.get_item(*self.get_keys_value(table, key)) is None else None
        except Exception:  # noqa: BLE001 - a bad request: moto's own update_item answers it
            creating.table = None
        try:
            return original_update(self, table_name, key, *args, **kwargs)
        finally:
            creating.table = None

    def add(self: Any, old: Any, new: Any) -> None:
        if old is None and getattr(creating, "table", None) is self.table:
            creating.table = None  # the bare key moto puts first; the full item's INSERT follows
            return
        original_add(self, old, new)

    DynamoDBBackend.update_item = update_item
    StreamShard.add = add


@_once("cognito_signing_key_imported_once")
def cognito_signing_key_imported_once() -> None:
    """Speed only, no behaviour: every moto user pool imports the same private JWK (n, e, d without the primes),
    and recovering the primes costs ~145 ms of CPU per pool. The key is imported once and shared, as every pool
    shares it in moto anyway. Also applied to the tests' in-process moto (tests/conftest.py)."""
    from joserfc import jwk
    from moto.cognitoidp import models

    imported: dict[str, Any] = {}

    def import_key(value: Any, *args: Any, **kwargs: Any) -> Any:
        if args or kwargs:
            return jwk.RSAKey.import_key(value, *args, **kwargs)
        cache_key = json.dumps(value, sort_keys=True)
        if cache_key not in imported:
            imported[cache_key] = jwk.RSAKey.import_key(value)
        return imported[cache_key]

    # All that models.py uses of joserfc's jwk module; anything else it starts using fails loudly (AttributeError).
    models.jwk = SimpleNamespace(RSAKey=SimpleNamespace(import_key=import_key))


@_once("stepfunctions_definitions_parsed_once")
def stepfunctions_definitions_parsed_once() -> None:
    """Speed only, no behaviour: moto parses a state machine's definition with ANTLR on every execution (~30 ms of
    CPU for the order workflow, 95% of it the parse). The parse tree of each definition is kept; every call still
    builds a program of its own from it, so executions share no state. A definition that fails to parse is not
    kept: it fails the same way each time."""
    import threading

    from moto.stepfunctions.parser.asl.parse import asl_parser

    original = asl_parser.AmazonStateLanguageParser.parse
    trees: dict[str, Any] = {}
    lock = threading.Lock()

    def parse(definition: str) -> tuple[Any, Any]:
        with lock:
            tree = trees.get(definition)
        if tree is None:
            program, tree = original(definition)
            with lock:
                trees.setdefault(definition, tree)
            return program, tree
        return asl_parser.Preprocessor().visit(tree), tree

    asl_parser.AmazonStateLanguageParser.parse = staticmethod(parse)


@_once("moto_modules_listed_once")
def moto_modules_listed_once() -> None:
    """Speed only, no behaviour: moto_server matches every request's host against `list_of_moto_modules()`, which
    lists moto's package directory and stats each of its ~180 entries, under the dispatcher's global lock. The
    listing cannot change while moto is loaded: it is taken once (a moto request took 25% less CPU)."""
    from moto import backends

    listed = tuple(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: listed


@_once("stream_pollers_woken_by_writes_and_grants")
def stream_pollers_woken_by_writes_and_grants() -> None:
    """Timing only: writing a Kinesis or DynamoDB stream record, or changing a role's policies, calls
    `LOCAL.on_change`, which wakes the runtime's idle stream pollers. Otherwise they poll an idle shard once a
    second, as Lambda does; before, they polled every 0.2 s, and an idle `make dev` spent a tenth of a core on it.
    A grant given back (or taken away) then applies from the poll that follows it at once."""
    import functools

    from moto.dynamodb.models.table import StreamShard
    from moto.iam.models import IAMBackend
    from moto.kinesis.models import Shard

    def notifying(method: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(method)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return method(*args, **kwargs)
            finally:
                if LOCAL.on_change is not None:
                    LOCAL.on_change()

        return wrapper

    Shard.put_record = notifying(Shard.put_record)
    StreamShard.add = notifying(StreamShard.add)
    for name in ("put_role_policy", "delete_role_policy", "attach_role_policy", "detach_role_policy"):
        setattr(IAMBackend, name, notifying(getattr(IAMBackend, name)))


class _SearchPaths(list):
    """A shared Loader's search paths: boto3 appends its data directory to the loader of every session it makes."""

    def append(self, path: Any) -> None:
        if path not in self:
            super().append(path)


@_once("botocore_data_parsed_once")
def botocore_data_parsed_once() -> None:
    """Speed only, no behaviour: every botocore session makes its own Loader, which parses endpoints.json and each
    service model again; moto's EC2 makes three sessions as it is imported (0.8 s of CPU at each runtime start).
    Sessions share one Loader per data path instead; nothing changes what it has loaded."""
    import threading

    import botocore.session
    from botocore import loaders

    shared: dict[str | None, Any] = {}
    lock = threading.Lock()

    def create_loader(search_path_string: str | None = None) -> Any:
        with lock:
            if search_path_string not in shared:
                loader = loaders.create_loader(search_path_string)
                loader._search_paths = _SearchPaths(loader.search_paths)
                shared[search_path_string] = loader
            return shared[search_path_string]

    botocore.session.create_loader = create_loader


@_once("botocore_endpoint_rules_built_once")
def botocore_endpoint_rules_built_once() -> None:
    """Speed only, no behaviour: every botocore client builds its service's endpoint rule set into objects again
    (about a fifth of making a client; the tests make ~2,400). Built from the same data (the shared Loader's, see
    `botocore_data_parsed_once`), a provider takes the attributes of the first one built from it. Nothing in a rule
    set changes once built; each provider keeps its own cache of resolved endpoints."""
    import functools
    import threading

    from botocore.endpoint_provider import EndpointProvider

    original = EndpointProvider.__init__
    built: dict[tuple[int, int, frozenset[str]], tuple[Any, Any, dict[str, Any]]] = {}
    lock = threading.Lock()

    @functools.wraps(original)
    def __init__(self: Any, ruleset_data: Any, partition_data: Any, excluded_params: Any = None) -> None:  # noqa: N807
        key = (id(ruleset_data), id(partition_data), frozenset(excluded_params or ()))
        with lock:
            first = built.get(key)
        if first is not None:
            self.__dict__.update(first[2])
            return
        original(self, ruleset_data, partition_data, excluded_params)
        with lock:  # the data is kept with the attributes: an id is never reused while its entry exists
            built.setdefault(key, (ruleset_data, partition_data, dict(self.__dict__)))

    EndpointProvider.__init__ = __init__


def apply_all() -> list[str]:
    botocore_data_parsed_once()
    botocore_endpoint_rules_built_once()
    moto_modules_listed_once()
    cognito_signing_key_imported_once()
    stepfunctions_definitions_parsed_once()
    cognito_all_attributes_readable_by_default()
    s3_post_policy_enforced()
    iam_batch_actions_checked_as_aws_does()
    iam_resource_arns_for_kinesis_cognito_ses_logs_dynamodb()
    iam_dynamodb_transactions_checked_per_item()
    stepfunctions_executions_interpreted()
    stepfunctions_tasks_run_as_the_state_machine_role()
    stepfunctions_retry_intervals_time_scaled()
    lambda_invoke_dispatched_to_local_workers()
    iam_resource_arns_for_stepfunctions_and_lambda()
    iam_resource_arns_for_dynamodb_streams()
    dynamodb_update_item_creating_an_item_streams_one_insert()
    stream_pollers_woken_by_writes_and_grants()
    return list(APPLIED)

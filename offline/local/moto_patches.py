"""Small, named patches of moto 5.2.5 where it is more forgiving (or stricter) than AWS for what we run.

Each patch is applied once in the runtime process (`apply_all`) before the moto server starts, and each has a
contract test in tests/local/test_moto_patches.py that fails loudly if a moto upgrade changes what it patches.
moto is pinned exactly (requirements-dev.txt) for this reason.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import json
from collections.abc import Callable
from email.utils import parseaddr
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
    from moto.iam.access_control import IAMRequestBase

    original = IAMRequestBase.__init__

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:  # noqa: N807
        original(self, *args, **kwargs)
        self._action = BATCH_ACTIONS.get(self._action, self._action)

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


def apply_all() -> list[str]:
    cognito_all_attributes_readable_by_default()
    s3_post_policy_enforced()
    iam_batch_actions_checked_as_aws_does()
    iam_resource_arns_for_kinesis_cognito_ses_logs_dynamodb()
    iam_dynamodb_transactions_checked_per_item()
    iam_resource_arns_for_dynamodb_streams()
    dynamodb_update_item_creating_an_item_streams_one_insert()
    return list(APPLIED)

"""Contracts of the moto patches (offline/local/moto_patches.py) against the pinned moto.

Each gap is shown to still exist in unpatched moto (when moto fixes one, its test fails: drop the patch), and
the patched behaviour is checked in a fresh interpreter (patches are global; this process stays unpatched).
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import json
from importlib.metadata import version

import pytest

from offline.local.moto_patches import BATCH_ACTIONS, post_policy_violation
from tests.local.conftest import run_fresh


def test_moto_is_the_pinned_version() -> None:
    assert version("moto") == "5.2.5"


def test_gap_cognito_client_without_read_attributes_reads_nothing() -> None:
    from moto.cognitoidp.models import CognitoIdpUserPoolClient

    client = CognitoIdpUserPoolClient("us-east-1_x", False, {"ClientName": "c"})
    assert client.get_readable_fields() == []


def test_gap_only_some_services_resolve_resource_arns() -> None:
    from moto.cognitoidp.responses import CognitoIdpResponse
    from moto.dynamodb.responses import DynamoHandler
    from moto.kinesis.responses import KinesisResponse
    from moto.logs.responses import LogsResponse
    from moto.ses.responses import EmailResponse
    from moto.sqs.responses import SQSResponse

    assert hasattr(SQSResponse, "_determine_resource")
    for response in (KinesisResponse, CognitoIdpResponse, LogsResponse, DynamoHandler, EmailResponse):
        assert not hasattr(response, "_determine_resource"), f"{response.__name__}: moto resolves ARNs now"


def test_gap_batch_actions_are_checked_literally() -> None:
    import inspect

    from moto.iam import access_control

    assert 'f"{self._service}:{action[0] if isinstance(action, list) else action}"' in inspect.getsource(
        access_control.IAMRequestBase.__init__)
    assert BATCH_ACTIONS["sqs:DeleteMessageBatch"] == "sqs:DeleteMessage"


PATCHED = r'''
import json
from moto import mock_aws
import boto3
from offline.local import moto_patches
applied = moto_patches.apply_all()
from moto.cognitoidp.responses import CognitoIdpResponse
from moto.kinesis.responses import KinesisResponse
from moto.logs.responses import LogsResponse
from moto.dynamodb.responses import DynamoHandler
with mock_aws():
    idp = boto3.client("cognito-idp", region_name="us-east-1")
    pool = idp.create_user_pool(PoolName="p", UsernameAttributes=["email"])["UserPool"]["Id"]
    client = idp.create_user_pool_client(UserPoolId=pool, ClientName="c",
                                         ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"])["UserPoolClient"]["ClientId"]
    idp.admin_create_user(UserPoolId=pool, Username="a@example.com", MessageAction="SUPPRESS",
                          UserAttributes=[{"Name": "email", "Value": "a@example.com"},
                                          {"Name": "email_verified", "Value": "true"}])
    idp.admin_set_user_password(UserPoolId=pool, Username="a@example.com", Password="Passw0rd!x", Permanent=True)
    token = idp.initiate_auth(AuthFlow="USER_PASSWORD_AUTH", ClientId=client,
        AuthParameters={"USERNAME": "a@example.com", "PASSWORD": "Passw0rd!x"})["AuthenticationResult"]["IdToken"]
    import base64
    payload = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
print(json.dumps({"applied": applied, "email": claims.get("email"), "verified": claims.get("email_verified"),
                  "resolvers": [hasattr(c, "_determine_resource") for c in (CognitoIdpResponse, KinesisResponse,
                                                                            LogsResponse, DynamoHandler)]}))
'''


def test_patched_moto_in_a_fresh_interpreter() -> None:
    result = run_fresh(PATCHED, with_keys=True)
    assert set(result["applied"]) == {"botocore_data_parsed_once", "botocore_endpoint_rules_built_once",
                                      "moto_modules_listed_once",
                                      "cognito_signing_key_imported_once", "stepfunctions_definitions_parsed_once",
                                      "cognito_all_attributes_readable_by_default", "s3_post_policy_enforced",
                                      "iam_batch_actions_checked_as_aws_does",
                                      "iam_resource_arns_for_kinesis_cognito_ses_logs_dynamodb",
                                      "iam_dynamodb_transactions_checked_per_item",
                                      "stepfunctions_executions_interpreted",
                                      "stepfunctions_tasks_run_as_the_state_machine_role",
                                      "stepfunctions_retry_intervals_time_scaled",
                                      "lambda_invoke_dispatched_to_local_workers",
                                      "iam_resource_arns_for_stepfunctions_and_lambda",
                                      "iam_resource_arns_for_dynamodb_streams",
                                      "dynamodb_update_item_creating_an_item_streams_one_insert",
                                      "stream_pollers_woken_by_writes_and_grants"}
    assert result["email"] == "a@example.com"
    assert result["verified"] == "true"
    assert result["resolvers"] == [True, True, True, True]


WAKES = r'''
import json
import boto3
from moto import mock_aws
from offline.local import moto_patches
moto_patches.stream_pollers_woken_by_writes_and_grants()
calls = []
moto_patches.LOCAL.on_change = lambda: calls.append(1)
counts = {}
def count(label, action):
    before = len(calls)
    action()
    counts[label] = len(calls) - before
with mock_aws():
    kinesis = boto3.client("kinesis", region_name="us-east-1")
    kinesis.create_stream(StreamName="s", ShardCount=2)
    count("put_record", lambda: kinesis.put_record(StreamName="s", Data=b"x", PartitionKey="a"))
    count("put_records", lambda: kinesis.put_records(StreamName="s", Records=[
        {"Data": b"y", "PartitionKey": str(i)} for i in range(3)]))
    shard = kinesis.list_shards(StreamName="s")["Shards"][0]["ShardId"]
    iterator = kinesis.get_shard_iterator(StreamName="s", ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    count("get_records", lambda: kinesis.get_records(ShardIterator=iterator["ShardIterator"]))
    ddb = boto3.client("dynamodb", region_name="us-east-1")
    key = [{"AttributeName": "k", "KeyType": "HASH"}]
    attributes = [{"AttributeName": "k", "AttributeType": "S"}]
    ddb.create_table(TableName="streamed", BillingMode="PAY_PER_REQUEST", KeySchema=key, AttributeDefinitions=attributes,
                     StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"})
    ddb.create_table(TableName="plain", BillingMode="PAY_PER_REQUEST", KeySchema=key, AttributeDefinitions=attributes)
    count("streamed_put_item", lambda: ddb.put_item(TableName="streamed", Item={"k": {"S": "1"}}))
    count("plain_put_item", lambda: ddb.put_item(TableName="plain", Item={"k": {"S": "1"}}))
    iam = boto3.client("iam", region_name="us-east-1")
    trust = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                        "Principal": {"Service": "lambda.amazonaws.com"}}]})
    iam.create_role(RoleName="r", AssumeRolePolicyDocument=trust)
    document = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sqs:SendMessage",
                           "Resource": "*"}]})
    arn = iam.create_policy(PolicyName="p", PolicyDocument=document)["Policy"]["Arn"]
    count("put_role_policy", lambda: iam.put_role_policy(RoleName="r", PolicyName="i", PolicyDocument=document))
    count("delete_role_policy", lambda: iam.delete_role_policy(RoleName="r", PolicyName="i"))
    count("attach_role_policy", lambda: iam.attach_role_policy(RoleName="r", PolicyArn=arn))
    count("detach_role_policy", lambda: iam.detach_role_policy(RoleName="r", PolicyArn=arn))
    count("get_role", lambda: iam.get_role(RoleName="r"))
print(json.dumps(counts))
'''


def test_stream_writes_and_role_policy_changes_wake_the_pollers_and_reads_do_not() -> None:
    counts = run_fresh(WAKES, with_keys=True)
    assert counts == {"put_record": 1, "put_records": 3, "get_records": 0, "streamed_put_item": 1,
                      "plain_put_item": 0, "put_role_policy": 1, "delete_role_policy": 1, "attach_role_policy": 1,
                      "detach_role_policy": 1, "get_role": 0}


PARSED_ONCE = r'''
import json
import boto3, botocore.session
from botocore import loaders
from offline.local import moto_patches
parsed = []
load_file = loaders.JSONFileLoader.load_file
def counting(self, file_path):
    parsed.append(file_path.rsplit("/", 2)[-2:])
    return load_file(self, file_path)
loaders.JSONFileLoader.load_file = counting
moto_patches.botocore_data_parsed_once()
sessions = [boto3.session.Session(region_name="us-east-1") for _ in range(5)]
regions = [s.get_available_regions("ec2") for s in sessions]
models = [s.client("sqs", aws_access_key_id="a", aws_secret_access_key="b").meta.service_model.operation_names
          for s in sessions]
plain = botocore.session.get_session()
fresh = loaders.create_loader()
print(json.dumps({
    "one_loader": len({id(s._loader) for s in sessions} | {id(plain.get_component("data_loader"))}) == 1,
    "paths": [p for p in sessions[0]._loader.search_paths], "fresh_paths": fresh.search_paths,
    "endpoints_parsed": parsed.count(["data", "endpoints"]), "sqs_parsed": parsed.count(["2012-11-05", "service-2"]),
    "same_regions": all(r == regions[0] for r in regions) and "us-east-1" in regions[0],
    "same_models": all(m == models[0] for m in models) and "SendMessage" in models[0],
    "fresh_model_equal": fresh.load_service_model("sqs", "service-2") == sessions[0]._loader.load_service_model(
        "sqs", "service-2")}))
'''


def test_sessions_share_one_loader_and_each_file_is_parsed_once() -> None:
    import os

    import boto3

    result = run_fresh(PARSED_ONCE)
    boto3_data = os.path.join(os.path.dirname(boto3.__file__), "data")
    assert result.pop("paths") == [*result.pop("fresh_paths"), boto3_data]  # boto3's directory once, not 5 times
    assert result == {"one_loader": True, "endpoints_parsed": 1, "sqs_parsed": 1, "same_regions": True,
                      "same_models": True, "fresh_model_equal": True}


def test_clients_share_a_rule_set_built_once_and_resolve_as_botocores_own(aws) -> None:
    """botocore_endpoint_rules_built_once (applied by the `aws` fixture): clients of one service, from any session,
    share the rule set built for the first; botocore on its own builds it again for each provider (the gap), and
    its provider resolves exactly what the shared one does."""
    import boto3
    from botocore.endpoint_provider import EndpointProvider

    def provider(client):
        return client._ruleset_resolver._provider

    sessions = [boto3.session.Session(region_name="us-east-1") for _ in range(2)]
    first, second = (s.client("s3") for s in sessions)
    sqs = sessions[0].client("sqs")
    assert provider(first).ruleset is provider(second).ruleset
    assert provider(sqs).ruleset is not provider(first).ruleset

    loader = sessions[0]._loader
    rules, partitions = loader.load_service_model("s3", "endpoint-rule-set-1"), loader.load_data("partitions")
    own = EndpointProvider.__new__(EndpointProvider)
    EndpointProvider.__init__.__wrapped__(own, rules, partitions, provider(first)._excluded_params)
    assert own.ruleset is not provider(first).ruleset
    assert vars(own).keys() == vars(provider(first)).keys()
    for params in ({"Region": "us-east-1", "Bucket": "b"}, {"Region": "eu-west-1", "Bucket": "b", "UseFIPS": True},
                   {"Region": "us-east-1", "Bucket": "b", "Endpoint": "http://127.0.0.1:5000", "ForcePathStyle": True}):
        assert own.resolve_endpoint(**params) == provider(second).resolve_endpoint(**params)


def _signed_post(fields_override=None, *, key="uploads/me/a.csv", expires_in=900, max_bytes=100):
    now = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    credential = "testing/20260101/us-east-1/s3/aws4_request"
    policy = {"expiration": (now + datetime.timedelta(seconds=expires_in)).strftime("%Y-%m-%dT%H:%M:%SZ"),
              "conditions": [{"bucket": "b"}, {"key": key}, {"Content-Type": "text/csv"},
                             ["content-length-range", 1, max_bytes], {"x-amz-algorithm": "AWS4-HMAC-SHA256"},
                             {"x-amz-credential": credential}, {"x-amz-date": "20260101T000000Z"}]}
    encoded = base64.b64encode(json.dumps(policy).encode()).decode()

    def sign(k: bytes, m: str) -> bytes:
        return hmac.new(k, m.encode(), hashlib.sha256).digest()

    signing = sign(sign(sign(sign(b"AWS4testing", "20260101"), "us-east-1"), "s3"), "aws4_request")
    fields = {"key": key, "Content-Type": "text/csv", "x-amz-algorithm": "AWS4-HMAC-SHA256",
              "x-amz-credential": credential, "x-amz-date": "20260101T000000Z", "policy": encoded,
              "x-amz-signature": hmac.new(signing, encoded.encode(), hashlib.sha256).hexdigest()}
    fields.update(fields_override or {})
    return fields, now


def test_post_policy_accepts_the_signed_form() -> None:
    fields, now = _signed_post()
    assert post_policy_violation(fields, "b", 10, now) is None


@pytest.mark.parametrize(("override", "size", "bucket", "reason"), [
    ({"key": "uploads/other/a.csv"}, 10, "b", "Policy Condition failed"),
    ({"Content-Type": "text/html"}, 10, "b", "Policy Condition failed"),
    ({}, 1000, "b", "EntityTooLarge"),
    ({}, 10, "other-bucket", "Policy Condition failed"),
    ({"x-amz-signature": "0" * 64}, 10, "b", "SignatureDoesNotMatch"),
    ({"acl": "public-read"}, 10, "b", "Extra input fields"),
])
def test_post_policy_refusals(override, size, bucket, reason) -> None:
    fields, now = _signed_post(override)
    assert reason in (post_policy_violation(fields, bucket, size, now) or "")


def test_post_policy_expires() -> None:
    fields, now = _signed_post()
    assert "expired" in post_policy_violation(fields, "b", 10, now + datetime.timedelta(hours=1))


# --- Step Functions and Lambda -------------------------------------------------------------------------------


def test_gap_moto_records_executions_without_running_them() -> None:
    from moto.core.config import default_user_config

    assert default_user_config["stepfunctions"]["execute_state_machine"] is False


def test_gap_interpreter_calls_integrations_with_fixed_keys_on_moto_port() -> None:
    import inspect
    from pathlib import Path

    import moto
    from moto.stepfunctions.parser.asl.utils import boto_client

    source = inspect.getsource(boto_client.boto_client_for)
    assert 'aws_access_key_id="ak"' in source and "moto_server_port()" in source
    assert "state_credentials" not in source.split("return boto3.client(")[1]  # the role is ignored
    # Every module importing it by name is patched: a new one in a moto upgrade must be added to the list.
    root = Path(moto.__file__).parent
    users = {".".join(p.relative_to(root.parent).with_suffix("").parts)
             for p in (root / "stepfunctions" / "parser").rglob("*.py")
             if "import boto_client_for" in p.read_text()}
    from offline.local.moto_patches import BOTO_CLIENT_USERS

    assert users == set(BOTO_CLIENT_USERS)


BOUND = r'''
import importlib, json, sys
from offline.local.moto_patches import BOTO_CLIENT_USERS, stepfunctions_tasks_run_as_the_state_machine_role
early = importlib.import_module(BOTO_CLIENT_USERS[0])
stepfunctions_tasks_run_as_the_state_machine_role()
eager = [name for name in ("moto.batch", "moto.ec2") if name in sys.modules]
from moto.stepfunctions.parser.asl.utils import boto_client
patched = boto_client.boto_client_for
print(json.dumps({"patched": patched.__module__, "eager": eager,
                  "unbound": [n for n in BOTO_CLIENT_USERS if importlib.import_module(n).boto_client_for is not patched]}))
'''


def test_every_interpreter_module_calls_the_patched_client_whenever_it_is_imported() -> None:
    """One imported before the patch is re-bound; the rest bind it as they are imported (Batch's, when a state
    machine first uses it), so the patch itself imports neither Batch nor EC2."""
    result = run_fresh(BOUND)
    assert result == {"patched": "offline.local.moto_patches", "eager": [], "unbound": []}


def test_gap_retry_sleeps_real_seconds_and_lambda_runs_docker() -> None:
    import inspect

    from moto.awslambda.models import LambdaFunction
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl

    assert "time.sleep(interval_seconds)" in inspect.getsource(retrier_decl.RetrierDecl._eval_body)
    assert "docker" in inspect.getsource(LambdaFunction._invoke_lambda)


def test_gap_every_execution_parses_its_definition_again() -> None:
    import inspect

    from moto.stepfunctions.parser.backend import execution_worker

    assert "AmazonStateLanguageParser.parse(" in inspect.getsource(execution_worker.ExecutionWorker)


def test_each_definition_is_parsed_once_and_each_call_gets_a_program_of_its_own(monkeypatch) -> None:
    """stepfunctions_definitions_parsed_once (applied by tests that execute state machines): one ANTLR parse per
    definition, a fresh program per call (an execution's states keep their own state), and a definition that does
    not parse is refused each time."""
    import uuid

    from moto.stepfunctions.parser.asl.parse import asl_parser

    from offline.local import moto_patches

    moto_patches.stepfunctions_definitions_parsed_once()

    parses = []
    original = asl_parser.ASLParser.state_machine
    monkeypatch.setattr(asl_parser.ASLParser, "state_machine", lambda self: (parses.append(1), original(self))[1])
    start = f"S{uuid.uuid4().hex}"  # a definition no other test parsed in this process
    definition = json.dumps({"StartAt": start, "States": {start: {"Type": "Pass", "Result": 1, "End": True}}})

    first, tree = asl_parser.AmazonStateLanguageParser.parse(definition)
    second, same_tree = asl_parser.AmazonStateLanguageParser.parse(definition)

    assert len(parses) == 1
    assert same_tree is tree and second is not first and type(second) is type(first)
    broken = definition.replace('"End": true', '"End": tru')
    for _ in range(2):
        with pytest.raises(asl_parser.ASLParserException):
            asl_parser.AmazonStateLanguageParser.parse(broken)
    assert len(parses) == 3


def test_gap_stepfunctions_and_lambda_resolve_no_resource_arn() -> None:
    from moto.awslambda.responses import LambdaResponse
    from moto.stepfunctions.responses import StepFunctionResponse

    for response in (StepFunctionResponse, LambdaResponse):
        assert not hasattr(response, "_determine_resource"), f"{response.__name__}: moto resolves ARNs now"


WORKFLOW = r'''
import json, sys, time, urllib.request
import boto3
from moto.server import ThreadedMotoServer
from offline.local import moto_patches
moto_patches.apply_all()
from offline.local.provision import enforce_iam
server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
host, port = server.get_host_and_port()
endpoint = f"http://{host}:{port}"
admin = dict(endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing",
             aws_secret_access_key="testing")
iam, lam, ddb, sfn, sts = (boto3.client(s, **admin) for s in ("iam", "lambda", "dynamodb", "stepfunctions", "sts"))
trust = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                    "Principal": {"Service": "states.amazonaws.com"}}]})
role_arn = iam.create_role(RoleName="machine", AssumeRolePolicyDocument=trust)["Role"]["Arn"]
ddb.create_table(TableName="t", BillingMode="PAY_PER_REQUEST", KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
                 AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}])
fn = lam.create_function(FunctionName="step", Runtime="python3.12", Role=role_arn, Handler="x.handler",
                         Code={"ZipFile": b"PK\x05\x06" + b"\x00" * 18})["FunctionArn"]
version = lam.publish_version(FunctionName="step")["Version"]
alias = lam.create_alias(FunctionName="step", Name="live", FunctionVersion=version)["AliasArn"]
calls = []
def step(event):
    calls.append(event)
    if len(calls) == 1:
        return json.dumps({"errorType": "TransientError", "errorMessage": "once"}), True, ""
    return json.dumps({"seen": event["k"]}), False, ""
moto_patches.LOCAL.lambda_dispatch["step"] = step
moto_patches.LOCAL.endpoint = endpoint
moto_patches.LOCAL.time_scale = 0.01
table_arn = "arn:aws:dynamodb:us-east-1:123456789012:table/t"
grants = [{"Sid": "Invoke", "Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": alias},
          {"Sid": "Update", "Effect": "Allow", "Action": "dynamodb:UpdateItem", "Resource": table_arn}]
def policy(statements):
    iam.put_role_policy(RoleName="machine", PolicyName="p",
                        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}))
policy(grants)
definition = {"StartAt": "Step", "States": {
    "Step": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Next": "Update", "ResultPath": None,
             "Parameters": {"FunctionName": alias, "Payload.$": "$"},
             "Retry": [{"ErrorEquals": ["TransientError"], "IntervalSeconds": 100, "MaxAttempts": 2}],
             "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught", "ResultPath": "$.error"}]},
    "Update": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:updateItem", "End": True,
               "Parameters": {"TableName": "t", "Key": {"k": {"S.$": "$.k"}}, "UpdateExpression": "SET v = :v",
                              "ExpressionAttributeValues": {":v": {"S": "done"}}},
               "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught", "ResultPath": "$.error"}]},
    "Caught": {"Type": "Fail", "Error": "Caught"}}}
machine = sfn.create_state_machine(name="m", definition=json.dumps(definition), roleArn=role_arn)["stateMachineArn"]
other = sfn.create_state_machine(name="other", definition=json.dumps(definition), roleArn=role_arn)["stateMachineArn"]
moto_patches.LOCAL.role_credentials[role_arn] = sts.assume_role(RoleArn=role_arn, RoleSessionName="machine")["Credentials"]
iam.create_role(RoleName="starter", AssumeRolePolicyDocument=trust)
iam.put_role_policy(RoleName="starter", PolicyName="p", PolicyDocument=json.dumps({"Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "states:StartExecution", "Resource": machine}]}))
keys = sts.assume_role(RoleArn="arn:aws:iam::123456789012:role/starter", RoleSessionName="starter")["Credentials"]
operator = enforce_iam(endpoint, "us-east-1")
starter = boto3.client("stepfunctions", endpoint_url=endpoint, region_name="us-east-1",
                       aws_access_key_id=keys["AccessKeyId"], aws_secret_access_key=keys["SecretAccessKey"],
                       aws_session_token=keys["SessionToken"])
sfn = boto3.client("stepfunctions", endpoint_url=endpoint, region_name="us-east-1", **operator)
iam = boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1", **operator)
ddb = boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1", **operator)
task_clients = []  # every client made from here on is a task's
make_client = boto3.client
def counted_client(service, *args, **kwargs):
    task_clients.append(service)
    return make_client(service, *args, **kwargs)
boto3.client = counted_client
def run(name):
    arn = starter.start_execution(stateMachineArn=machine, name=name, input=json.dumps({"k": name}))["executionArn"]
    for _ in range(200):
        execution = sfn.describe_execution(executionArn=arn)
        if execution["status"] != "RUNNING":
            return execution["status"], execution.get("error")
        time.sleep(0.05)
    return "RUNNING", None
started = time.time()
out = {"ok": run("a"), "seconds": time.time() - started, "calls": len(calls),
       "item": ddb.get_item(TableName="t", Key={"k": {"S": "a"}}).get("Item")}
try:
    starter.start_execution(stateMachineArn=other, name="x", input="{}")
    out["other"] = "started"
except Exception as error:
    out["other"] = type(error).__name__ + str(error)[:80]
policy([grants[0]])
out["no_update"] = run("b")
out["item_b"] = ddb.get_item(TableName="t", Key={"k": {"S": "b"}}).get("Item")
policy([grants[1]])
calls.clear()
out["no_invoke"] = run("c")
out["calls_c"] = len(calls)
out["task_clients"] = sorted(task_clients)
server.stop()
print(json.dumps(out, default=str))
'''


def test_patched_workflow_runs_as_its_role_with_local_lambda_and_scaled_retries() -> None:
    """One execution on a moto server with IAM enforced: the Lambda task reaches the local dispatcher (through
    the alias; its TransientError retried after 100 s x 0.01), the DynamoDB task writes as the state machine's
    role; a StartExecution grant is scoped to its machine; without a grant the task fails into its Catch."""
    result = run_fresh(WORKFLOW)
    assert result["ok"] == ["SUCCEEDED", None]
    assert result["calls"] == 2 and result["seconds"] < 10  # unscaled, the retry alone would wait 100 s
    assert result["item"] == {"k": {"S": "a"}, "v": {"S": "done"}}
    # moto answers a JSON service's denial with its XML AccessDenied body: botocore sees a bare 403.
    assert "(403)" in result["other"] or "AccessDenied" in result["other"]
    assert result["no_update"] == ["FAILED", "Caught"] and result["item_b"] is None
    assert result["no_invoke"] == ["FAILED", "Caught"] and result["calls_c"] == 0
    # Six task calls over three executions (a retry among them): one client per service for the role, not per call.
    assert result["task_clients"] == ["dynamodb", "lambda"]


# --------------------------------------------------------------------------------------- DynamoDB Streams

STREAM_TABLE = r'''
import boto3
from botocore.config import Config


def stream_table(name="t"):
    ddb = boto3.client("dynamodb", region_name="us-east-1")
    arn = ddb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                           KeySchema=[{"AttributeName": "userId", "KeyType": "HASH"}],
                           AttributeDefinitions=[{"AttributeName": "userId", "AttributeType": "S"}],
                           StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
                           )["TableDescription"]["LatestStreamArn"]
    return ddb, arn


def stream_records(arn, **keys):
    streams = boto3.client("dynamodbstreams", region_name="us-east-1",
                           config=Config(account_id_endpoint_mode="disabled"), **keys)
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    return streams.get_records(ShardIterator=iterator["ShardIterator"])["Records"]
'''


def test_gap_dynamodb_streams_resolve_no_resource_and_update_item_streams_two_inserts(aws) -> None:
    from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

    assert not hasattr(DynamoDBStreamsHandler, "_determine_resource"), "moto resolves stream ARNs now"
    namespace: dict = {}
    exec(STREAM_TABLE, namespace)  # noqa: S102 - our own helper source, shared with the patched interpreter
    ddb, arn = namespace["stream_table"]()  # in this (unpatched) process's moto, the `aws` fixture's
    ddb.update_item(TableName="t", Key={"userId": {"S": "u1"}}, UpdateExpression="SET #n = :n",
                    ExpressionAttributeNames={"#n": "name"}, ExpressionAttributeValues={":n": {"S": "Ann"}})
    records = namespace["stream_records"](arn)
    assert [(r["eventName"], sorted(r["dynamodb"]["NewImage"])) for r in records] == [
        ("INSERT", ["userId"]), ("INSERT", ["name", "userId"])]


PATCHED_STREAMS = STREAM_TABLE + r'''
import json
from moto import mock_aws
from moto.core import set_initial_no_auth_action_count
from offline.local import moto_patches
moto_patches.apply_all()


def grant(iam, user, resources):
    iam.create_user(UserName=user)
    iam.put_user_policy(UserName=user, PolicyName="p", PolicyDocument=json.dumps({"Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Resource": resources,
                       "Action": ["dynamodb:DescribeStream", "dynamodb:GetShardIterator", "dynamodb:GetRecords"]}]}))
    key = iam.create_access_key(UserName=user)["AccessKey"]
    return {"aws_access_key_id": key["AccessKeyId"], "aws_secret_access_key": key["SecretAccessKey"]}


@set_initial_no_auth_action_count(9)  # the 9 set-up calls below run unchecked, every later one is checked
def enforced():
    ddb, arn = stream_table()
    ddb.update_item(TableName="t", Key={"userId": {"S": "u1"}}, UpdateExpression="SET #n = :n",
                    ExpressionAttributeNames={"#n": "name"}, ExpressionAttributeValues={":n": {"S": "Ann"}})
    ddb.update_item(TableName="t", Key={"userId": {"S": "u1"}}, UpdateExpression="SET #n = :n",
                    ExpressionAttributeNames={"#n": "name"}, ExpressionAttributeValues={":n": {"S": "Ann L"}})
    iam = boto3.client("iam", region_name="us-east-1")
    exact, other = grant(iam, "exact", [arn]), grant(iam, "other", [arn.replace("table/t/", "table/u/")])
    records = stream_records(arn, **exact)
    try:
        stream_records(arn, **other)
        denied = False
    except Exception as error:
        denied = "AccessDenied" in str(error)
    return {"events": [(r["eventName"], sorted(r["dynamodb"].get("NewImage", {}))) for r in records],
            "denied": denied}


with mock_aws():
    print(json.dumps(enforced()))
'''


def test_patched_dynamodb_streams_in_a_fresh_interpreter() -> None:
    """The stream read actions granted on exactly the stream ARN are allowed and on another stream denied; an
    UpdateItem that creates an item streams one INSERT (full image), the next one a MODIFY."""
    result = run_fresh(PATCHED_STREAMS, with_keys=True)
    assert result["events"] == [["INSERT", ["name", "userId"]], ["MODIFY", ["name", "userId"]]]
    assert result["denied"] is True


def test_user_pools_share_one_imported_signing_key_and_their_tokens_verify(aws) -> None:
    """cognito_signing_key_imported_once (applied by the `aws` fixture): the key moto would import, imported once."""
    import gzip
    from importlib import resources

    import boto3
    from joserfc import jwk, jwt
    from moto.cognitoidp.models import cognitoidp_backends

    from offline.local import moto_patches

    assert "cognito_signing_key_imported_once" in moto_patches.APPLIED
    idp = boto3.client("cognito-idp", region_name="us-east-1")
    pools = [idp.create_user_pool(PoolName=f"p{i}")["UserPool"]["Id"] for i in range(2)]
    backend = cognitoidp_backends["123456789012"]["us-east-1"]
    keys = [backend.user_pools[pool].json_web_key for pool in pools]
    assert keys[0] is keys[1]
    shipped = json.loads(gzip.decompress(
        (resources.files("moto") / "cognitoidp/resources/jwks-private.json.gz").read_bytes()))
    assert keys[0].as_dict(private=True) == jwk.RSAKey.import_key(shipped).as_dict(private=True)
    client = idp.create_user_pool_client(UserPoolId=pools[1], ClientName="c",
                                         ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"])["UserPoolClient"]["ClientId"]
    idp.admin_create_user(UserPoolId=pools[1], Username="a", MessageAction="SUPPRESS")
    idp.admin_set_user_password(UserPoolId=pools[1], Username="a", Password="Passw0rd!x", Permanent=True)
    token = idp.initiate_auth(AuthFlow="USER_PASSWORD_AUTH", ClientId=client,
                              AuthParameters={"USERNAME": "a", "PASSWORD": "Passw0rd!x"})["AuthenticationResult"]
    public = json.loads(gzip.decompress(
        (resources.files("moto") / "cognitoidp/resources/jwks-public.json.gz").read_bytes()))
    verified = jwt.decode(token["IdToken"], jwk.KeySet.import_key_set(public))
    assert verified.claims["cognito:username"] == "a"


def test_the_server_dispatches_on_moto_modules_listed_once(moto_server) -> None:
    """moto_modules_listed_once (applied by the `moto_server` fixture): the same listing, taken once, and what the
    dispatcher reads is the patched function (a moto that imported it by name would ignore the patch)."""
    import inspect
    import os

    import moto
    from moto import backends
    from moto.moto_server import werkzeug_app

    from offline.local import moto_patches

    assert "moto_modules_listed_once" in moto_patches.APPLIED
    root = os.path.dirname(moto.__file__)
    expected = tuple(sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)) and not d.startswith("__")))
    assert backends.list_of_moto_modules() == expected and "sqs" in expected
    assert werkzeug_app.backends is backends
    assert "backends.list_of_moto_modules()" in inspect.getsource(werkzeug_app.DomainDispatcherApplication)

"""Seed 002 (serverless-build-profiles-orders) over HTTP, profiles part: own profile only (email from the
token), IDOR attempts -> 404 with nothing written, admins read anyone's, bad bodies refused before any
Lambda; one welcome email per user however they signed up, across profile updates and stream redelivery;
a poison stream record ends on the on-failure queue while the records around it are welcomed."""

from __future__ import annotations

import base64
import json
import uuid

import boto3
import requests
from botocore.config import Config

from tests.local.conftest import PASSWORD, client_address, wait_for
from tests.local.flows import emailed_code


def sub_of(token: str) -> str:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["sub"]


def table(local) -> str:
    return local.outputs["profiles_table"]


def stored(local, user_id: str) -> dict | None:
    return local.client("dynamodb").get_item(TableName=table(local), Key={"userId": {"S": user_id}},
                                             ConsistentRead=True).get("Item")


def welcomed(local, user_id: str) -> dict:
    """The row once the welcome consumer has marked it (its last write: the row is settled)."""
    return wait_for(lambda: (item := stored(local, user_id)) and item.get("welcomeQueued", {}).get("S")
                    not in (None, "pending") and item, what=f"the welcome mark on {user_id}")


def welcomes_to(local, address: str) -> int:
    return sum(1 for m in local.ses_messages() if address in json.dumps(m, default=str)
               and "WelcomeEmail" in json.dumps(m, default=str))


def rewind(local, function: str) -> None:
    response = requests.post(local.api.rsplit("/", 1)[0] + "/__local/streams/rewind", json={"function": function},
                             timeout=5)
    assert response.json() == {"rewound": 1}


def stream_records(local) -> list[dict]:
    """Every record the profiles table's stream holds (read with the operator's keys)."""
    # Account-based endpoints off: moto answers the regional one only.
    streams = boto3.client(
        "dynamodbstreams", endpoint_url=local.aws, region_name=local.region,
        aws_access_key_id=local.endpoints["aws_access_key_id"],
        aws_secret_access_key=local.endpoints["aws_secret_access_key"],
        config=Config(account_id_endpoint_mode="disabled"))
    arn = local.outputs["profiles_stream_arn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    records, iterator = [], iterator["ShardIterator"]
    while True:
        page = streams.get_records(ShardIterator=iterator, Limit=1000)
        records += page["Records"]
        if not page["Records"]:
            return records
        iterator = page["NextShardIterator"]


def stream_length(local) -> int:
    return len(stream_records(local))


def outbox_empty(local) -> bool:
    attributes = local.client("sqs").get_queue_attributes(
        QueueUrl=local.outputs["email_queue_url"],
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
    return attributes["ApproximateNumberOfMessages"] == attributes["ApproximateNumberOfMessagesNotVisible"] == "0"


def test_c_d_upsert_then_read_your_own_profile_email_from_the_token(local) -> None:
    user = local.sign_in()
    sub = sub_of(user["IdToken"])
    created = local.call("POST", "/profiles", user["IdToken"], json={"name": "Aisalkyn Aidarova"})
    assert created.status_code == 201, created.text
    profile = created.json()["profile"]
    assert (profile["userId"], profile["email"], profile["name"]) == (sub, user["email"], "Aisalkyn Aidarova")
    assert profile["createdAt"] == profile["updatedAt"]
    updated = local.call("POST", "/profiles", user["IdToken"], json={"name": "Aisalkyn A.", "locale": "en-US"})
    assert updated.status_code == 200, updated.text
    assert updated.json()["profile"]["createdAt"] == profile["createdAt"]
    read = local.call("GET", f"/profiles/{sub}", user["IdToken"])
    assert read.status_code == 200 and read.json()["profile"]["name"] == "Aisalkyn A."
    assert "welcomeQueued" not in read.text  # internal markers stay internal
    # Signed up outside /register (an admin created the user): the first save is what welcomes them, once.
    welcomed(local, sub)
    wait_for(lambda: outbox_empty(local) and welcomes_to(local, user["email"]) >= 1, what="the welcome email")
    assert welcomes_to(local, user["email"]) == 1


def test_bad_bodies_and_claimed_identities_are_400_before_any_lambda_and_write_nothing(local) -> None:
    user = local.sign_in()
    upsert = local.function("profiles-upsert")
    before = local.count(f"{upsert}.invocations")
    for body in ({"name": ""}, {"name": 5}, {}, {"name": "x", "email": "evil@example.com"},
                 {"name": "x", "userId": "someone-else"}, {"name": "x", "extra": 1}):
        response = local.call("POST", "/profiles", user["IdToken"], json=body)
        assert response.status_code == 400, (body, response.text)
        assert set(response.json()["error"]) >= {"code", "message"}
    assert local.call("POST", "/profiles", user["IdToken"], data="{not json",
                      headers={"Content-Type": "application/json"}).status_code == 400
    assert local.count(f"{upsert}.invocations") == before
    assert stored(local, sub_of(user["IdToken"])) is None


def test_another_users_profile_is_404_like_an_unknown_id_and_nothing_is_written(local) -> None:
    alice, mallory = local.sign_in(), local.sign_in()
    alice_sub = sub_of(alice["IdToken"])
    assert local.call("POST", "/profiles", alice["IdToken"], json={"name": "Alice"}).status_code == 201
    before = welcomed(local, alice_sub)
    peek = local.call("GET", f"/profiles/{alice_sub}", mallory["IdToken"])
    unknown = local.call("GET", f"/profiles/{uuid.uuid4()}", mallory["IdToken"])
    assert peek.status_code == unknown.status_code == 404
    assert peek.json() == unknown.json() and peek.json()["error"]["code"] == "not_found"
    # Mallory's own save writes Mallory's row, never Alice's.
    assert local.call("POST", "/profiles", mallory["IdToken"], json={"name": "Alice!"}).status_code == 201
    assert stored(local, alice_sub) == before
    assert local.call("GET", f"/profiles/{alice_sub}").status_code == 401  # and never without a token


def test_an_admins_member_reads_anyones_profile(local) -> None:
    alice = local.sign_in()
    alice_sub = sub_of(alice["IdToken"])
    assert local.call("POST", "/profiles", alice["IdToken"], json={"name": "Alice"}).status_code == 201
    admin_email = f"admin-{uuid.uuid4().hex[:8]}@example.com"
    local.sign_in(admin_email)
    local.client("cognito-idp").admin_add_user_to_group(UserPoolId=local.pool_id, Username=admin_email,
                                                        GroupName="admins")
    admin = local.tokens(admin_email, PASSWORD)  # a fresh token carries cognito:groups
    read = local.call("GET", f"/profiles/{alice_sub}", admin["IdToken"])
    assert read.status_code == 200 and read.json()["profile"]["userId"] == alice_sub
    assert local.call("GET", f"/profiles/{uuid.uuid4()}", admin["IdToken"]).status_code == 404


def test_register_confirm_sends_exactly_one_welcome_across_profile_updates_and_stream_redelivery(local) -> None:
    email, ip = f"one-{uuid.uuid4().hex[:8]}@example.com", client_address()
    assert local.call("POST", "/register", json={"email": email}, client_ip=ip).status_code == 202
    code = emailed_code(local, email, 20)
    confirm = {"email": email, "code": code, "name": "Ann", "password": "Correct-Horse-9"}
    confirmed = local.call("POST", "/register/confirm", json=confirm, client_ip=ip)
    assert confirmed.status_code == 201 and confirmed.json()["welcomeEmail"] == "pending", confirmed.text
    sub = confirmed.json()["userId"]
    # Confirm created the profile row; its INSERT on the stream is what sends the welcome.
    assert stored(local, sub)["email"] == {"S": email}
    wait_for(lambda: welcomes_to(local, email) == 1, timeout=30, what="the welcome email")
    welcomed(local, sub)
    # The client retries the confirm (a lost answer): refused, and nothing more is written or streamed.
    held = stream_length(local)
    assert local.call("POST", "/register/confirm", json=confirm, client_ip=ip).status_code == 400
    assert stream_length(local) == held
    tokens = local.tokens(email, "Correct-Horse-9")
    assert sub_of(tokens["IdToken"]) == sub
    # The user saves their profile (a MODIFY: filtered out) ...
    saved = local.call("POST", "/profiles", tokens["IdToken"], json={"name": "Ann Lee"})
    assert saved.status_code == 200, saved.text  # the row exists since confirm: an update
    # ... and the stream redelivers every record it holds (as a mapping recreated at TRIM_HORIZON would).
    welcome = local.function("profiles-welcome")
    seen = local.count(f"{welcome}.records")
    held = stream_length(local)
    rewind(local, welcome)
    wait_for(lambda: local.count(f"{welcome}.records") >= seen + held, timeout=30, what="the replayed stream")
    wait_for(lambda: outbox_empty(local), timeout=30, what="the email outbox to drain")
    assert welcomes_to(local, email) == 1


def test_a_poison_record_goes_to_the_on_failure_queue_and_the_records_around_it_are_welcomed(local) -> None:
    ddb = local.client("dynamodb")
    run = uuid.uuid4().hex[:8]
    good = [f"good-{run}-{i}@example.com" for i in range(2)]
    poison = f"poison-{run}@example.com"
    # A row written outside the API at DynamoDB's item size limit (moto's: 405,000 bytes): the welcome cannot
    # mark it, so its record fails on every delivery (and, claimed before sending, never emails).
    fixed = len("userId") + len(f"p-{run}") + len("email") + len(poison) + len("name")
    for user_id, address, name in ((f"g0-{run}", good[0], "G0"), (f"p-{run}", poison, "x" * (404_995 - fixed)),
                                   (f"g1-{run}", good[1], "G1")):
        ddb.put_item(TableName=table(local), Item={"userId": {"S": user_id}, "email": {"S": address},
                                                   "name": {"S": name}})
    failures_url = local.outputs["profiles_welcome_failures_url"]
    sqs = local.client("sqs")
    routed: list[dict] = []

    [sequence] = [int(r["dynamodb"]["SequenceNumber"]) for r in stream_records(local)
                  if r["eventName"] == "INSERT" and r["dynamodb"]["Keys"]["userId"]["S"] == f"p-{run}"]

    def covers(record: dict) -> bool:
        # Other tests' failures (the least-privilege matrix routes some) share the queue: ours names our range.
        info = record.get("DDBStreamBatchInfo") or {}
        return int(info.get("startSequenceNumber", -1)) <= sequence <= int(info.get("endSequenceNumber", -1))

    def on_failure() -> bool:
        for message in sqs.receive_message(QueueUrl=failures_url, MaxNumberOfMessages=10,
                                           WaitTimeSeconds=1).get("Messages", []):
            routed.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=failures_url, ReceiptHandle=message["ReceiptHandle"])
        return any(covers(r) for r in routed)

    wait_for(on_failure, timeout=30, what="the poison record on the on-failure queue")
    [record] = [r for r in routed if covers(r)]
    assert int(record["DDBStreamBatchInfo"]["startSequenceNumber"]) == sequence  # nothing before it failed
    info = record["DDBStreamBatchInfo"]
    assert info["streamArn"] == local.outputs["profiles_stream_arn"]
    assert record["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 4  # 1 + maximumRetryAttempts (3)
    for address in good:
        wait_for(lambda a=address: welcomes_to(local, a) == 1, timeout=30, what=f"the welcome to {address}")
    assert welcomes_to(local, poison) == 0
    assert "welcomeQueued" not in stored(local, f"p-{run}")
    assert local.count(f"{local.function('profiles-welcome')}.on_failure_sent") >= 1

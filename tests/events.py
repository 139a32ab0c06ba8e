"""Builders for real-shaped AWS events (as Lambda receives them) and a Lambda context stand-in."""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

ACCOUNT_ID = "123456789012"
REGION = "us-east-1"


@dataclass
class LambdaContext:
    function_name: str = "test-function"
    memory_limit_in_mb: int = 256
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:test-function"
    remaining_ms: int = 30_000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def cognito_claims(
    sub: str | None = None,
    username: str | None = None,
    email: str = "user@example.com",
    groups: list[str] | None = None,
    pool_id: str = f"{REGION}_AbCdEf123",
    client_id: str = "3n4b5urk1ft4fl3mg5e62d9ado",
) -> dict[str, str]:
    """Claims exactly as a REST API Cognito authorizer hands them to the integration (all strings)."""
    sub = sub or str(uuid.uuid4())
    now = int(time.time())
    claims = {
        "sub": sub,
        "email_verified": "true",
        "iss": f"https://cognito-idp.{REGION}.amazonaws.com/{pool_id}",
        "cognito:username": username or sub,
        "origin_jti": str(uuid.uuid4()),
        "aud": client_id,
        "event_id": str(uuid.uuid4()),
        "token_use": "id",
        "auth_time": str(now),
        "exp": time.strftime("%a %b %d %H:%M:%S UTC %Y", time.gmtime(now + 3600)),
        "iat": time.strftime("%a %b %d %H:%M:%S UTC %Y", time.gmtime(now)),
        "jti": str(uuid.uuid4()),
        "email": email,
    }
    if groups:
        claims["cognito:groups"] = ",".join(groups)
    return claims


def api_event(
    method: str = "GET",
    resource: str = "/hello",
    path: str | None = None,
    body: Any = None,
    claims: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    path_parameters: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    stage: str = "dev",
    raw_body: str | None = None,
    base64_body: bool = False,
    source_ip: str = "203.0.113.10",
) -> dict[str, Any]:
    """A REST API (v1) Lambda proxy integration event (`source_ip`: the client address API Gateway saw)."""
    path = path or resource
    if raw_body is None and body is not None:
        raw_body = json.dumps(body)
    if raw_body is not None and base64_body:
        raw_body = base64.b64encode(raw_body.encode()).decode()
    all_headers = {
        "Accept": "application/json",
        "Host": f"abc123defg.execute-api.{REGION}.amazonaws.com",
        "User-Agent": "curl/8.5.0",
        "X-Forwarded-Proto": "https",
        **({"Content-Type": "application/json"} if raw_body is not None else {}),
        **(headers or {}),
    }
    request_context: dict[str, Any] = {
        "resourceId": "a1b2c3",
        "resourcePath": resource,
        "httpMethod": method,
        "extendedRequestId": "Abc123=",
        "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime()),
        "path": f"/{stage}{path}",
        "accountId": ACCOUNT_ID,
        "protocol": "HTTP/1.1",
        "stage": stage,
        "domainPrefix": "abc123defg",
        "requestTimeEpoch": int(time.time() * 1000),
        "requestId": str(uuid.uuid4()),
        "identity": {"sourceIp": source_ip, "userAgent": "curl/8.5.0"},
        "domainName": f"abc123defg.execute-api.{REGION}.amazonaws.com",
        "apiId": "abc123defg",
    }
    if claims is not None:
        request_context["authorizer"] = {"claims": claims}
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": all_headers,
        "multiValueHeaders": {k: [v] for k, v in all_headers.items()},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
        "pathParameters": path_parameters,
        "stageVariables": None,
        "requestContext": request_context,
        "body": raw_body,
        "isBase64Encoded": base64_body,
    }


def sqs_event_from_messages(messages: list[dict[str, Any]], queue_arn: str) -> dict[str, Any]:
    """An SQS event built from messages returned by `receive_message` (with AttributeNames/MessageAttributeNames=All)."""
    records = []
    for m in messages:
        attributes = m.get("Attributes") or {}
        records.append(
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": {
                    "ApproximateReceiveCount": attributes.get("ApproximateReceiveCount", "1"),
                    "SentTimestamp": attributes.get("SentTimestamp", str(int(time.time() * 1000))),
                    "SenderId": attributes.get("SenderId", "AIDAEXAMPLE"),
                    "ApproximateFirstReceiveTimestamp": attributes.get(
                        "ApproximateFirstReceiveTimestamp", str(int(time.time() * 1000))
                    ),
                    **{k: v for k, v in attributes.items() if k in ("MessageGroupId", "MessageDeduplicationId")},
                },
                "messageAttributes": {
                    name: {
                        "stringValue": value.get("StringValue"),
                        "binaryValue": value.get("BinaryValue"),
                        "stringListValues": [],
                        "binaryListValues": [],
                        "dataType": value["DataType"],
                    }
                    for name, value in (m.get("MessageAttributes") or {}).items()
                },
                "md5OfBody": m.get("MD5OfBody") or hashlib.md5(m["Body"].encode()).hexdigest(),  # noqa: S324
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": REGION,
            }
        )
    return {"Records": records}


def s3_put_event(bucket: str, key: str, size: int, etag: str, sequencer: str = "0055AED6DCD90281E5") -> dict[str, Any]:
    """An `s3:ObjectCreated:Put` notification as delivered to Lambda (the key is URL-encoded, spaces as '+')."""
    from urllib.parse import quote_plus

    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": REGION,
                "eventTime": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
                "eventName": "ObjectCreated:Put",
                "userIdentity": {"principalId": "AWS:AIDAEXAMPLE"},
                "requestParameters": {"sourceIPAddress": "203.0.113.10"},
                "responseElements": {
                    "x-amz-request-id": "C3D13FE58DE4C810",
                    "x-amz-id-2": "FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD",
                },
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": "uploads-ingest",
                    "bucket": {
                        "name": bucket,
                        "ownerIdentity": {"principalId": "A3NL1KOZZKExample"},
                        "arn": f"arn:aws:s3:::{bucket}",
                    },
                    "object": {"key": quote_plus(key, safe="/"), "size": size, "eTag": etag.strip('"'), "sequencer": sequencer},
                },
            }
        ]
    }


def kinesis_event(records: list[dict[str, Any]], stream_arn: str) -> dict[str, Any]:
    """A Kinesis event from `get_records` output records (Data bytes become base64, as Lambda delivers them)."""
    return {
        "Records": [
            {
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": r["PartitionKey"],
                    "sequenceNumber": r["SequenceNumber"],
                    "data": base64.b64encode(r["Data"]).decode(),
                    "approximateArrivalTimestamp": (
                        r["ApproximateArrivalTimestamp"].timestamp()
                        if hasattr(r.get("ApproximateArrivalTimestamp"), "timestamp")
                        else time.time()
                    ),
                },
                "eventSource": "aws:kinesis",
                "eventVersion": "1.0",
                "eventID": f"shardId-000000000000:{r['SequenceNumber']}",
                "eventName": "aws:kinesis:record",
                "invokeIdentityArn": f"arn:aws:iam::{ACCOUNT_ID}:role/uploads-process",
                "awsRegion": REGION,
                "eventSourceARN": stream_arn,
            }
            for r in records
        ]
    }

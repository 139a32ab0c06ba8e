"""GET /orders/{orderId}: the caller's own receipt, read from `receipts/<caller sub>/<orderId>.json`.

The key is built from the authorizer's `sub`, so another user's order id simply names a key that does not exist:
unknown ids and other users' orders both answer the same 404, and nothing tells them apart.

Queued but not yet processed orders also answer 404. There is no status store (the submit function may only
send to the queue), so "queued" cannot be told from "unknown" without letting anyone probe ids; the choice is
a 404 whose message says so. A client that holds the order id from the 202 polls with backoff until the
receipt (status PROCESSED) appears, normally within seconds.

The role has s3:GetObject on `receipts/*` only: without s3:ListBucket S3 answers a missing key with 403, not 404,
so both mean "not found" here.

Environment: RECEIPTS_BUCKET.
"""

from __future__ import annotations

import json
import os
from typing import Any

import boto3
from botocore.exceptions import ClientError

from handlers.common import log
from handlers.common.http import HttpError, api_handler, json_response
from handlers.common.order_state import requested_order

RECEIPTS_BUCKET = os.environ["RECEIPTS_BUCKET"]
MISSING = ("NoSuchKey", "AccessDenied", "404", "403")
NOT_FOUND = "order not found (a just-submitted order appears once it has been processed)"

s3 = boto3.client("s3")


@api_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    caller, order_id = requested_order(event, NOT_FOUND)
    try:
        stored = s3.get_object(Bucket=RECEIPTS_BUCKET, Key=f"receipts/{caller.sub}/{order_id}.json")
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in MISSING:
            raise HttpError(404, "not_found", NOT_FOUND) from exc
        raise
    receipt = json.loads(stored["Body"].read())
    log.info("receipt read", orderId=order_id)
    return json_response(200, receipt, event)

"""An external program's own handler: nothing from this repository's handlers/ is imported."""

import json


def handler(event, context):
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": json.dumps({"pong": True})}

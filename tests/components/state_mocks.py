"""Provider answers for the resource types issue 13 adds, on top of the recording mocks (offline/mocks.py does
not know them yet): what the AWS provider returns after an `up` for a table, a state machine, an alias and a
function published as a version. Moving these into offline/mocks.py is left to its owner (issue 9)."""

from __future__ import annotations

import pulumi

from offline.mocks import ACCOUNT_ID, REGION
from tests.conftest import RecordingMocks

STREAM_LABEL = "2026-11-30T09:00:00.000"


class StateMocks(RecordingMocks):
    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict]:
        resource_id, outputs = super().new_resource(args)
        inputs = args.inputs
        if args.typ == "aws:dynamodb/table:Table":
            arn = f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/{inputs['name']}"
            outputs |= {"arn": arn, "name": inputs["name"]}
            if inputs.get("streamEnabled"):
                outputs |= {"streamArn": f"{arn}/stream/{STREAM_LABEL}", "streamLabel": STREAM_LABEL}
            resource_id = inputs["name"]
        elif args.typ == "aws:sfn/stateMachine:StateMachine":
            outputs["arn"] = f"arn:aws:states:{REGION}:{ACCOUNT_ID}:stateMachine:{inputs['name']}"
        elif args.typ == "aws:lambda/alias:Alias":
            function = inputs["functionName"]
            outputs["arn"] = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{function}:{inputs['name']}"
        elif args.typ == "aws:lambda/function:Function" and inputs.get("publish"):
            outputs |= {"version": "1", "qualifiedArn": f"{outputs['arn']}:1"}
        elif args.typ == "aws:cloudwatch/eventRule:EventRule":
            outputs.setdefault("name", resource_id)  # pulumi-aws auto-names a rule without a name
            outputs["arn"] = f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/{outputs['name']}"
        return resource_id, outputs

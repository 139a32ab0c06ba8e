"""Provisioning from registered inputs, on a moto_server: types the program does not use yet, and the
"not supported yet" report for types nobody handles."""

from __future__ import annotations

import urllib.request

from offline.local.graph import StackGraph
from offline.local.provision import admin_client, provision
from offline.local.server import RUNTIME_TYPES
from offline.runtime import ProgramRun, RecordedResource


def _resource(type_: str, name: str, inputs: dict, id_: str | None = None) -> RecordedResource:
    return RecordedResource(urn=f"urn:pulumi:dev::p::{type_}::{name}", type=type_, name=name, custom=True,
                            id=id_ or name, inputs=inputs, outputs={}, parent=None, dependencies=(),
                            property_dependencies={})


def test_dynamodb_table_from_its_inputs_and_unknown_types_reported(moto_server) -> None:
    urllib.request.urlopen(urllib.request.Request(f"{moto_server}/moto-api/reset", method="POST"))  # noqa: S310
    table = _resource("aws:dynamodb/table:Table", "orders-table", {
        "name": "orders-abc", "billingMode": "PAY_PER_REQUEST", "hashKey": "pk", "rangeKey": "sk",
        "attributes": [{"name": "pk", "type": "S"}, {"name": "sk", "type": "S"}, {"name": "gsi1", "type": "S"}],
        "globalSecondaryIndexes": [{"name": "by-gsi1", "projectionType": "ALL",
                                    "keySchemas": [{"attributeName": "gsi1", "keyType": "HASH"}]}],
        "ttl": {"attributeName": "expiresAt", "enabled": True}, "streamEnabled": True,
        "streamViewType": "NEW_IMAGE"})
    machine = _resource("aws:sfn/stateMachine:StateMachine", "flow", {"definition": "{}"})
    graph = StackGraph(ProgramRun(project="p", stack="dev", resources=[table, machine]))
    done = provision(graph, moto_server, "us-east-1")
    described = admin_client("dynamodb", moto_server, "us-east-1").describe_table(TableName="orders-abc")["Table"]
    assert described["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"},
                                      {"AttributeName": "sk", "KeyType": "RANGE"}]
    assert described["GlobalSecondaryIndexes"][0]["IndexName"] == "by-gsi1"
    assert described["GlobalSecondaryIndexes"][0]["KeySchema"] == [{"AttributeName": "gsi1", "KeyType": "HASH"}]
    assert described["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}
    ttl = admin_client("dynamodb", moto_server, "us-east-1").describe_time_to_live(TableName="orders-abc")
    assert ttl["TimeToLiveDescription"]["AttributeName"] == "expiresAt"
    unsupported = graph.unsupported(done.handled_types | RUNTIME_TYPES)
    assert [r.type for r in unsupported] == ["aws:sfn/stateMachine:StateMachine"]

"""Pure pieces of the local runtime: id rewriting, route matching, ARN globs, claims, S3 event keys, messages."""

from __future__ import annotations

import jsonschema
from hypothesis import given
from hypothesis import strategies as st

from offline.local.apigw import Node, RestApi, _describe, arn_matches, claims_as_strings
from offline.local.events import s3_record_as_aws_sends_it
from offline.local.graph import IdMap


def test_id_map_rewrites_whole_urls_before_ids() -> None:
    ids = IdMap()
    ids.add("https://sqs.us-east-1.amazonaws.com/123456789012/q", "http://127.0.0.1:5000/123456789012/q")
    ids.add("us-east-1_mock", "us-east-1_real")
    value = {"a": ["https://sqs.us-east-1.amazonaws.com/123456789012/q"], "b": "arn:...:userpool/us-east-1_mock"}
    assert ids.rewrite(value) == {"a": ["http://127.0.0.1:5000/123456789012/q"], "b": "arn:...:userpool/us-east-1_real"}


def _api(paths: list[str]) -> RestApi:
    api = RestApi.__new__(RestApi)
    api.root = Node("root", "")
    nodes = {"/": api.root}
    for path in paths:
        parent = api.root
        for part in path.strip("/").split("/"):
            key = parent.path.rstrip("/") + "/" + part
            if key not in nodes:
                node = Node(key, part, path=key)
                parent.children.append(node)
                nodes[key] = node
            parent = nodes[key]
    return api


def test_literal_parts_win_over_parameters_whatever_the_order() -> None:
    api = _api(["/orders/{orderId}", "/orders/latest", "/files/{proxy+}"])
    node, params = api.match("/orders/latest")
    assert node.path == "/orders/latest" and params == {}
    node, params = api.match("/orders/o-1")
    assert node.path == "/orders/{orderId}" and params == {"orderId": "o-1"}
    node, params = api.match("/files/a/b/c.txt")
    assert params == {"proxy": "a/b/c.txt"}
    assert api.match("/orders/o-1/extra") is None
    assert api.match("/nope") is None


@given(st.text(alphabet="abcdefghij-_0123456789", min_size=1, max_size=12))
def test_any_segment_binds_the_parameter(segment: str) -> None:
    api = _api(["/orders/{orderId}", "/orders/latest"])
    node, params = api.match(f"/orders/{segment}")
    if segment == "latest":
        assert params == {}
    else:
        assert params == {"orderId": segment}


def test_permission_source_arns_glob_like_iam() -> None:
    pattern = "arn:aws:execute-api:us-east-1:123456789012:abc/*/GET/orders/*"
    assert arn_matches(pattern, "arn:aws:execute-api:us-east-1:123456789012:abc/dev/GET/orders/o-1")
    assert not arn_matches(pattern, "arn:aws:execute-api:us-east-1:123456789012:abc/dev/POST/orders/o-1")
    assert not arn_matches("arn:aws:execute-api:us-east-1:123456789012:abc/*/POST/orders",
                           "arn:aws:execute-api:us-east-1:123456789012:abc/dev/POST/orders/x")


def test_claims_are_strings_like_rest_api_authorizers() -> None:
    assert claims_as_strings({"exp": 1, "email_verified": True, "cognito:groups": ["a", "b"], "sub": "s"}) == {
        "exp": "1", "email_verified": "true", "cognito:groups": "[a, b]", "sub": "s"}


def test_s3_event_keys_keep_their_slashes() -> None:
    record = {"s3": {"object": {"key": "uploads%2Fsub%2Fa+b.txt"}}}
    assert s3_record_as_aws_sends_it(record)["s3"]["object"]["key"] == "uploads/sub/a+b.txt"


def test_validation_messages_use_double_quotes_like_api_gateway() -> None:
    schema = {"type": "object", "required": ["name"], "additionalProperties": False,
              "properties": {"name": {"type": "string"}}}
    errors = sorted(jsonschema.Draft4Validator(schema).iter_errors({"x": 1}), key=lambda e: e.validator)
    messages = [_describe(e) for e in errors]
    assert messages == ['object instance has properties which are not allowed by the schema: ["x"]',
                        'object has missing required properties (["name"])']
    assert all("'" not in m for m in messages)

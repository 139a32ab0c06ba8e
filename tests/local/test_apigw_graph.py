"""The REST emulation built from the real dev graph, in-process with a stub Lambda: the permission's
sourceArn decides, the v1 proxy event carries what API Gateway sends, MOCK integrations render their VTL."""

from __future__ import annotations

import json

import pytest

from offline.local.apigw import ApiRequest, RestApi
from offline.local.graph import PERMISSION, IdMap, StackGraph
from offline.local.lambdas import Invocation
from offline.runtime import ProgramRun, run_stack


@pytest.fixture(scope="module")
def dev_run() -> ProgramRun:
    return run_stack("dev")


def _api(run: ProgramRun, drop_permissions: bool = False) -> tuple[RestApi, list]:
    resources = [r for r in run.resources if not (drop_permissions and r.type == PERMISSION)]
    graph = StackGraph(ProgramRun(project=run.project, stack=run.stack, resources=resources))
    calls: list = []

    def invoke(name: str, event: dict) -> Invocation:
        calls.append((name, event))
        return Invocation(True, {"statusCode": 200, "headers": {"X-From": name}, "body": "{}"})

    api = graph.of_type("aws:apigateway/restApi:RestApi")[0]
    return RestApi(graph, api, IdMap(), verifier=None, invoke=invoke, region="us-east-1",
                   account="123456789012"), calls


def _get(path: str, **headers: str) -> ApiRequest:
    return ApiRequest(method="GET", path=path, headers=dict(headers), multi_headers={}, query={"a": "1"},
                      multi_query={"a": ["1"]}, body=b"")


def test_proxy_event_for_a_public_route(dev_run) -> None:
    api, calls = _api(dev_run)
    response = api.handle(_get("/health", Origin="http://localhost:3000"))
    assert response.status == 200
    (name, event), = calls
    assert name.endswith("health")
    assert event["resource"] == "/health" and event["httpMethod"] == "GET"
    assert event["queryStringParameters"] == {"a": "1"}
    context = event["requestContext"]
    assert context["stage"] == "dev" and context["path"] == "/dev/health" and context["authorizer"] is None


def test_without_a_matching_permission_api_gateway_cannot_invoke(dev_run) -> None:
    api, calls = _api(dev_run, drop_permissions=True)
    response = api.handle(_get("/health"))
    assert response.status == 500
    assert json.loads(response.body)["error"]["code"] == "API_CONFIGURATION_ERROR"
    assert calls == []


def test_request_arn_is_concrete(dev_run) -> None:
    api, _ = _api(dev_run)
    arn = api.request_arn(ApiRequest("GET", "/orders/o-1", {}, {}, {}, {}, b""))
    assert arn.endswith(f"{api.api_id}/dev/GET/orders/o-1")


def test_mock_preflight_renders_the_vtl(dev_run) -> None:
    api, calls = _api(dev_run)
    request = ApiRequest("OPTIONS", "/hello", {"Origin": "http://localhost:5173"}, {}, {}, {}, b"")
    response = api.handle(request)
    assert response.status == 200 and calls == []
    assert response.headers["Access-Control-Allow-Origin"] == "http://localhost:5173"
    assert response.headers["Access-Control-Max-Age"] == "600"

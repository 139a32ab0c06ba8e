"""The components used by another program: own handler folder, own naming, explicit Args, no Settings."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.external import program as external
from tests.graph import routes

CALLER_IDENTITY = "aws:index/getCallerIdentity:getCallerIdentity"


def test_external_program_builds_api_email_and_orders(run_pulumi, recording_mocks) -> None:
    run = run_pulumi(external.main)
    ping = run.named("ping-function").inputs
    assert ping["handler"] == "shop_handlers.ping.handler"
    assert ping["code"]["__archive"] == ["shop_handlers/__init__.py", "shop_handlers/ping.py"]
    assert not ping.get("environment")  # nothing injected
    assert ping["memorySize"] == 512 and ping["name"] == "shop-test-ping"

    table = routes(run)
    assert table["GET /ping"].authorization == "NONE"
    assert table["POST /orders"].authorization == "COGNITO_USER_POOLS"
    assert table["GET /orders/{orderId}"].authorizer_urn is not None
    assert run.of_type("aws:apigateway/restApi:RestApi")[0].inputs["endpointConfiguration"]["types"] == "EDGE"
    assert run.named("orders-queue").inputs["name"].endswith(".fifo")
    assert run.named("mail-identity").inputs["emailIdentity"] == "shop.example.org"
    process_env = run.named("orders-process-function").inputs["environment"]["variables"]
    assert set(process_env) == {"RECEIPTS_BUCKET", "EMAIL_QUEUE_URL"}
    assert run.of_type("aws:apigateway/usagePlan:UsagePlan") == []
    # The account id was given: no function looked it up.
    assert not [c for c in recording_mocks.invokes if c.token == CALLER_IDENTITY]


def test_external_program_does_not_use_the_apps_settings() -> None:
    tree = ast.parse(Path(external.__file__).read_text())
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert "components.settings" not in imported
    component_sources = Path(external.__file__).resolve().parents[2] / "components"
    for source in component_sources.glob("*.py"):
        if source.name == "settings.py":
            continue
        modules = {node.module for node in ast.walk(ast.parse(source.read_text())) if isinstance(node, ast.ImportFrom)}
        assert not {m for m in modules if m and m.endswith("settings")}, f"{source.name} imports the app's settings"


def test_components_import_each_other_relatively_so_the_wheel_can_rename_the_package() -> None:
    """pyproject.toml ships `components/` as `secure_serverless_components`: an absolute `components.` import
    inside it would break (or pick up another distribution's `components`) once installed."""
    component_sources = Path(external.__file__).resolve().parents[2] / "components"
    for source in component_sources.glob("*.py"):
        tree = ast.parse(source.read_text())
        absolute = [node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                    and node.level == 0 and node.module and node.module.split(".")[0] == "components"]
        absolute += [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names
                     if alias.name.split(".")[0] == "components"]
        assert not absolute, f"{source.name}: {absolute}"

"""Another Pulumi program using the components: its own handler folder, its own names, explicit Args, no
stack Settings. `tests/components/test_external_program.py` runs it under mocks."""

from __future__ import annotations

from pathlib import Path

import pulumi

from components.email_sender import EmailSender, EmailSenderArgs
from components.function import FunctionDefaults, PythonFunction, PythonFunctionArgs
from components.naming import Naming
from components.order_pipeline import OrderPipeline, OrderPipelineArgs
from components.secure_api import Route, SecureApi, SecureApiArgs
from components.user_pool import UserPool, UserPoolArgs

HERE = Path(__file__).resolve().parent
ACCOUNT_ID = "210987654321"


def main() -> None:
    naming = Naming("shop-test")
    functions = FunctionDefaults(naming=naming, memory_mb=512, timeout_seconds=15, account_id=ACCOUNT_ID,
                                 tags={"team": "shop"})
    users = UserPool("shop", UserPoolArgs(naming=naming, password_min_length=14, groups=("staff",)))
    api = SecureApi("shop", SecureApiArgs(naming=naming, stage_name="v1", user_pool_arns=[users.arn],
                                          cors_origins=("https://shop.example.org",), usage_plan_enabled=False,
                                          endpoint_type="EDGE"))
    ping = PythonFunction("ping", PythonFunctionArgs(
        handler="ping", package="shop_handlers", code_dir=HERE, shared=("shop_handlers/__init__.py",),
        defaults=functions))
    email = EmailSender("mail", EmailSenderArgs(functions=functions, sender="orders@shop.example.org",
                                                domain="shop.example.org"))
    orders = OrderPipeline("orders", OrderPipelineArgs(functions=functions, email=email.producer_link(), fifo=True))
    api.add_routes([Route("GET", "/ping", ping, public=True), *orders.routes])
    api.deploy()
    pulumi.export("url", api.url)

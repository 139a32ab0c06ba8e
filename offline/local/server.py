"""The local runtime: moto on 127.0.0.1, the stack provisioned from its graph, warm Lambda workers, pollers,
and the REST API served over HTTP. `LocalRuntime(stack).start()` ... `.stop()`; `python -m offline.local`.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from offline.local import apigw, denials, events, schedules, stepfunctions, streams
from offline.local.graph import EVENT_INVOKE_CONFIG, EVENT_SOURCE_MAPPING, FUNCTION, PERMISSION, StackGraph
from offline.local.lambdas import Invocation, LocalFunction, function_environment, stage_code
from offline.local.provision import Provisioned, RoleSession, admin_client, enforce_iam, provision
from offline.runtime import REPO_ROOT, run_stack

API_TYPES = {t for t in (
    "aws:apigateway/restApi:RestApi", "aws:apigateway/resource:Resource", "aws:apigateway/method:Method",
    "aws:apigateway/integration:Integration", "aws:apigateway/integrationResponse:IntegrationResponse",
    "aws:apigateway/methodResponse:MethodResponse", "aws:apigateway/model:Model",
    "aws:apigateway/requestValidator:RequestValidator", "aws:apigateway/authorizer:Authorizer",
    "aws:apigateway/response:Response", "aws:apigateway/stage:Stage", "aws:apigateway/apiKey:ApiKey")}
RUNTIME_TYPES = API_TYPES | {FUNCTION, PERMISSION, EVENT_SOURCE_MAPPING, EVENT_INVOKE_CONFIG}


ENDPOINTS_FILE = "endpoints.json"  # in the state directory: what the runtime serves, once it is ready


@dataclass
class Options:
    stack: str = "dev"
    host: str = "127.0.0.1"
    api_port: int = 0
    moto_port: int = 0
    time_scale: float = 1.0
    state_dir: Path = REPO_ROOT / ".dev"
    overrides: dict[str, Any] | None = None
    quiet: bool = False
    enforce_iam: bool = True
    auto_schedules: bool = False  # fire rate() schedules by themselves (time-scaled); off: on demand only


def publish_endpoints(state_dir: Path, endpoints: dict[str, Any]) -> Path:
    """Whole or not at all: readers take the file's existence as "ready" and read it at once. Written in place, it
    exists empty for a moment; on a loaded machine a reader read '' there (tests/local/test_server.py)."""
    state_dir.mkdir(parents=True, exist_ok=True)
    target = state_dir / ENDPOINTS_FILE
    partial = target.with_name(f".{ENDPOINTS_FILE}.{os.getpid()}")
    partial.write_text(json.dumps(endpoints, indent=2) + "\n")
    partial.replace(target)
    return target


class Console:
    def __init__(self, quiet: bool):
        self.quiet = quiet
        self.lock = threading.Lock()

    def __call__(self, line: str) -> None:
        if self.quiet:
            return
        with self.lock:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()

    def prefixed(self, prefix: str) -> Callable[[str], None]:
        return lambda line: self(f"[{prefix}] {line}")


class LocalRuntime:
    def __init__(self, options: Options):
        self.options = options
        self.console = Console(options.quiet)
        self.stop_event = threading.Event()
        self.counters = events.Counters()
        self.functions: dict[str, LocalFunction] = {}
        self.sessions: dict[str, RoleSession] = {}
        self.pollers: list[events.Poller] = []
        self.wakeup = events.Wakeup()
        self.unsupported: list[str] = []
        self.moto: Any = None
        self.http: Any = None
        self.api: apigw.RestApi | None = None

    # --- start -----------------------------------------------------------------------------------------------
    def start(self) -> dict[str, Any]:
        from moto.server import ThreadedMotoServer

        from offline.local import moto_patches

        self.patches = moto_patches.apply_all()
        moto_patches.LOCAL.on_change = self.wakeup.notify
        denials.observe(lambda principal, _action, _resource: self.counters.add(f"role:{principal}.iam_denied"))
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per moto call drowns the function logs
        started = time.time()
        o = self.options
        gc.disable()  # one evaluation: its young objects die with it, and the collector's passes cost a third of it
        try:
            self.graph = StackGraph(run_stack(o.stack, overrides=o.overrides))
        finally:
            gc.enable()
        self.region, self.account = self._region_account()
        self.moto = ThreadedMotoServer(ip_address=o.host, port=o.moto_port, verbose=False)
        self.moto.start()
        host, port = self.moto.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"
        self.provisioned: Provisioned = provision(self.graph, self.endpoint, self.region, o.time_scale)
        handled = self.provisioned.handled_types | RUNTIME_TYPES | stepfunctions.HANDLED_TYPES | schedules.HANDLED_TYPES
        self.unsupported = sorted({r.type for r in self.graph.unsupported(handled)})
        # Before the workers start: one interpreter per function importing boto3 at once slows this 2-3x.
        self._start_workflows()
        self._start_functions()
        self.admin_credentials: dict[str, str] | None = None
        if o.enforce_iam:
            # After the roles' sessions are taken: moto crashes assuming a service role once enforcement is on.
            self.admin_credentials = enforce_iam(self.endpoint, self.region)
        self._start_pollers()
        self._start_schedules()
        self._start_http()
        self.startup_seconds = time.time() - started
        endpoints = {**self.endpoints(), "startup_seconds": round(self.startup_seconds, 2)}
        publish_endpoints(o.state_dir, endpoints)
        return endpoints

    def _region_account(self) -> tuple[str, str]:
        for f in self.graph.of_type(FUNCTION):
            parts = (f.outputs.get("arn") or "").split(":")
            if len(parts) > 4:
                return parts[3], parts[4]
        return "us-east-1", "123456789012"

    def _start_functions(self) -> None:
        ids = self.provisioned.ids
        sts = admin_client("sts", self.endpoint, self.region)
        code_root = self.options.state_dir / "functions"
        for spec in self.graph.functions():
            # Sessions are taken before IAM enforcement is switched on (moto cannot assume service roles after).
            credentials = sts.assume_role(RoleArn=ids.rewrite(spec.role_arn), RoleSessionName=spec.name[:64],
                                          DurationSeconds=43200)["Credentials"]
            self.sessions[spec.name] = RoleSession(credentials, self.region)
            env = function_environment(spec, ids.rewrite(spec.environment), credentials, self.endpoint, self.region)
            function = LocalFunction(spec, env, stage_code(spec, code_root), self.console.prefixed(spec.name))
            function.ship_logs = self._log_shipper(spec, self.sessions[spec.name])
            self.functions[spec.name] = function
        # Warm every worker in parallel: imports (boto3) dominate start-up.
        warmers = [threading.Thread(target=f.warm) for f in self.functions.values()]
        for w in warmers:
            w.start()
        for w in warmers:
            w.join()

    def _start_workflows(self) -> None:
        """State machines on moto's interpreter, their Lambda tasks dispatched to the workers (before IAM
        enforcement: it takes the state machine roles' sessions)."""
        self.workflows = stepfunctions.Workflows(self.graph, self.provisioned, self.endpoint, self.region,
                                                 self.options.time_scale, self.invoke, self.counters.add)
        self.workflows.provision()

    def _start_schedules(self) -> None:
        self.scheduler = schedules.Scheduler(self.graph, self.async_invoker.submit, self.counters,
                                             self.console.prefixed("schedule"), self.options.time_scale,
                                             self.stop_event)
        if self.options.auto_schedules:
            self.scheduler.start_automatic()

    def fire_schedule(self, name: str) -> list[dict[str, Any]]:
        """Fire a scheduled rule (by rule name/ARN or target function name/suffix) now; see schedules.py."""
        return self.scheduler.fire(name)

    def _log_shipper(self, spec: Any, session: RoleSession) -> Callable[[list[tuple[int, str]]], None]:
        group = next((f.inputs.get("loggingConfig", {}).get("logGroup") for f in self.graph.of_type(FUNCTION)
                      if f.inputs.get("name") == spec.name), None) or f"/aws/lambda/{spec.name}"
        state: dict[str, Any] = {"stream": None, "client": None}

        def ship(lines: list[tuple[int, str]]) -> None:
            from botocore.exceptions import ClientError

            if state["client"] is None:
                state["client"] = session.client("logs", endpoint_url=self.endpoint, region_name=self.region)
            logs = state["client"]
            try:
                if state["stream"] is None:
                    stream = time.strftime("%Y/%m/%d/[$LATEST]") + uuid.uuid4().hex
                    logs.create_log_stream(logGroupName=group, logStreamName=stream)
                    state["stream"] = stream
                logs.put_log_events(logGroupName=group, logStreamName=state["stream"],
                                    logEvents=[{"timestamp": t, "message": m} for t, m in lines])
                self.counters.add(f"{spec.name}.logs_shipped", len(lines))
            except ClientError as error:
                self.counters.add(f"{spec.name}.logs_denied")
                self.counters.error(f"{spec.name}: logs refused: {error}")

        return ship

    def invoke(self, name: str, event: Any) -> Invocation:
        self.counters.add(f"{name}.invocations")
        result = self.functions[name].invoke(event)
        if not result.ok:
            self.counters.add(f"{name}.errors")
        return result

    def resolve(self, reference: str) -> str | None:
        spec = self.graph.function_for(reference)
        return spec.name if spec else None

    def _start_pollers(self) -> None:
        o = self.options
        queue_urls = self.provisioned.queue_urls
        configs = {}
        for c in self.graph.of_type(EVENT_INVOKE_CONFIG):
            name = self.resolve(c.inputs.get("functionName", ""))
            if name:
                configs[name] = c.inputs
        arns = {spec.name: spec.arn for spec in self.graph.functions()}
        self.async_invoker = events.AsyncInvoker(
            invoke=self.invoke, sessions=self.sessions, configs=configs, arns=arns, queue_urls=queue_urls,
            endpoint=self.endpoint, region=self.region, stop=self.stop_event, log=self.console.prefixed("async"),
            counters=self.counters, time_scale=o.time_scale)
        for mapping in self.graph.of_type(EVENT_SOURCE_MAPPING):
            inputs = mapping.inputs
            name = self.resolve(inputs.get("functionName", ""))
            source = inputs.get("eventSourceArn", "")
            if name is None:
                continue
            if inputs.get("enabled") is False:
                continue
            common = dict(function=name, function_arn=arns[name], invoke=self.invoke, session=self.sessions[name],
                          endpoint=self.endpoint, region=self.region, stop=self.stop_event,
                          log=self.console.prefixed(f"poller {name}"), counters=self.counters, time_scale=o.time_scale)
            if source.startswith("arn:aws:sqs:"):
                self.pollers.append(events.SqsPoller(mapping=inputs, queue_url=queue_urls[source], queue_arn=source,
                                                     **common))
            elif source.startswith("arn:aws:kinesis:"):
                poller = events.KinesisPoller(mapping=inputs, stream_arn=source, queue_urls=queue_urls,
                                              wakeup=self.wakeup, **common)
                poller.start_iterators()  # LATEST means "from start-up", not "from the first poll"
                self.pollers.append(poller)
            elif source.startswith(streams.STREAM_ARN_PREFIX):
                self.pollers.append(streams.stream_poller(inputs, self.provisioned.ids.rewrite, queue_urls,
                                                          wakeup=self.wakeup, **common))
            else:
                self.unsupported.append(f"{EVENT_SOURCE_MAPPING} from {source.split(':')[2]}")
        for _bucket, url, targets in self.provisioned.notification_queues:
            self.pollers.append(events.S3NotificationPoller(
                queue_url=url, targets=targets, resolve=self.resolve, async_invoker=self.async_invoker,
                credentials=self.admin_credentials, endpoint=self.endpoint, region=self.region, stop=self.stop_event,
                log=self.console.prefixed("s3"), counters=self.counters))
        for poller in self.pollers:
            poller.start()

    def _start_http(self) -> None:
        apis = self.graph.of_type("aws:apigateway/restApi:RestApi")
        if len(apis) > 1:
            self.unsupported.append("more than one REST API (only the first is served)")
        pools: dict[str, list[str]] = {}
        for client, pool in self.provisioned.clients.items():
            pools.setdefault(pool, []).append(client)
        verifier = apigw.CognitoVerifier(self.endpoint, self.region, pools)
        if apis:
            self.api = apigw.RestApi(self.graph, apis[0], self.provisioned.ids, verifier, self.invoke,
                                     self.region, self.account)
        self.http = make_server(self.options.host, self.options.api_port, self.wsgi, threaded=True)
        threading.Thread(target=self.http.serve_forever, name="api", daemon=True).start()
        self.api_base = f"http://{self.options.host}:{self.http.server_port}"
        for stage in self.graph.of_type("aws:apigateway/stage:Stage"):
            self.provisioned.ids.add(stage.outputs.get("invokeUrl"), f"{self.api_base}/{stage.inputs['stageName']}")

    # --- HTTP ------------------------------------------------------------------------------------------------
    def wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        if request.path.startswith("/__local/"):
            return self.admin(request)(environ, start_response)
        api_request = apigw.ApiRequest(
            method=request.method, path="/", headers=dict(request.headers.items()),
            multi_headers={k: request.headers.getlist(k) for k in request.headers.keys()},
            query=dict(request.args.items()), multi_query={k: request.args.getlist(k) for k in request.args.keys()},
            body=request.get_data(), source_ip=request.remote_addr or "127.0.0.1")
        if self.api is None:
            response = apigw.ApiResponse(404, {"Content-Type": "application/json"}, b'{"message":"no REST API"}')
        else:
            prefix = f"/{self.api.stage}"
            path = request.path
            if path == prefix or path.startswith(prefix + "/"):
                api_request.path = path[len(prefix):] or "/"
                response = self.api.handle(api_request)
            else:
                # Outside the stage API Gateway answers 403 Missing Authentication Token too.
                response = self.api.gateway_response(apigw.GatewayError("MISSING_AUTHENTICATION_TOKEN"),
                                                     api_request, {"error": {}})
        out = Response(response.body, status=response.status)
        out.headers.clear()
        for key, value in response.headers.items():
            out.headers[key] = value
        for key, values in response.multi_headers.items():
            for value in values:
                out.headers.add(key, value)
        return out(environ, start_response)

    def admin(self, request: Request) -> Response:
        """Test hooks: counters, and fault injection (a delay before a function's handler)."""
        if request.path == "/__local/stats":
            with self.counters.lock:
                body = {"counters": dict(self.counters.values), "errors": list(self.counters.errors)}
            return Response(json.dumps(body), content_type="application/json")
        if request.path == "/__local/ses/sent":
            return Response(json.dumps(self.sent_emails(), default=str), content_type="application/json")
        if request.path.startswith("/__local/schedules"):
            return self.schedules_admin(request)
        if request.path == "/__local/streams/rewind" and request.method == "POST":
            rewound = streams.rewind(self.pollers, request.get_json()["function"])
            return Response(json.dumps({"rewound": rewound}), content_type="application/json")
        if request.path == "/__local/faults" and request.method == "POST":
            spec = request.get_json()
            function = self.functions[spec["function"]]
            function.inject_delay = float(spec.get("delay", 0))
            function.inject_error = spec.get("error")
            function.inject_error_type = spec.get("errorType")
            function.timeout = float(spec.get("timeout") or function.spec.timeout)
            return Response("{}", content_type="application/json")
        return Response('{"message":"unknown"}', status=404, content_type="application/json")

    def schedules_admin(self, request: Request) -> Response:
        """GET /__local/schedules lists the graph's schedules; POST /__local/schedules/fire {"name"} fires one."""
        if request.path == "/__local/schedules/fire" and request.method == "POST":
            try:
                fired = self.fire_schedule(str((request.get_json(silent=True) or {}).get("name", "")))
            except KeyError as error:
                return Response(json.dumps({"error": {"code": "unknown_schedule", "message": error.args[0]}}),
                                status=404, content_type="application/json")
            return Response(json.dumps(fired), content_type="application/json")
        return Response(json.dumps([s.describe() for s in self.scheduler.schedules]),
                        content_type="application/json")

    def sent_emails(self) -> list[dict[str, Any]]:
        """The local mailbox: what moto's SES accepted (moto keeps it in-process, not behind any API)."""
        from moto.ses.models import ses_backends

        backend = ses_backends[self.account][self.region]
        return [dict(vars(m)) for m in backend.sent_messages]

    # --- info & stop -----------------------------------------------------------------------------------------
    def endpoints(self) -> dict[str, Any]:
        pools = list(self.provisioned.user_pools)
        return {
            "api_url": f"{self.api_base}/{self.api.stage}" if self.api else None,
            "aws_endpoint_url": self.endpoint,
            "region": self.region,
            "iam_enforced": self.admin_credentials is not None,
            "aws_access_key_id": (self.admin_credentials or {}).get("aws_access_key_id", "testing"),
            "aws_secret_access_key": (self.admin_credentials or {}).get("aws_secret_access_key", "testing"),
            "user_pool_id": pools[0] if pools else None,
            "user_pool_client_id": next(iter(self.provisioned.clients), None),
            "functions": {name: f.spec.arn for name, f in self.functions.items()},
            "roles": {name: self.provisioned.ids.rewrite(f.spec.role_arn).rsplit("/", 1)[-1]
                      for name, f in self.functions.items()},
            "stack_outputs": self.provisioned.ids.rewrite(self.graph.run.stack_outputs),
            "admin_url": self.api_base,
            "state_machines": {m.name: {"arn": m.arn, "role": m.role_name} for m in self.workflows.machines},
            "schedules": [s.describe() for s in self.scheduler.schedules],
        }

    def stop(self) -> None:
        self.stop_event.set()
        self.wakeup.notify()  # an idle stream poller returns now, not after its second
        if self.http is not None:
            self.http.shutdown()
            self.http.server_close()
        for function in self.functions.values():
            function.stop()  # kills the worker: an invocation in flight ends now, not at its timeout
        deadline = time.time() + 5
        for poller in self.pollers:
            poller.join(timeout=max(0.1, deadline - time.time()))
        if self.moto is not None:
            self.moto.stop()

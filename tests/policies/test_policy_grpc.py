"""The real pack, started as the Pulumi CLI starts it and driven over the analyzer gRPC protocol, gives the
same verdicts as the offline checker on the same graph."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable, Iterator
from concurrent import futures
from typing import NamedTuple

import grpc
import pytest
from google.protobuf import empty_pb2, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc, engine_pb2_grpc

from offline.runtime import REPO_ROOT, run_stack
from policies.check import stack_config_path
from policies.guard import RULES
from policies.guard.adapters import from_program_run
from policies.guard.config import RuleConfig, load, reconcile
from policies.guard.crossguard import RECHECK
from policies.guard.engine import evaluate
from policies.guard.model import UNKNOWN, Graph, Resource
from tests.policies.policy_builders import allow, app_config, document, named, wire, with_props

PACK_DIR = REPO_ROOT / "policies"
LEVELS = {analyzer_pb2.ADVISORY: "advisory", analyzer_pb2.MANDATORY: "mandatory"}
UNKNOWN_REPORT = "can't run policy"  # the SDK's message for a policy that met an unknown value


class RecordingEngine(engine_pb2_grpc.EngineServicer):
    """The engine's side of the plugin protocol: the address the CLI passes, and a log sink."""

    def __init__(self):
        self.logs: list[str] = []

    def Log(self, request, context):  # noqa: N802 (gRPC method name)
        self.logs.append(f"{request.severity}: {request.message}")
        return empty_pb2.Empty()

    def GetRootResource(self, request, context):  # noqa: N802
        return empty_pb2.Empty()


@pytest.fixture(scope="module")
def engine() -> Iterator[tuple[str, RecordingEngine]]:
    servicer = RecordingEngine()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    engine_pb2_grpc.add_EngineServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield f"127.0.0.1:{port}", servicer
    server.stop(0)


# How the CLI starts a Python pack (pulumi-analyzer-policy-python: `python -u -m pulumi.policy <engine> .`
# with the pack directory as cwd), and the pack's script run directly.
LAUNCHERS = {"cli-shim": ["-u", "-m", "pulumi.policy"], "script": ["-u", "__main__.py"]}


@pytest.fixture(scope="module", params=sorted(LAUNCHERS))
def pack(request, engine) -> Iterator[analyzer_pb2_grpc.AnalyzerStub]:
    address, _ = engine
    env = {**os.environ, "PULUMI_PROJECT": "secure-serverless", "PULUMI_STACK": "dev", "PULUMI_DRY_RUN": "true",
           "PULUMI_CONFIG": "{}"}
    process = subprocess.Popen(  # noqa: S603 (our own interpreter and pack)
        [sys.executable, *LAUNCHERS[request.param], address, "."],
        cwd=PACK_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        port = process.stdout.readline().strip()
        assert port.isdigit(), f"the pack printed {port!r}; stderr: {process.stderr.read() if process.poll() else ''}"
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        grpc.channel_ready_future(channel).result(timeout=30)
        yield analyzer_pb2_grpc.AnalyzerStub(channel)
        channel.close()
    finally:
        process.terminate()
        process.wait(timeout=10)


def struct(value: dict) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update(wire(value))
    return message


def start(stub: analyzer_pb2_grpc.AnalyzerStub, config: dict[str, RuleConfig]) -> analyzer_pb2.AnalyzerInfo:
    """What the CLI does before analyzing: handshake, stack, info, then the reconciled config."""
    try:
        stub.Handshake(analyzer_pb2.AnalyzerHandshakeRequest(engine_address="127.0.0.1:0", root_directory=str(PACK_DIR),
                                                             program_directory=str(PACK_DIR)))
    except grpc.RpcError as error:  # the CLI falls back to the older protocol when a pack has no Handshake
        assert error.code() == grpc.StatusCode.UNIMPLEMENTED
    stub.ConfigureStack(analyzer_pb2.AnalyzerStackConfigureRequest(stack="dev", project="secure-serverless", dry_run=True))
    info = stub.GetAnalyzerInfo(empty_pb2.Empty())
    levels = {"advisory": analyzer_pb2.ADVISORY, "mandatory": analyzer_pb2.MANDATORY,
              "disabled": analyzer_pb2.DISABLED, "remediate": analyzer_pb2.REMEDIATE}
    stub.Configure(analyzer_pb2.ConfigureAnalyzerRequest(policyConfig={
        name: analyzer_pb2.PolicyConfig(enforcementLevel=levels[c.enforcement], properties=struct(c.properties))
        for name, c in config.items()
    }))
    return info


class Diagnostic(NamedTuple):
    policy: str
    urn: str
    level: str
    message: str

    @property
    def unknown(self) -> bool:
        return UNKNOWN_REPORT in self.message


def analyze_resource(stub: analyzer_pb2_grpc.AnalyzerStub, r: Resource) -> list[Diagnostic]:
    options = analyzer_pb2.AnalyzerResourceOptions(parent=r.parent or "")
    response = stub.Analyze(analyzer_pb2.AnalyzeRequest(type=r.type, properties=struct(r.props), urn=r.urn,
                                                        name=r.name, options=options))
    # The CLI ties a resource policy's diagnostic to the resource it analyzed.
    return [Diagnostic(d.policyName, d.urn or r.urn, LEVELS[d.enforcementLevel], d.message) for d in response.diagnostics]


def analyze_stack(stub: analyzer_pb2_grpc.AnalyzerStub, graph: Graph) -> list[Diagnostic]:
    response = stub.AnalyzeStack(analyzer_pb2.AnalyzeStackRequest(resources=[
        analyzer_pb2.AnalyzerResource(
            type=r.type, properties=struct(r.props), urn=r.urn, name=r.name,
            options=analyzer_pb2.AnalyzerResourceOptions(parent=r.parent or ""), parent=r.parent or "",
            dependencies=list(r.dependencies),
            propertyDependencies={k: analyzer_pb2.AnalyzerPropertyDependencies(urns=list(v))
                                  for k, v in r.property_dependencies.items() if v},
        )
        for r in graph.resources
    ]))
    return [Diagnostic(d.policyName, d.urn, LEVELS[d.enforcementLevel], d.message) for d in response.diagnostics]


def verdicts(diagnostics: Iterable[Diagnostic]) -> tuple[set, set]:
    """({(policy, urn, level)} of violations, {(policy, urn)} of "can't run during preview" reports)."""
    diagnostics = list(diagnostics)
    return ({(d.policy, d.urn, d.level) for d in diagnostics if not d.unknown},
            {(d.policy, d.urn) for d in diagnostics if d.unknown})


def analyze(stub: analyzer_pb2_grpc.AnalyzerStub, graph: Graph) -> tuple[set, set]:
    """Analyze per resource, then AnalyzeStack, as the engine does in a preview."""
    return verdicts([*(d for r in graph.resources for d in analyze_resource(stub, r)), *analyze_stack(stub, graph)])


def offline(graph: Graph, config: dict[str, RuleConfig]) -> tuple[set, set]:
    report = evaluate(graph, RULES, config)
    by_rule = {r.id: r for r in RULES}
    violations = {(f.rule, f.urn, f.enforcement) for f in report.findings if f.verified}
    # A stack policy's unknowns come back as one report for the whole stack (no URN).
    unknown = {(f.rule, "" if by_rule[f.rule].needs_graph else f.urn) for f in report.unverifiable}
    # The pack defers a blocking resource rule's unknown to its re-check, which cannot decide it either.
    if any(not by_rule[f.rule].needs_graph and f.enforcement == "mandatory" for f in report.unverifiable):
        unknown.add((RECHECK, ""))
    return violations, unknown


def test_analyzer_info_lists_every_rule(pack):
    info = start(pack, reconcile(RULES, app_config()))
    assert info.name == "secure-serverless" and info.supportsConfig
    policies = {p.name: p for p in info.policies}
    assert list(policies) == [*(r.id for r in RULES), RECHECK]
    recheck = policies[RECHECK]
    assert recheck.policy_type == analyzer_pb2.POLICY_TYPE_STACK and LEVELS[recheck.enforcementLevel] == "mandatory"
    assert recheck.description and recheck.remediation_steps
    for rule in RULES:
        policy = policies[rule.id]
        assert LEVELS[policy.enforcementLevel] == rule.enforcement
        assert policy.description == rule.description and policy.remediation_steps == rule.remediation
        kind = analyzer_pb2.POLICY_TYPE_STACK if rule.needs_graph else analyzer_pb2.POLICY_TYPE_RESOURCE
        assert policy.policy_type == kind
        assert set(policy.configSchema.properties.keys()) == set(rule.config_schema)


def broken(reference: Graph) -> Graph:
    graph = with_props(reference, "api-get-orders", authorization="NONE", authorizerId=None)
    graph = with_props(graph, "worker-policy", policy=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["sqs:*", "iam:PassRole"], "Resource": "*"}]}))
    graph = with_props(graph, "api-get-health-permission", principal="*")
    graph = with_props(graph, "stream", encryptionType="NONE")
    graph = with_props(graph, "uploads-pab", blockPublicPolicy=False)
    return with_props(graph, "health-policy", policy=UNKNOWN)


@pytest.mark.parametrize("config", [None, {"all": "mandatory"}], ids=["defaults", "all-mandatory"])
def test_same_verdicts_as_the_offline_checker(pack, engine, reference, config):
    graph = broken(reference)
    reconciled = reconcile(RULES, app_config(config))
    start(pack, reconciled)
    violations, unknown = analyze(pack, graph)
    assert (violations, unknown) == offline(graph, reconciled)
    rules = {v[0] for v in violations}
    assert rules == {"apigateway-method-requires-authorizer", "iam-no-wildcard-actions", "iam-no-wildcard-resources",
                     "iam-no-privilege-escalation", "lambda-permission-scoped", "kinesis-stream-encrypted",
                     "s3-bucket-public-access-blocked"}
    assert {u[0] for u in unknown} >= {"iam-no-wildcard-actions", "iam-no-privilege-escalation"}
    assert not [log for log in engine[1].logs if log.startswith("3:")]  # no error logged through the engine


def test_an_unknown_at_preview_is_decided_once_known(pack, reference):
    start(pack, reconcile(RULES, app_config()))
    wide = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]})
    preview, _ = analyze(pack, with_props(reference, "health-policy", policy=UNKNOWN))
    update, _ = analyze(pack, with_props(reference, "health-policy", policy=wide))
    assert not [v for v in preview if v[2] == "mandatory"]
    assert {v[0] for v in update if v[2] == "mandatory"} == {"iam-no-wildcard-actions", "iam-no-wildcard-resources"}


# resource-rules-recheck: a (rule, URN) a mandatory resource rule could not judge at Analyze is judged again in
# AnalyzeStack, in the same analyzer process, on the stack's final state.
SCOPING = {"iam-no-wildcard-actions", "iam-no-wildcard-resources"}  # the resource rules that read a RolePolicy
WIDE = document(allow("s3:*", "*"))


def begin(stub: analyzer_pb2_grpc.AnalyzerStub, config: dict | None = None) -> None:
    start(stub, reconcile(RULES, app_config(config)))
    analyze_stack(stub, Graph([]))  # the pack process is shared: end any run an earlier test left open


def preview_analyze(stub: analyzer_pb2_grpc.AnalyzerStub, graph: Graph) -> list[Diagnostic]:
    return [d for r in graph.resources for d in analyze_resource(stub, r)]


def rechecked(diagnostics: Iterable[Diagnostic]) -> set[tuple[str, str, str]]:
    """{(original rule, urn, level)} of the re-check's violations (the SDK puts the description first)."""
    return {(d.message.splitlines()[-1].split(": ", 1)[0], d.urn, d.level)
            for d in diagnostics if d.policy == RECHECK and not d.unknown}


@pytest.mark.parametrize(("config", "expected"), [
    (None, SCOPING),
    ({"iam-no-wildcard-actions": "advisory"}, {"iam-no-wildcard-resources"}),  # advice must not become a block
    ({"all": "advisory"}, set()),
], ids=["defaults", "one-advisory", "all-advisory"])
def test_recheck_reports_a_deferred_violation_under_its_rule(pack, reference, config, expected):
    begin(pack, config)
    subject = named(reference, "health-policy").urn
    at_analyze = preview_analyze(pack, with_props(reference, "health-policy", policy=UNKNOWN))
    assert verdicts(at_analyze) == (set(), {(rule, subject) for rule in SCOPING})
    at_stack = analyze_stack(pack, with_props(reference, "health-policy", policy=WIDE))
    assert rechecked(at_stack) == {(rule, subject, "mandatory") for rule in expected}
    assert not [d for d in at_stack if d.policy in SCOPING]  # resource policies never run at AnalyzeStack


def test_recheck_passes_a_deferred_resource_that_ends_compliant(pack, reference):
    begin(pack)
    at_analyze = preview_analyze(pack, with_props(reference, "health-policy", policy=UNKNOWN))
    assert {d.policy for d in at_analyze if d.unknown} == SCOPING
    assert verdicts(analyze_stack(pack, reference)) == (set(), set())


def test_a_deferral_settled_by_a_later_analyze_is_reported_once(pack, reference):
    """The `up` path: Analyze re-sent with resolved inputs decides it, so the re-check must not report it again."""
    begin(pack)
    final = with_props(reference, "health-policy", policy=WIDE)
    subject = named(final, "health-policy")
    preview_analyze(pack, with_props(reference, "health-policy", policy=UNKNOWN))
    at_update = analyze_resource(pack, subject)
    found = [*at_update, *analyze_stack(pack, final)]
    about_subject = [d for d in found if d.urn == subject.urn]
    assert sorted((d.policy, d.level) for d in about_subject) == [(rule, "mandatory") for rule in sorted(SCOPING)]


def test_a_deferral_still_unknown_at_analyze_stack_is_reported_not_passed(pack, reference):
    begin(pack)
    preview = with_props(reference, "health-policy", policy=UNKNOWN)
    subject = named(preview, "health-policy").urn
    preview_analyze(pack, preview)
    [report] = [d for d in analyze_stack(pack, preview) if d.policy == RECHECK]
    assert report.unknown and report.level == "advisory" and report.urn == ""
    assert subject in report.message and all(rule in report.message for rule in SCOPING)
    assert not [d for d in analyze_stack(pack, preview) if d.policy == RECHECK]  # that run is over


def test_recheck_does_not_repeat_what_analyze_already_reported(pack, reference):
    """A document with a known wildcard and an unknown action: Analyze reports the first, the re-check only the
    second."""
    begin(pack)
    target = "arn:aws:sqs:us-east-1:123456789012:orders-q"
    partly = document(allow("s3:*", "arn:aws:s3:::uploads-bucket"), allow(UNKNOWN, target))
    subject = named(reference, "health-policy").urn
    at_analyze = preview_analyze(pack, with_props(reference, "health-policy", policy=partly))
    [known] = [d.message for d in at_analyze if d.policy == "iam-no-wildcard-actions" and not d.unknown]
    at_stack = analyze_stack(pack, with_props(reference, "health-policy", policy=document(
        allow("s3:*", "arn:aws:s3:::uploads-bucket"), allow("sqs:*", target))))
    assert rechecked(at_stack) == {("iam-no-wildcard-actions", subject, "mandatory")}
    [again] = [d.message for d in at_stack if d.policy == RECHECK]
    assert "sqs:*" in again and "s3:*" in known and "s3:*" not in again


def test_same_verdicts_on_our_dev_stack(pack):
    graph = from_program_run(run_stack("dev"))
    method = next(r for r in graph.resources if r.props.get("authorization") == "COGNITO_USER_POOLS")
    graph = with_props(graph, method.name, authorization="NONE", authorizerId=None)
    for config in (load(RULES, stack_config_path("dev")), reconcile(RULES, app_config())):
        start(pack, config)
        verdicts = analyze(pack, graph)
        assert verdicts == offline(graph, config)
        assert ("apigateway-method-requires-authorizer", method.urn, "mandatory") in verdicts[0]


def test_the_pack_needs_only_its_own_requirements():
    """The pack's venv has policies/requirements.txt only: the rules must not reach for the dev tools. Every top-level
    module the pack imports is one of those requirements (or their dependencies)."""
    probe = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in {'offline', 'policies', 'hypothesis', 'pytest', 'boto3', 'moto'}:\n"
        "            raise ImportError(name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "sys.path.insert(0, '.')\n"
        "import guard, guard.pack\n"  # what __main__.py imports; serve() would block
        "print(len(guard.pack.pack_policies()))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], cwd=PACK_DIR, capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) == len(RULES) + 1  # and resource-rules-recheck


# --- what the CLI sends that the tests above do not ----------------------------------------------------------


def test_plugin_info_and_the_pack_version_of_pulumi_policy_yaml(pack):
    import yaml
    from pulumi_policy.version import VERSION

    declared = str(yaml.safe_load((PACK_DIR / "PulumiPolicy.yaml").read_text())["version"])
    assert pack.GetPluginInfo(empty_pb2.Empty()).version == VERSION  # the SDK's own version, as the CLI expects
    info = start(pack, reconcile(RULES, app_config()))
    assert info.version == declared != "0.0.1"
    begin(pack)
    [diagnostic] = [d for d in pack.Analyze(analyzer_pb2.AnalyzeRequest(
        type="aws:kinesis/stream:Stream", properties=struct({"encryptionType": "NONE"}),
        urn="urn:pulumi:dev::p::aws:kinesis/stream:Stream::s", name="s")).diagnostics]
    assert diagnostic.policyPackVersion == declared


def test_configure_stack_with_organization_tags_and_config(pack, reference):
    """`pulumi preview` against Pulumi Cloud sends the organization, stack tags and the stack's config."""
    pack.ConfigureStack(analyzer_pb2.AnalyzerStackConfigureRequest(
        stack="prod", project="secure-serverless", organization="acme", dry_run=False,
        tags={"pulumi:project": "secure-serverless", "team": "payments"},
        config={"aws:region": "eu-west-1", "secure-serverless:lambdaTracing": "true"},
        config_secret_keys=["secure-serverless:alarmEmail"]))
    start(pack, reconcile(RULES, app_config()))
    assert analyze(pack, reference) == (set(), set())
    broken_graph = with_props(reference, "api-get-orders", authorization="NONE", authorizerId=None)
    violations, _ = analyze(pack, broken_graph)
    assert {v[0] for v in violations} == {"apigateway-method-requires-authorizer"}


def test_remediate_before_every_analyze_changes_nothing(pack, reference):
    """The engine calls Remediate, then Analyze, for each resource: the pack has no remediation, and a deferral made
    at Analyze still reaches the re-check."""
    begin(pack)
    preview = with_props(reference, "health-policy", policy=UNKNOWN)
    diagnostics = []
    for r in preview.resources:
        request = analyzer_pb2.AnalyzeRequest(type=r.type, properties=struct(r.props), urn=r.urn, name=r.name,
                                              options=analyzer_pb2.AnalyzerResourceOptions(parent=r.parent or ""))
        remediated = pack.Remediate(request)
        assert list(remediated.remediations) == []
        diagnostics += analyze_resource(pack, r)
    assert {d.policy for d in diagnostics if d.unknown} == SCOPING
    at_stack = analyze_stack(pack, with_props(reference, "health-policy", policy=WIDE))
    assert {rule for rule, *_ in rechecked(at_stack)} == SCOPING


def test_a_policy_configured_remediate_reports_mandatory(pack, reference):
    """The pack has no remediation: a rule configured `remediate` blocks as mandatory (resource and stack rules)."""
    config = reconcile(RULES, app_config({"kinesis-stream-encrypted": "remediate", "sqs-queue-has-dlq": "remediate"}))
    start(pack, config)
    analyze_stack(pack, Graph([]))
    graph = with_props(with_props(reference, "stream", encryptionType="NONE"), "orders-queue", redrivePolicy=None)
    violations, _ = analyze(pack, graph)
    levels = {(rule, level) for rule, _, level in violations}
    assert levels == {("kinesis-stream-encrypted", "mandatory"), ("sqs-queue-has-dlq", "mandatory")}
    assert (violations, set()) == (offline(graph, config)[0], set())


def test_cancel_leaves_the_pack_serving(pack, reference):
    """The CLI sends Cancel on Ctrl-C; the SDK does not implement it (the CLI accepts UNIMPLEMENTED). The pack must
    keep answering, and a later run starts clean."""
    try:
        pack.Cancel(empty_pb2.Empty())
    except grpc.RpcError as error:
        assert error.code() == grpc.StatusCode.UNIMPLEMENTED
    begin(pack)
    assert analyze(pack, reference) == (set(), set())


# --- AnalyzeStack builds the graph once per call ----------------------------------------------------------------


class InProcess:
    """The SDK's servicer called directly, as the gRPC server would."""

    def __init__(self, servicer):
        self.servicer = servicer

    def AnalyzeStack(self, request):  # noqa: N802
        return self.servicer.AnalyzeStack(request, None)


def test_analyze_stack_builds_one_graph_per_call(monkeypatch, reference):
    from pulumi_policy import EnforcementLevel
    from pulumi_policy.policy import _PolicyAnalyzerServicer

    from policies.guard import crossguard
    from policies.guard.pack import pack_policies

    built = []
    real = crossguard.from_stack_resources
    monkeypatch.setattr(crossguard, "from_stack_resources", lambda resources: built.append(1) or real(resources))
    monkeypatch.setattr(_PolicyAnalyzerServicer, "AnalyzeStack", _PolicyAnalyzerServicer.AnalyzeStack)
    graph = with_props(reference, "uploads-pab", blockPublicPolicy=False)

    def run() -> tuple[int, set]:
        built.clear()
        servicer = _PolicyAnalyzerServicer("secure-serverless", "0.1.0", pack_policies(app_config()),
                                           EnforcementLevel.ADVISORY)
        found = verdicts(analyze_stack(InProcess(servicer), graph))
        return len(built), found

    per_policy, before = run()
    crossguard.scope_stack_analysis(_PolicyAnalyzerServicer)
    once, after = run()
    stack_policies = sum(1 for r in RULES if r.needs_graph)  # the re-check has nothing deferred: it builds none
    assert (per_policy, once) == (stack_policies, 1)
    assert before == after and ("s3-bucket-public-access-blocked", named(graph, "uploads").urn, "advisory") in after[0]

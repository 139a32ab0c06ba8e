"""The checker on every state layout and preview shape: a verdict for what it understands, exit 2 with one line for
what it does not, never a traceback and never a silent PASS on a file it did not read."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from offline.runtime import REPO_ROOT
from policies.check import main
from tests.hypothesis_budget import examples
from tests.policies import state_fixtures as fx
from tests.policies.policy_builders import reference_graph, with_props

CONFIG = REPO_ROOT / "policies" / "config" / "dev.json"  # the reference app's public routes
REFERENCE = reference_graph()
OPEN = fx.open_route(REFERENCE)
WIDE = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]})


def checker(tmp_path: Path, *files: tuple[str, object], json_out: bool = True) -> tuple[int, dict | str, str]:
    """Run the checker on documents written to files: (exit code, parsed --json report or stdout, stderr)."""
    argv = ["--config", str(CONFIG)] + (["--json"] if json_out else [])
    for index, (flag, document) in enumerate(files):
        path = tmp_path / f"input{index}.json"
        path.write_text(document if isinstance(document, str) else json.dumps(document))
        argv += [flag, str(path)]
    out, err = io.StringIO(), io.StringIO()
    import contextlib

    with contextlib.redirect_stderr(err):
        code = main(argv, out)
    text = out.getvalue()
    return code, (json.loads(text)["reports"][0] if json_out and code in (0, 1) else text), err.getvalue()


def verdict(report: dict) -> tuple[str, set[tuple[str, str]], int]:
    mandatory = {(f["rule"], f["urn"].rsplit("::", 1)[1]) for f in report["findings"]
                 if f["verified"] and f["enforcement"] == "mandatory"}
    return ("PASS" if report["passed"] else "FAIL"), mandatory, report["counts"]["unverifiable"]


ROUTE_FAILS = ("FAIL", {("apigateway-method-requires-authorizer", fx.OPEN_ROUTE)}, 0)
PASSES = ("PASS", set(), 0)

STATES = {
    "export-v3-pass": (fx.export_v3(REFERENCE), PASSES),
    "export-v3-open-route": (fx.export_v3(OPEN), ROUTE_FAILS),
    "export-v1-2017": (fx.export_v1(OPEN), ROUTE_FAILS),
    "checkpoint-v3": (fx.checkpoint_v3(OPEN), ROUTE_FAILS),
    "checkpoint-v4-features": (fx.checkpoint_v4(OPEN), ROUTE_FAILS),
    "checkpoint-v0-latest": (fx.checkpoint_v0(OPEN), ROUTE_FAILS),
    "null-property-dependencies": (fx.null_property_dependencies(OPEN), ROUTE_FAILS),
    # An unreadable secret is unknown: reported as unverifiable (iam rules + escalation), never passed as absent.
    "secret-ciphertext": (fx.with_secret(REFERENCE, "worker-policy", ciphertext=True), ("PASS", set(), 3)),
    "secret-plaintext": (fx.with_secret(with_props(REFERENCE, "worker-policy", policy=WIDE), "worker-policy",
                                        ciphertext=False),
                         ("FAIL", {("iam-no-wildcard-actions", "worker-policy"),
                                   ("iam-no-wildcard-resources", "worker-policy")}, 0)),
    # The open method is pending deletion (replaced): not live, so the state passes.
    "pending-delete": (fx.pending_delete(REFERENCE), PASSES),
    "numbers-as-strings-ok": (fx.numbers_as_strings(REFERENCE, "360", "60"), PASSES),
}


@pytest.mark.parametrize("name", sorted(STATES))
def test_state_layouts(tmp_path, name):
    document, expected = STATES[name]
    code, report, err = checker(tmp_path, ("--stack-export", document))
    assert (code, err) == (0 if expected[0] == "PASS" else 1, "")
    assert report["resources"] > 50
    assert verdict(report) == expected


def test_numbers_as_strings_compare_as_numbers(tmp_path):
    """"30" < 6 * "180" is string repetition in Python: compared as numbers, 30 s < 6 x 180 s is a violation."""
    code, report, _ = checker(tmp_path, ("--stack-export", fx.numbers_as_strings(REFERENCE, "30", "180")))
    assert code == 0
    (finding,) = [f for f in report["findings"] if f["rule"] == "sqs-visibility-timeout-covers-function"]
    assert "30s < 6 x worker-function timeout 180s" in finding["message"]


def test_null_property_dependencies_keep_links(tmp_path):
    """The other property dependencies are still read: the route is resolved through them, not through ids."""
    document = fx.null_property_dependencies(OPEN)
    for r in document["deployment"]["resources"]:
        r.get("outputs", {}).pop("rootResourceId", None)
        r.get("inputs", {}).pop("rootResourceId", None)
    code, report, _ = checker(tmp_path, ("--stack-export", document))
    assert verdict(report) == ROUTE_FAILS and code == 1


def everyone(urn: str) -> bool:
    return True


def only_method(urn: str) -> bool:
    return urn.endswith(f"::{fx.OPEN_ROUTE}")


def test_full_preview_with_sames(tmp_path):
    code, report, _ = checker(tmp_path, ("--preview-json", fx.preview(OPEN, show_sames=True, changed=only_method)))
    assert (code, verdict(report)) == (1, ROUTE_FAILS)


def test_partial_preview_is_refused_with_the_fix(tmp_path):
    """Without --show-sames the unchanged parents of a changed method are missing: no half verdict."""
    partial = fx.preview(REFERENCE, show_sames=False, changed=lambda urn: urn.endswith("::api-get-health"))
    code, out, err = checker(tmp_path, ("--preview-json", partial))
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "partial preview" in err and "--show-sames" in err and "--stack-export" in err


def test_partial_preview_merged_with_the_state(tmp_path):
    """A public route whose Resource did not change still resolves (from the state) and passes."""
    partial = fx.preview(REFERENCE, show_sames=False, changed=lambda urn: urn.endswith("::api-get-health"))
    code, report, _ = checker(tmp_path, ("--preview-json", partial), ("--stack-export", fx.export_v3(REFERENCE)))
    assert (code, verdict(report)) == (0, PASSES)
    # and the state does not hide what the preview changes
    opening = fx.preview(OPEN, show_sames=False, changed=only_method)
    code, report, _ = checker(tmp_path, ("--preview-json", opening), ("--stack-export", fx.export_v3(REFERENCE)))
    assert (code, verdict(report)) == (1, ROUTE_FAILS)


def test_masked_secret_in_preview_is_unknown(tmp_path):
    document = fx.preview(REFERENCE, show_sames=True, changed=everyone, masked="worker-policy")
    code, report, err = checker(tmp_path, ("--preview-json", document))
    assert code == 0 and err == ""
    unverifiable = {(f["rule"], f["urn"].rsplit("::", 1)[1]) for f in report["findings"] if not f["verified"]}
    assert ("iam-no-wildcard-actions", "worker-policy") in unverifiable


@pytest.mark.parametrize("preview_only", [True, False], ids=["preview", "update"])
def test_event_log(tmp_path, preview_only):
    code, report, _ = checker(tmp_path, ("--event-log", fx.event_log(OPEN, preview_only=preview_only)))
    # Events carry no property dependencies: the route is resolved from ids, as in an old state.
    assert (code, verdict(report)) == (1, ROUTE_FAILS)
    code, report, _ = checker(tmp_path, ("--event-log", fx.event_log(REFERENCE)))
    assert (code, verdict(report)) == (0, PASSES)


REFUSED = {
    "not-an-object": ("--stack-export", [1, 2], "expected a JSON object"),
    "unknown-shape": ("--stack-export", {"stack": "dev", "resources_": []}, "unknown state layout"),
    "unsupported-version": ("--stack-export", {"version": 9, "deployment": {"resources": []}}, "version 9"),
    "zero-resources": ("--stack-export", {"version": 3, "deployment": {"manifest": {}, "resources": []}},
                       "no live resource"),
    "only-stack-and-provider": ("--stack-export", {"version": 3, "deployment": {"resources": fx._resources(
        REFERENCE)[:2]}}, "no live resource"),
    "never-updated-checkpoint": ("--stack-export", {"version": 3, "checkpoint": {"stack": "x", "latest": None}},
                                 "never updated"),
    "preview-as-state": ("--stack-export", fx.preview(REFERENCE, show_sames=True, changed=everyone), "--preview-json"),
    "state-as-preview": ("--preview-json", fx.export_v3(REFERENCE), "--stack-export"),
    "not-json": ("--stack-export", "{\"version\": 3,", "is not JSON"),
    "resource-without-urn": ("--stack-export", {"version": 3, "deployment": {"resources": [{"type": "x"}]}},
                             "no resource urn"),
    "event-log-garbage": ("--event-log", "not an event\n", "not JSON"),
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_refused_with_one_line_and_exit_2(tmp_path, name):
    flag, document, reason = REFUSED[name]
    code, out, err = checker(tmp_path, (flag, document))
    assert code == 2 and out == ""
    assert err.startswith("error: ") and err.count("\n") == 1 and reason in err, err
    assert "internal error" not in err and "Traceback" not in err


# --- any JSON: a verdict or exit 2 -----------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8)
    | st.sampled_from(["[secret]", "04da6b54-80e4-46f7-96ec-b56ff0331ba9", "*", "NONE", "GET", "30", "true"]),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(
        st.sampled_from(["urn", "type", "inputs", "outputs", "policy", "timeout", "authorization", "httpMethod",
                         "resourceId", "parentId", "pathPart", "delete", "propertyDependencies", "id", "body",
                         "routeKey", "runtime", "origins", "Statement", "x"]) | st.text(max_size=5),
        children, max_size=5),
    max_leaves=25,
)
TYPES = ["aws:apigateway/method:Method", "aws:apigateway/resource:Resource", "aws:apigateway/restApi:RestApi",
         "aws:iam/rolePolicy:RolePolicy", "aws:iam/role:Role", "aws:sqs/queue:Queue", "aws:lambda/function:Function",
         "aws:cloudfront/distribution:Distribution", "aws:lambda/functionUrl:FunctionUrl",
         "aws:apigateway/methodSettings:MethodSettings", "aws:sns/topicPolicy:TopicPolicy", "pulumi:pulumi:Stack"]
resources = st.fixed_dictionaries(
    {"urn": st.sampled_from([f"urn:pulumi:t::p::{t}::r{i}" for t in TYPES[:4] for i in range(3)]) | st.text(max_size=5),
     "type": st.sampled_from(TYPES) | st.text(max_size=4)},
    optional={"inputs": json_values, "outputs": json_values, "delete": st.booleans() | json_values,
              "propertyDependencies": st.dictionaries(st.text(max_size=4), st.none() | st.lists(st.text(max_size=40))),
              "id": json_values, "parent": json_values, "dependencies": json_values, "defaults": json_values},
)
documents = st.one_of(
    json_values,
    st.fixed_dictionaries({"version": st.integers(0, 5) | json_values,
                           "deployment": st.fixed_dictionaries({"resources": st.lists(resources, max_size=6)})}),
    st.fixed_dictionaries({"checkpoint": st.fixed_dictionaries({"latest": st.none() | st.fixed_dictionaries(
        {"resources": st.lists(resources, max_size=6) | json_values})})}),
    st.fixed_dictionaries({"steps": st.lists(st.fixed_dictionaries({"op": st.sampled_from(["create", "same", "delete"])
                                                                     | json_values, "newState": resources | json_values}),
                                             max_size=6) | json_values,
                           "changeSummary": st.dictionaries(st.sampled_from(["same", "create"]), json_values)}),
)


@settings(max_examples=examples(150), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(document=documents, flag=st.sampled_from(["--stack-export", "--preview-json", "--event-log"]))
def test_any_json_gets_a_verdict_or_exit_2(tmp_path, document, flag):
    text = json.dumps(document) if flag != "--event-log" else "\n".join(
        json.dumps(e) for e in (document if isinstance(document, list) else [document]))
    code, out, err = checker(tmp_path, (flag, text), json_out=False)
    assert code in (0, 1, 2)
    assert "internal error" not in err and "Traceback" not in err, err  # the catch-all is not what answers
    if code == 2:
        assert out == "" and err.startswith("error: ") and err.count("\n") == 1
    else:
        assert "verdict" in out and err == ""


@pytest.mark.parametrize("flag", ["--stack-export", "--preview-json", "--event-log"])
def test_binary_and_deeply_nested_files_are_refused(tmp_path, flag, capsys):
    binary, deep = tmp_path / "binary", tmp_path / "deep"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe")
    deep.write_text("[" * 100_000 + "]" * 100_000)
    for path in (binary, deep):
        assert main([flag, str(path)], io.StringIO()) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and "internal error" not in err, err


def test_a_value_no_provider_writes_is_unverifiable_not_a_crash(tmp_path):
    """A hand-edited state with a list where a number belongs: that rule cannot judge that resource, says so, and
    every other rule still runs."""
    document = fx.export_v3(OPEN)
    for r in document["deployment"]["resources"]:
        if r["urn"].endswith("::orders-queue"):
            r["outputs"]["visibilityTimeoutSeconds"] = r["inputs"]["visibilityTimeoutSeconds"] = [60]
    code, report, err = checker(tmp_path, ("--stack-export", document))
    assert (code, err) == (1, "") and verdict(report)[:2] == ROUTE_FAILS[:2]
    (unreadable,) = [f for f in report["findings"] if not f["verified"]]
    assert unreadable["rule"] == "sqs-visibility-timeout-covers-function" and "unreadable value" in unreadable["message"]


BASE_EXPORT = fx.export_v3(OPEN)
PROP_NAMES = sorted({k for r in BASE_EXPORT["deployment"]["resources"] for k in r.get("inputs", {})})


@settings(max_examples=examples(80), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(index=st.integers(0, len(BASE_EXPORT["deployment"]["resources"]) - 1), prop=st.sampled_from(PROP_NAMES),
       value=json_values, side=st.sampled_from(["inputs", "outputs", "both"]))
def test_a_real_state_with_any_property_changed_gets_a_verdict(tmp_path, index, prop, value, side):
    """Every rule meets every kind of value in a real graph: a verdict or exit 2, never the internal-error fallback."""
    import copy

    document = copy.deepcopy(BASE_EXPORT)
    resource = document["deployment"]["resources"][index]
    for key in (["inputs", "outputs"] if side == "both" else [side]):
        resource.setdefault(key, {})[prop] = value
    code, report, err = checker(tmp_path, ("--stack-export", document))
    assert "internal error" not in err and "Traceback" not in err, err
    assert code in (0, 1, 2)
    if code != 2:  # a verdict on the whole state, never on a part of it
        assert report["resources"] == len(BASE_EXPORT["deployment"]["resources"])

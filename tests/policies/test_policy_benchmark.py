"""The offline checker on synthetic stacks of 1k and 10k resources: throughput, and growth that stays linear.

Measured with `make bench` (pytest-benchmark); `make test` runs each check once, unmeasured, and asserts no timing."""

from __future__ import annotations

import time

import pytest

from policies.guard import RULES
from policies.guard.config import reconcile
from policies.guard.engine import Report, evaluate
from policies.guard.model import Graph
from tests.policies.policy_builders import app_config, synthetic_graph, with_props

CONFIG = reconcile(RULES, app_config())


def check(graph: Graph) -> Report:
    # A fresh Graph each time, so that building the indexes is measured too.
    return evaluate(Graph(graph.resources), RULES, CONFIG)


def seconds(graph: Graph, repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        check(graph)
        best = min(best, time.perf_counter() - started)
    return best


@pytest.fixture(scope="module")
def graphs() -> dict[int, Graph]:
    return {size: synthetic_graph(size) for size in (1_000, 10_000)}


@pytest.mark.benchmark_run
@pytest.mark.parametrize("size", [1_000, 10_000])
def test_throughput(benchmark, graphs, size):
    graph = with_props(graphs[size], "u0-api-get-orders", authorization="NONE", authorizerId=None)
    report = benchmark.pedantic(check, args=(graph,), rounds=3, iterations=1)
    assert report.resources == size
    assert [(f.rule, f.urn.rsplit("::", 1)[1]) for f in report.findings] == [
        ("apigateway-method-requires-authorizer", "u0-api-get-orders")]
    if benchmark.disabled:  # `make test`: the run above, once and unmeasured, is the test
        return
    benchmark.extra_info["resources_per_second"] = round(size / seconds(graph, repeats=1))
    if size == 10_000:  # `make bench`: CPU time, which other load on the machine barely moves
        started = time.process_time()
        check(graph)
        rate = size / (time.process_time() - started)
        benchmark.extra_info["resources_per_cpu_second"] = round(rate)
        assert rate >= 20_000, f"{rate:,.0f} resources/s"


@pytest.mark.benchmark_run
def test_growth_is_linear(benchmark, graphs):
    """Measured by `make bench` only: a benchmark measures, and a ratio of timings would gate `make test` on the
    machine's load. `make test` runs the large check once, unmeasured, as it runs every benchmark."""
    small, large = graphs[1_000], graphs[10_000]
    if benchmark.disabled:
        assert benchmark.pedantic(check, args=(large,), rounds=1, iterations=1).resources == 10_000
        return
    check(small)  # policy_sentry's lookups are cached after the first run; both sizes are timed warm
    per_resource = {size: seconds(graph) / size for size, graph in ((1_000, small), (10_000, large))}
    benchmark.extra_info.update({f"us_per_resource_{size}": round(t * 1e6, 1) for size, t in per_resource.items()})
    benchmark.pedantic(check, args=(large,), rounds=1, iterations=1)
    assert per_resource[10_000] < 3 * per_resource[1_000], per_resource

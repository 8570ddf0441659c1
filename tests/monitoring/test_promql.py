from __future__ import annotations

import pytest

from gateway.metrics import GatewayMetrics
from hibachi.monitoring.canary import RATE_METRICS
from hibachi.monitoring.promql import NOT_EXPORTED, QUERIES, analysis_queries, referenced_series


def _exported() -> dict[str, set[str]]:
    """Sample names the gateway's registry exposes, with their label names."""
    exported: dict[str, set[str]] = {}
    for collector in GatewayMetrics().__dict__.values():
        names = getattr(collector, "_labelnames", None)
        if names is None:
            continue
        for family in collector.describe():
            for suffix in ("", "_total", "_count", "_sum"):
                exported[family.name + suffix] = set(names)
            exported[family.name + "_bucket"] = set(names) | {"le"}
    return exported


def test_every_query_uses_series_and_labels_the_gateway_exports():
    exported = _exported()
    for metric, query in analysis_queries("hibachi-llama-20261120", "24h").items():
        for name, labels in referenced_series(query).items():
            assert name in exported, f"{metric}: {name} is not exported by the gateway"
            assert labels <= exported[name], f"{metric}: {name} lacks labels {labels - exported[name]}"


def test_every_analysis_metric_is_a_query_or_listed_as_missing():
    analysed = set(RATE_METRICS) | {"latency_p50_ms", "latency_p95_ms"}
    assert analysed == set(QUERIES) | set(NOT_EXPORTED)


def test_query_inputs_are_validated():
    with pytest.raises(ValueError):
        analysis_queries('v1"} or vector(1)', "24h")

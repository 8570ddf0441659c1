"""The gateway benchmark's overhead rows: p50 / p99 added over the direct runs, and the conservative p99 row."""

from __future__ import annotations

from types import SimpleNamespace

from benchmarks.bench_gateway import _overhead_rows


def _runs(latencies: list[float]) -> list[SimpleNamespace]:
    return [SimpleNamespace(latencies_ms=latencies)]


def test_a_stall_in_the_direct_runs_cannot_hide_the_gateways_tail():
    direct = [20.0] * 98 + [60.0, 60.0]  # the direct runs stalled once: their p99 is 60 ms
    via = [22.0] * 98 + [55.0, 55.0]
    rows = _overhead_rows("1 worker", 400, _runs(direct), _runs(via), {50: 5.0, 99: 25.0})
    p50, p99, conservative = rows
    assert p50["value"] == 2.0 and p50["meets"] is True
    assert p99["value"] < 0 and p99["meets"] is True  # the p99 difference alone says the gateway is faster
    assert conservative["value"] == 35.0 and conservative["baseline"] == 20.0 and conservative["meets"] is None


def test_rates_without_a_p99_target_get_no_conservative_row():
    assert len(_overhead_rows("1 worker", 100, _runs([20.0] * 10), _runs([21.0] * 10), {50: 5.0})) == 2

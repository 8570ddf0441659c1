"""The benchmark table: one row per figure, and the machine's CPU calibration before and after the run."""

from __future__ import annotations

from datetime import UTC, datetime

from benchmarks.__main__ import cpu_calibration, discover, render


def test_calibration_is_a_best_and_a_median_in_cpu_ms():
    best, median = cpu_calibration(repeats=3)
    assert 0 < best <= median


def test_table_names_the_calibration_and_escapes_cells():
    rows = [{"benchmark": "export", "figure": "rows/s | SQLite", "value": 1234.5, "ratio": 0.9, "meets": True}]
    table = render(rows, "test CPU", datetime(2026, 12, 3, tzinfo=UTC), 12.0, ((50.2, 55.0), (61.0, 70.4)))
    assert "50 / 55 before the benchmarks, 61 / 70 after" in table
    assert "| export | rows/s \\| SQLite | 1,234 |  |  | 0.9 |  | True |" in table
    assert "CPU calibration" not in render(rows, "test CPU", datetime(2026, 12, 3, tzinfo=UTC), 12.0)


def test_every_benchmark_module_is_found_and_only_filters():
    assert {"bench_gateway", "bench_export", "bench_training", "bench_serving"} <= set(discover(None))
    assert discover({"gateway"}) == ["bench_gateway"]

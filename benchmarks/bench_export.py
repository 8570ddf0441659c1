"""Export throughput: ``export_signals`` rows/s against a raw DB-API cursor dump of the same rows, same run.

The baseline reads the same window with one hand-written SQL join (signals, their session's outcome,
their candidates) through the bare ``sqlite3`` cursor and writes each row as a JSON line: the floor
of what any exporter must pay. Target: the real export at least half the raw rate.

    python -m benchmarks.bench_export [--quick]
"""

from __future__ import annotations

import json
import sqlite3
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

RAW_SQL = """
SELECT s.id, s.request_id, s.session_id, s.prompt, s.conversation, s.topic, s.chosen_response, s.served_by,
       s.quality_score, s.critic_passed, s.trainable, s.created_at, cs.led_to_booking, cs.customer_rating,
       c.provider, c.model, c.response, c.critic_passed, c.quality_score, c.violations, c.chosen
FROM training_signals s
JOIN chat_sessions cs ON cs.id = s.session_id
LEFT JOIN candidates c ON c.signal_id = s.id
WHERE s.created_at >= ? AND s.created_at < ?
ORDER BY s.created_at, s.id, c.id
"""


def _raw_dump(db_path: Path, out: Path, since: datetime, until: datetime) -> int:
    conn = sqlite3.connect(db_path)
    signals = 0
    last = None
    fmt = "%Y-%m-%d %H:%M:%S.%f"
    with out.open("w", encoding="utf-8") as handle:
        cursor = conn.execute(RAW_SQL, (since.strftime(fmt), until.strftime(fmt)))
        for row in cursor:
            handle.write(json.dumps(row) + "\n")
            if row[0] != last:
                signals, last = signals + 1, row[0]
    conn.close()
    return signals


def _measure(fn, repeats: int) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeats):
        started = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - started)
    return best, result


def run(quick: bool = False) -> list[dict]:
    from components.export.export import export_signals
    from components.export.sample import seed_signals
    from hibachi.db import make_engine, session_factory, upgrade

    n = 2000 if quick else 10000
    repeats = 2 if quick else 3
    start = datetime(2026, 10, 1, tzinfo=UTC)
    since, until = start, start + timedelta(minutes=n + 1)
    with tempfile.TemporaryDirectory() as tmp:
        db_path = Path(tmp) / "bench.db"
        engine = make_engine(f"sqlite:///{db_path}")
        upgrade(engine)
        seed_signals(session_factory(engine), n, seed=5, start=start)
        export_s, result = _measure(lambda: export_signals(engine, Path(tmp) / "export.jsonl", since, until,
                                                           record=False), repeats)
        raw_s, raw_rows = _measure(lambda: _raw_dump(db_path, Path(tmp) / "raw.jsonl", since, until), repeats)
        engine.dispose()
    assert result.rows == raw_rows == n, (result.rows, raw_rows, n)
    export_rate, raw_rate = n / export_s, n / raw_s
    return [
        {"benchmark": "export", "figure": f"export_signals rows/s ({n} signals, 2 candidates each, SQLite)",
         "value": round(export_rate, 1), "unit": "rows/s", "baseline": round(raw_rate, 1),
         "ratio": round(export_rate / raw_rate, 3), "target": ">= 0.5x raw DB-API dump"},
    ]


def main() -> None:
    rows = run(quick="--quick" in sys.argv)
    for row in rows:
        print(f"{row['figure']}: {row['value']} {row['unit']} vs raw {row['baseline']} "
              f"-> {row['ratio']}x (target {row['target']})")


if __name__ == "__main__":
    main()

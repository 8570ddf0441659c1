"""Export: chat-messages JSONL, corrections and outcomes joined, constant query count, watermark, determinism."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, select

from components.export import export_signals
from components.export.sample import seed_signals
from hibachi.records import AdminCorrection, ExportRun, ModelVersion

pytestmark = pytest.mark.storage
START = datetime(2026, 10, 1, tzinfo=UTC)


def _lines(path):
    return [json.loads(line) for line in open(path, encoding="utf-8")]


def test_export_writes_conversations_with_outcomes_and_newest_correction(db, tmp_path):
    engine, factory = db
    seed_signals(factory, 12, seed=1)
    with factory() as session:
        session.add_all([
            AdminCorrection(signal_id="sig1-000003", corrected_response="old fix", author="a",
                            created_at=START + timedelta(hours=1)),
            AdminCorrection(signal_id="sig1-000003", corrected_response="newest fix", author="b",
                            created_at=START + timedelta(hours=2)),
        ])
        session.commit()
    result = export_signals(engine, tmp_path / "out.jsonl", until=START + timedelta(days=1))
    rows = _lines(result.path)
    assert result.rows == 12 == len(rows)
    first = rows[0]
    # The prompt contract's shape: the grounding the gateway sent the student, the question, the served answer.
    assert [m["role"] for m in first["messages"]] == ["system", "user", "assistant"]
    assert first["messages"][0]["content"].startswith("You are the My Hibachi assistant")
    assert first["metadata"]["signal_id"] == "sig1-000000"
    assert len(first["metadata"]["candidates"]) == 2
    assert first["metadata"]["led_to_booking"] in (True, False)
    assert rows[3]["metadata"]["correction"]["response"] == "newest fix"
    assert [r["metadata"]["created_at"] for r in rows] == sorted(r["metadata"]["created_at"] for r in rows)


def test_the_newest_correction_wins_ties_on_time_by_id_and_uncorrected_rows_have_none(db, tmp_path):
    engine, factory = db
    seed_signals(factory, 6, seed=4, all_good=True)  # all_good: no sample corrections
    same_time = START + timedelta(hours=3)
    with factory() as session:
        session.add_all([
            AdminCorrection(signal_id="sig4-000001", corrected_response="first", author="a", reason="r1",
                            created_at=START + timedelta(hours=1)),
            AdminCorrection(signal_id="sig4-000001", corrected_response="tie, lower id", author="b",
                            created_at=same_time),
            AdminCorrection(signal_id="sig4-000001", corrected_response="tie, higher id", author="c",
                            reason="r3", created_at=same_time),
            AdminCorrection(signal_id="sig4-000004", corrected_response="late but older", author="d",
                            created_at=START - timedelta(days=1)),
        ])
        session.commit()
    rows = _lines(export_signals(engine, tmp_path / "ties.jsonl", until=START + timedelta(days=1)).path)
    corrections = {r["metadata"]["signal_id"]: r["metadata"]["correction"] for r in rows}
    assert corrections["sig4-000001"] == {"response": "tie, higher id", "author": "c", "reason": "r3"}
    assert corrections["sig4-000004"] == {"response": "late but older", "author": "d", "reason": None}
    assert [signal for signal, c in corrections.items() if c is None] == ["sig4-000000", "sig4-000002",
                                                                           "sig4-000003", "sig4-000005"]


def test_export_uses_a_constant_number_of_queries(db, tmp_path):
    engine, factory = db
    counts = []
    for n, name in ((5, "a"), (60, "b")):
        seed_signals(factory, n, seed=len(counts) + 10, start=START + timedelta(days=10 * len(counts)))
        statements: list[str] = []
        listener = lambda *args, _seen=statements: _seen.append(args[2])  # noqa: E731
        event.listen(engine, "before_cursor_execute", listener)
        try:
            export_signals(engine, tmp_path / f"{name}.jsonl", since=START, until=START + timedelta(days=30),
                           record=False)
        finally:
            event.remove(engine, "before_cursor_execute", listener)
        counts.append(len([s for s in statements if s.lstrip().upper().startswith("SELECT")]))
    assert counts[0] == counts[1] <= 3


def test_watermark_makes_the_next_export_incremental_and_windows_are_byte_identical(db, tmp_path):
    engine, factory = db
    seed_signals(factory, 10, seed=2)
    first = export_signals(engine, tmp_path / "m1.jsonl", until=START + timedelta(minutes=5))
    assert first.rows == 5
    with factory() as session, session.begin():  # evaluation records the version trained on that export
        session.add(ModelVersion(id="v1", base_model="tiny", adapter_uri="a", dataset_sha256=first.dataset_sha256))
    seed_signals(factory, 3, seed=3, start=START + timedelta(days=2))
    second = export_signals(engine, tmp_path / "m2.jsonl", until=START + timedelta(days=3))
    assert second.rows == 5 + 3  # only what the first window did not cover
    again = export_signals(engine, tmp_path / "m1-again.jsonl", since=first.window_start or START,
                           until=first.window_end, record=False)
    assert (tmp_path / "m1.jsonl").read_bytes() == (tmp_path / "m1-again.jsonl").read_bytes()
    assert again.dataset_sha256 == first.dataset_sha256
    with factory() as session:
        runs = session.scalars(select(ExportRun).order_by(ExportRun.id)).all()
    assert [r.rows for r in runs] == [5, 8]
    assert runs[0].dataset_sha256 == first.dataset_sha256


def test_empty_window_exports_zero_rows_and_inverted_window_is_refused(db, tmp_path):
    engine, _ = db
    result = export_signals(engine, tmp_path / "empty.jsonl", since=START, until=START + timedelta(days=1))
    assert result.rows == 0 and (tmp_path / "empty.jsonl").read_bytes() == b""
    with pytest.raises(ValueError, match="window is empty"):
        export_signals(engine, tmp_path / "x.jsonl", since=START, until=START - timedelta(days=1))


def test_a_run_that_died_after_export_does_not_move_the_watermark(db, tmp_path):
    engine, factory = db
    seed_signals(factory, 6, seed=4)
    died = export_signals(engine, tmp_path / "died.jsonl", until=START + timedelta(days=1))
    assert died.rows == 6
    rerun = export_signals(engine, tmp_path / "rerun.jsonl", until=START + timedelta(days=1))
    assert rerun.rows == 6 and rerun.dataset_sha256 == died.dataset_sha256  # no version was trained on it

"""One malformed stored row is skipped, counted and named (its signal id); every other row is exported and
nothing stored is changed. Raw SQL writes what the ORM never would (what a hand edit or an old bug leaves)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from components.export import export_signals
from components.export.sample import seed_signals
from components.filter.filter import filter_dataset
from hibachi.settings import FilterSettings

pytestmark = pytest.mark.storage
START = datetime(2026, 10, 1, tzinfo=UTC)
UNTIL = START + timedelta(days=1)
BAD = "sig7-000002"

# (table, column, stored text, the reason's start); the rows PostgreSQL can hold run on both backends.
EVERYWHERE = [
    ("training_signals", "conversation", '{"a": 1}', "conversation is not a list of messages"),
    ("training_signals", "conversation", '[1, "x", null]', "conversation is not a list of messages"),
    ("training_signals", "conversation", "42", "conversation is not a list of messages"),
    ("candidates", "violations", '{"category": "price"}', "a candidate's violations are not a list"),
]
SQLITE_ONLY = [  # PostgreSQL refuses these values in a json or float column
    ("training_signals", "conversation", "not json{", "conversation is not JSON"),
    ("candidates", "violations", "[{oops", "a candidate's violations are not JSON"),
    ("training_signals", "quality_score", "abc", "quality_score is not a number"),
]


def _store(engine, table: str, column: str, value: str) -> None:
    key = "id" if table == "training_signals" else "signal_id"
    with engine.begin() as conn:
        conn.execute(text(f"UPDATE {table} SET {column} = :value WHERE {key} = :id"), {"value": value, "id": BAD})


def _dump(engine) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(map(str, row)) for table in ("training_signals", "candidates")
                for row in conn.execute(text(f"SELECT * FROM {table} ORDER BY 1"))]


@pytest.mark.parametrize(("table", "column", "value", "reason"), EVERYWHERE + SQLITE_ONLY)
def test_a_malformed_row_is_skipped_counted_and_named_and_the_rest_exported(db, tmp_path, table, column, value,
                                                                            reason):
    engine, factory = db
    if (table, column, value, reason) in SQLITE_ONLY and engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL cannot store this value")
    seed_signals(factory, 6, seed=7)
    _store(engine, table, column, value)
    stored = _dump(engine)

    result = export_signals(engine, tmp_path / "out.jsonl", until=UNTIL, pairs_path=tmp_path / "pairs.jsonl")
    ids = [json.loads(line)["metadata"]["signal_id"] for line in open(result.path, encoding="utf-8")]
    assert result.rows == 5 and BAD not in ids and len(ids) == 5
    assert result.skipped_rows == 1 and [s["signal_id"] for s in result.skipped] == [BAD]
    assert result.skipped[0]["reason"].startswith(reason)
    assert _dump(engine) == stored  # nothing stored is changed
    # what was exported goes through the filter
    filter_dataset(result.path, tmp_path / "train.jsonl", tmp_path / "holdout.jsonl", tmp_path / "summary.json",
                   FilterSettings())


def test_the_filter_drops_a_quality_score_that_is_not_a_number_as_low_quality(db, tmp_path):
    engine, factory = db
    seed_signals(factory, 4, seed=8, all_good=True)
    result = export_signals(engine, tmp_path / "out.jsonl", until=UNTIL, record=False)
    lines = [json.loads(line) for line in open(result.path, encoding="utf-8")]
    lines[0]["metadata"]["quality_score"] = "abc"  # a hand-edited (or older) JSONL
    (tmp_path / "edited.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    filter_dataset(tmp_path / "edited.jsonl", tmp_path / "train.jsonl", tmp_path / "holdout.jsonl",
                   tmp_path / "summary.json", FilterSettings(require_outcome=False), critic=None)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["dropped"]["low_quality"] >= 1 and summary["input_rows"] == 4

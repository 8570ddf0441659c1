"""Export records which signals each dataset hash holds; the same window exported again changes nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from components.export import export_signals
from components.export.sample import seed_signals
from hibachi.lineage import signal_ids_of_export, signal_lineage
from hibachi.records import ExportRun, ExportSignal

pytestmark = pytest.mark.storage
START = datetime(2026, 10, 1, tzinfo=UTC)


def test_export_records_its_signal_ids_once_per_hash(db, tmp_path):
    engine, factory = db
    seed_signals(factory, 15, seed=4)
    until = START + timedelta(days=1)
    first = export_signals(engine, tmp_path / "a.jsonl", since=START, until=until)
    again = export_signals(engine, tmp_path / "b.jsonl", since=START, until=until)
    assert first.dataset_sha256 == again.dataset_sha256
    written = [json.loads(line)["metadata"]["signal_id"] for line in open(first.path, encoding="utf-8")]
    with factory() as session:
        assert signal_ids_of_export(session, first.dataset_sha256) == sorted(written)
        assert session.scalar(select(func.count()).select_from(ExportSignal)) == 15
        assert session.scalar(select(func.count()).select_from(ExportRun)) == 2
        found = signal_lineage(session, written[0])
    assert [d["dataset_sha256"] for d in found["datasets"]] == [first.dataset_sha256]
    assert {e["path"] for e in found["datasets"][0]["exports"]} == {first.path, again.path}


def test_an_unrecorded_export_records_no_signal_ids(db, tmp_path):
    engine, factory = db
    seed_signals(factory, 5, seed=5)
    export_signals(engine, tmp_path / "a.jsonl", since=START, until=START + timedelta(days=1), record=False)
    with factory() as session:
        assert session.scalar(select(func.count()).select_from(ExportSignal)) == 0

"""Erasure mid-pipeline: after export, filter and a recorded version, one customer is erased from every table
and every file under the data directory, and the version trained on them is marked."""

from __future__ import annotations

import html
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "hibachi"))
from customer_rows import add_customer  # noqa: E402

from components.export import export_signals  # noqa: E402
from components.export.export import last_watermark  # noqa: E402
from components.filter.filter import filter_dataset  # noqa: E402
from hibachi.erasure import Selector, erase  # noqa: E402
from hibachi.lineage import model_lineage, record_lineage, signal_lineage  # noqa: E402
from hibachi.records import Base, Erasure, ExportSignal, ModelVersion, TrainingSignal  # noqa: E402
from hibachi.settings import FilterSettings, get_settings  # noqa: E402

pytestmark = pytest.mark.storage
START = datetime(2026, 10, 1, tzinfo=UTC)
SESSION = "cust-ann-erase-7f3a"
SECRET_TEXT = "for my grandmother Ruth's ninetieth birthday in the orchard"
QUESTIONS = [f"How much per adult {SECRET_TEXT}? Email me at Ann.Lee@Example.com",
             "Can you call me at (408) 555-0199 about the lobster upgrade?"]
NEEDLES = [SESSION, SECRET_TEXT, "ann.lee@example.com", "555-0199", "4085550199"]


def _version(session, version_id: str, train_sha: str, export_sha: str) -> None:
    session.add(ModelVersion(id=version_id, base_model="base", adapter_uri=f"/adapters/{version_id}",
                             dataset_sha256=train_sha, gate_passed=True, gate_reason="beats the gate",
                             eval_report={"holdout_rows": 4}))
    session.flush()
    record_lineage(session, version_id, train_sha256=train_sha, export_sha256=export_sha, pipeline_run="run-1",
                   settings={"filter": {"min_quality": 0.9}}, code="hibachi-distill test")


def _leaks(text: str) -> list[str]:
    lowered = text.lower()
    return [n for n in NEEDLES if n.lower() in lowered]


def test_erasing_a_customer_mid_pipeline_leaves_nothing_of_theirs(db, db_url, tmp_path):
    engine, factory = db
    data_dir = get_settings().data_dir
    with factory() as session:
        add_customer(session, "cust-old-0001", ["Do you travel to Fresno for a party?"],
                     start=START - timedelta(days=3))
        session.commit()
    # An earlier version, trained before the customer wrote: it must not be marked.
    early = export_signals(engine, data_dir / "exports" / "early.jsonl", until=START - timedelta(days=1))
    with factory() as session:
        _version(session, "v-early", "t0", early.dataset_sha256)
        session.commit()
    with factory() as session:
        ann = add_customer(session, SESSION, QUESTIONS, start=START)
        for i in range(3):
            add_customer(session, f"cust-other-{i:04d}",
                         [f"Do you serve {['chicken', 'steak', 'shrimp'][i]} for {20 + i} guests in Davis?",
                          "What time can the chef start in the evening?"], start=START + timedelta(hours=1 + i))
        session.commit()
    exported = export_signals(engine, data_dir / "exports" / "export.jsonl", until=START + timedelta(days=1))
    assert exported.rows == 8
    pipeline = data_dir / "pipeline_runs" / "hibachi-training-1"
    filtered = filter_dataset(exported.path, pipeline / "filter" / "train", pipeline / "filter" / "holdout",
                              pipeline / "filter" / "summary.json", FilterSettings(require_critic_pass=False))
    report = data_dir / "reports" / "evaluation.html"
    report.parent.mkdir(parents=True)
    report.write_text(f"<html><p>{html.escape(QUESTIONS[0])}</p><p>session {SESSION}</p><p>kept</p></html>")
    with factory() as session:
        _version(session, "v-ann", filtered.dataset_sha256, exported.dataset_sha256)
        session.commit()
        assert signal_lineage(session, ann[0])["model_versions"] == ["v-ann"]
    assert any(_leaks(p.read_text()) for p in (Path(exported.path), report))

    with factory() as session:
        result = erase(session, Selector("email", " ANN.LEE@example.COM"), actor="admin:test",
                       data_dirs=[data_dir], outbox_dir=data_dir / "outbox")
    assert result.sessions == 1
    assert result.rows["training_signals"] == 2 and result.rows["chat_messages"] == 4
    assert result.rows["candidates"] == result.rows["admin_corrections"] == result.rows["shadow_comparisons"] == 2
    assert result.model_versions == ["v-ann"]
    assert result.files["dataset_lines_removed"] >= 2 and result.files["files_redacted"] >= 1

    # Nothing of theirs in any table ...
    with engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            for row in conn.execute(select(table)):
                assert not _leaks(json.dumps([str(v) for v in row])), (table.name, row)
    # ... nor in any file under the data directory (nor in the SQLite file itself) ...
    files = [p for p in data_dir.rglob("*") if p.is_file()]
    if db_url.startswith("sqlite"):
        files += [p for p in tmp_path.glob("test.db*") if p.is_file()]
    for path in files:
        assert not _leaks(path.read_bytes().decode("utf-8", "replace")), path
    # ... while everyone else's rows and lines are still there.
    remaining = [json.loads(line) for line in Path(exported.path).read_text().splitlines()]
    assert len(remaining) == 6 and all(r["metadata"]["session_id"].startswith("cust-other") for r in remaining)
    assert "kept" in report.read_text()
    with factory() as session:
        assert session.scalar(select(TrainingSignal).where(TrainingSignal.session_id == "cust-other-0001"))
        marked = model_lineage(session, "v-ann")
        assert marked["trained_on_erased_data"] and marked["erasure_ids"] == [result.erasure_id]
        assert not model_lineage(session, "v-early")["trained_on_erased_data"]
        assert session.scalar(select(ExportSignal).where(ExportSignal.signal_id == ann[0])) is None
        record = session.get(Erasure, result.erasure_id)
        assert record.actor == "admin:test" and record.selector == "email" and record.rows["training_signals"] == 2
        # The tainted version no longer holds the watermark: the next run re-exports its window without them.
        assert last_watermark(session) == START - timedelta(days=1)


def test_erase_by_phone_in_another_format_and_by_user_and_unknown_customer(db, tmp_path):
    engine, factory = db
    with factory() as session:
        add_customer(session, SESSION, QUESTIONS, start=START)
        add_customer(session, "bob", ["My number is 408 555 0100, call me about prices"], start=START)
        session.commit()
    with factory() as session:
        preview = erase(session, Selector("phone", "+1 408.555.0199"), actor="t", dry_run=True)
        assert preview.dry_run and preview.erasure_id is None and preview.sessions == 1
    with factory() as session:
        assert session.scalar(select(TrainingSignal.id).where(TrainingSignal.session_id == SESSION))
        assert erase(session, Selector("phone", "4085550199"), actor="t").rows["chat_sessions"] == 1
        assert erase(session, Selector.one_of(user="bob"), actor="t").rows["training_signals"] == 1
        assert session.scalar(select(TrainingSignal.id)) is None
        from hibachi.errors import UserError

        with pytest.raises(UserError, match="no conversation matches"):
            erase(session, Selector("session", "nobody"), actor="t")

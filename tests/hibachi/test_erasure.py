"""Erasure's parts: choosing the customer, file scrubbing (datasets, reports, binaries, the journal), retention."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from customer_rows import add_customer
from sqlalchemy import func, select

from hibachi.erasure import Customer, Selector, apply_retention, erase, erasures, scrub_files
from hibachi.errors import UserError
from hibachi.records import ChatMessage, ChatSession, Erasure, TrainingSignal

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def test_exactly_one_selector_is_required():
    assert Selector.one_of(session=None, email="a@b.co") == Selector("email", "a@b.co")
    for given in ({}, {"session": "a", "email": "a@b.co"}):
        with pytest.raises(UserError, match="exactly one"):
            Selector.one_of(**given)
    with pytest.raises(UserError, match="erase by one of"):
        Selector("name", "Ann")
    with pytest.raises(UserError, match="not an email"):
        erase(None, Selector("email", "nope"), actor="t")  # refused before the database is touched


def _customer() -> Customer:
    return Customer(sessions={"sess-ann-01"}, signals={"sig-ann-000001"}, requests={"req-ann-000001"},
                    texts={"Is there parking near the orchard for my party?"}, emails={"ann@example.com"},
                    phones={"+14085550199"}, raw={"ann@example.com"})


def test_scrub_files_drops_dataset_lines_redacts_text_and_leaves_binaries_and_the_journal(tmp_path):
    rows = [{"messages": [{"role": "user", "content": "Is there parking near the orchard for my party?"}],
             "metadata": {"signal_id": "sig-other-1"}},
            {"messages": [{"role": "user", "content": "hello"}], "metadata": {"session_id": "sess-ann-01"}},
            {"messages": [{"role": "user", "content": "call me at 408 555 0199"}], "metadata": {}},
            {"messages": [{"role": "user", "content": "Do you do weddings?"}], "metadata": {"signal_id": "x"}}]
    (tmp_path / "exports").mkdir()
    dataset = tmp_path / "exports" / "export.jsonl"
    dataset.write_text("".join(json.dumps(r) + "\n" for r in rows))
    artifact = tmp_path / "train"  # a pipeline artifact: JSON lines without a suffix
    artifact.write_text(json.dumps({"metadata": {"signal_id": "sig-ann-000001"}}) + "\n"
                        + json.dumps({"metadata": {"signal_id": "keep"}}) + "\n")
    report = tmp_path / "report.html"
    report.write_text("<p>Ann&#x27;s: Is there parking near the orchard for my party?</p><p>ANN@example.com</p>"
                      "<p>(408) 555-0199</p><p>other text</p>")
    binary = tmp_path / "adapter.bin"
    binary.write_bytes(b"\0\1sess-ann-01")
    outbox = tmp_path / "outbox"
    outbox.mkdir()
    (outbox / "seg-1.jsonl").write_text(json.dumps({"session_id": "sess-ann-01"}) + "\n")

    preview, _ = scrub_files([tmp_path], _customer(), skip=[outbox], dry_run=True)
    assert preview["dataset_lines_removed"] == 4 and "sess-ann-01" in dataset.read_text()
    report_counts, changed = scrub_files([tmp_path], _customer(), skip=[outbox])
    assert report_counts["datasets_rewritten"] == 2 and report_counts["dataset_lines_removed"] == 4
    assert [json.loads(line)["metadata"]["signal_id"] for line in dataset.read_text().splitlines()] == ["x"]
    assert [json.loads(line)["metadata"]["signal_id"] for line in artifact.read_text().splitlines()] == ["keep"]
    text = report.read_text()
    assert "orchard" not in text and "example.com" not in text.lower() and "0199" not in text
    assert "other text" in text and text.count("[erased]") == 3
    assert binary.read_bytes() == b"\0\1sess-ann-01"  # binaries are not rewritten (a model is retrained instead)
    assert "sess-ann-01" in (outbox / "seg-1.jsonl").read_text()
    assert str(report) in changed and str(binary) not in changed


@pytest.mark.storage
def test_retention_deletes_old_transcripts_keeps_signals_and_dry_run_changes_nothing(db):
    _, factory = db
    with factory() as session:
        add_customer(session, "old", ["What did the old party cost?"], start=NOW - timedelta(days=40))
        add_customer(session, "new", ["What does a party cost?"], start=NOW - timedelta(days=2))
        session.add(ChatSession(id="bare-old", created_at=NOW - timedelta(days=50)))
        session.commit()
        preview = apply_retention(session, 30, actor="t", dry_run=True, now=NOW)
        assert preview.rows == {"chat_messages": 2, "chat_sessions": 1} and preview.erasure_id is None
        assert session.scalar(select(func.count()).select_from(ChatMessage)) == 4
        done = apply_retention(session, 30, actor="cli:ops", now=NOW)
        assert done.rows == preview.rows
        assert set(session.scalars(select(ChatMessage.session_id))) == {"new"}
        assert session.scalar(select(func.count()).select_from(TrainingSignal)) == 2  # signals stay
        assert session.get(ChatSession, "bare-old") is None and session.get(ChatSession, "old") is not None
        record = session.get(Erasure, done.erasure_id)
        assert (record.kind, record.selector, record.actor) == ("retention", "age", "cli:ops")
        assert erasures(session)[0]["id"] == done.erasure_id
        with pytest.raises(UserError, match="retention is off"):
            apply_retention(session, None, actor="t")

"""A record the database refuses never holds back the rest of the journal (PostgreSQL: NUL, over-long values)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from gateway.journal import Batch, Journal
from gateway.signal_writer import SignalWriter
from gateway.storage import with_storable_text
from hibachi.records import TrainingSignal

pytestmark = pytest.mark.storage


def _signal(request_id: str, answer: str = "a", session_id: str = "s") -> dict:
    return {"type": "signal", "id": f"sig-{request_id}", "request_id": request_id, "session_id": session_id,
            "prompt": "q", "conversation": [], "chosen_response": answer, "served_by": "teacher", "policy": "teacher",
            "quality_score": 1.0, "critic_passed": True, "candidates": [
                {"provider": "p", "model": "m", "role": "teacher", "response": answer, "chosen": True}]}


def test_storable_text_replaces_nul_and_lone_surrogates_everywhere_and_nothing_else():
    record = {"a": "x\x00y", "b": ["\x00", {"c": "ok \ud83d"}], "n": 1, "none": None, "emoji": "\U0001f525 ok"}
    assert with_storable_text(record) == {"a": "x\ufffdy", "b": ["\ufffd", {"c": "ok \ufffd"}], "n": 1, "none": None,
                                          "emoji": "\U0001f525 ok"}


def test_a_refused_record_does_not_block_the_batch(db, db_url, tmp_path):
    journal = Journal(tmp_path / "outbox")
    writer = SignalWriter(journal, db_url, migrate=False)
    try:
        records = [_signal("r1"), _signal("r2", answer="a provider's \x00 answer"),
                   _signal("r3", session_id="s" * 100), _signal("r4"), _signal("r5", answer="a lone \ud83d surrogate")]
        segment = journal.directory / "seg-x.jsonl"  # rejected.jsonl goes beside its segment
        writer._store(writer.engine, Batch(segment=segment, records=records, end_offset=0))
        with writer.engine.connect() as conn:
            stored = dict(conn.execute(select(TrainingSignal.request_id, TrainingSignal.chosen_response)).all())
    finally:
        writer.stop()
        journal.close()
    rejected = tmp_path / "outbox" / "rejected.jsonl"
    if db_url.startswith("postgresql"):
        assert stored == {"r1": "a", "r2": "a provider's \ufffd answer", "r4": "a", "r5": "a lone \ufffd surrogate"}
        [line] = rejected.read_text().splitlines()
        assert json.loads(line)["record"]["request_id"] == "r3" and "too long" in json.loads(line)["error"]
    else:  # SQLite stores NUL and long ids as they are
        assert stored == {"r1": "a", "r2": "a provider's \x00 answer", "r3": "a", "r4": "a",
                          "r5": "a lone \ufffd surrogate"}
        assert not rejected.exists()


def test_a_grounding_is_stored_as_built_or_not_at_all(db, db_url, tmp_path):
    """The grounding is a cache export can rebuild: one that cannot be trusted is stored as NULL (all three fields),
    never altered and never a reason to refuse the turn; records journaled before it existed have none."""
    sha = "ab" * 32
    ok = {"grounding": "Facts:\n- Adults are $60.", "grounding_kb_sha256": sha, "grounding_version": "3"}
    records = [
        _signal("ok") | ok,
        _signal("old"),  # journaled before groundings were captured
        _signal("no-hash") | ok | {"grounding_kb_sha256": None},
        _signal("bad-hash") | ok | {"grounding_kb_sha256": "not-a-sha"},
        _signal("not-text") | ok | {"grounding": ["Facts"]},
        _signal("long-version") | ok | {"grounding_version": "v" * 17},
        _signal("nul") | ok | {"grounding": "Facts \x00"},
        # A NUL elsewhere (PostgreSQL's retry replaces it there) leaves a good grounding as it was.
        _signal("nul-answer", answer="an \x00 answer") | ok,
    ]
    journal = Journal(tmp_path / "outbox")
    writer = SignalWriter(journal, db_url, migrate=False)
    try:
        segment = journal.directory / "seg-x.jsonl"  # rejected.jsonl goes beside its segment
        writer._store(writer.engine, Batch(segment=segment, records=records, end_offset=0))
        with writer.engine.connect() as conn:
            stored = {r[0]: tuple(r[1:]) for r in conn.execute(select(
                TrainingSignal.request_id, TrainingSignal.grounding, TrainingSignal.grounding_kb_sha256,
                TrainingSignal.grounding_version))}
    finally:
        writer.stop()
        journal.close()
    kept = (ok["grounding"], sha, "3")
    assert stored == {"ok": kept, "nul-answer": kept} | dict.fromkeys(
        ["old", "no-hash", "bad-hash", "not-text", "long-version", "nul"], (None, None, None))

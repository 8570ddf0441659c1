"""A record the database refuses never holds back the rest of the journal (PostgreSQL: NUL, over-long values)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from gateway.capture import Capture
from gateway.journal import Batch
from gateway.storage import without_nul
from hibachi.records import TrainingSignal

pytestmark = pytest.mark.storage


def _signal(request_id: str, answer: str = "a", session_id: str = "s") -> dict:
    return {"type": "signal", "id": f"sig-{request_id}", "request_id": request_id, "session_id": session_id,
            "prompt": "q", "conversation": [], "chosen_response": answer, "served_by": "teacher", "policy": "teacher",
            "quality_score": 1.0, "critic_passed": True, "candidates": [
                {"provider": "p", "model": "m", "role": "teacher", "response": answer, "chosen": True}]}


def test_without_nul_replaces_nul_everywhere_and_nothing_else():
    record = {"a": "x\x00y", "b": ["\x00", {"c": "ok"}], "n": 1, "none": None}
    assert without_nul(record) == {"a": "x\ufffdy", "b": ["\ufffd", {"c": "ok"}], "n": 1, "none": None}


def test_a_refused_record_does_not_block_the_batch(db, db_url, tmp_path):
    capture = Capture(tmp_path / "outbox", db_url, migrate=False)
    try:
        records = [_signal("r1"), _signal("r2", answer="a provider's \x00 answer"),
                   _signal("r3", session_id="s" * 100), _signal("r4")]
        capture._store(capture.engine, Batch(segment=tmp_path / "seg", records=records, end_offset=0))
        with capture.engine.connect() as conn:
            stored = dict(conn.execute(select(TrainingSignal.request_id, TrainingSignal.chosen_response)).all())
    finally:
        capture.engine.dispose()
    rejected = tmp_path / "outbox" / "rejected.jsonl"
    if db_url.startswith("postgresql"):
        assert stored == {"r1": "a", "r2": "a provider's \ufffd answer", "r4": "a"}
        [line] = rejected.read_text().splitlines()
        assert json.loads(line)["record"]["request_id"] == "r3" and "too long" in json.loads(line)["error"]
    else:  # SQLite stores both as they are
        assert stored == {"r1": "a", "r2": "a provider's \x00 answer", "r3": "a", "r4": "a"}
        assert not rejected.exists()

"""The record schema migrates from empty and round-trips a signal on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, select
from sqlalchemy.exc import IntegrityError

from hibachi.db import DatabaseError, check_connection, make_engine, session_scope
from hibachi.records import Candidate, ChatSession, TrainingSignal

pytestmark = pytest.mark.storage


def test_migration_creates_every_table_and_export_indexes(db):
    engine, _ = db
    inspector = inspect(engine)
    tables = set(inspector.get_table_names())
    assert {
        "chat_sessions", "chat_messages", "training_signals", "candidates", "admin_corrections",
        "shadow_comparisons", "model_versions", "deployment_states", "export_runs", "alembic_version",
    } <= tables
    index_names = {ix["name"] for ix in inspector.get_indexes("training_signals")}
    assert {"ix_training_signals_created_at", "ix_training_signals_quality"} <= index_names


def test_signal_round_trips_with_candidates(db):
    _, factory = db
    with session_scope(factory) as session:
        chat = ChatSession(id="s1")
        signal = TrainingSignal(
            request_id="r1", session=chat, prompt="Do you serve wagyu?", chosen_response="No wagyu.",
            served_by="teacher", quality_score=1.0, critic_passed=True,
            conversation=[{"role": "user", "content": "Do you serve wagyu?"}],
        )
        signal.candidates.append(Candidate(provider="openai", model="gpt-4o", role="teacher", response="No wagyu.",
                                           violations=[], chosen=True))
        session.add(signal)
    with session_scope(factory) as session:
        stored = session.scalars(select(TrainingSignal)).one()
        assert stored.conversation[0]["content"] == "Do you serve wagyu?"
        assert stored.candidates[0].chosen is True


def test_request_id_is_unique(db):
    _, factory = db
    with session_scope(factory) as session:
        session.add(ChatSession(id="s1"))
    for attempt in range(2):
        try:
            with session_scope(factory) as session:
                session.add(TrainingSignal(request_id="dup", session_id="s1", prompt="p", chosen_response="a",
                                           served_by="teacher", quality_score=1, critic_passed=True))
        except IntegrityError:
            assert attempt == 1
    with session_scope(factory) as session:
        assert len(session.scalars(select(TrainingSignal)).all()) == 1


def test_unreachable_database_is_a_one_line_error():
    engine = make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none", connect_timeout_s=1)
    with pytest.raises(DatabaseError) as info:
        check_connection(engine)
    assert "cannot reach database postgresql+psycopg://nobody@127.0.0.1:1/none" in str(info.value)
    assert "\n" not in str(info.value)

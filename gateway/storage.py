"""Turning journal records into rows: signals (with session, messages, candidates), shadow comparisons, outcomes.

Every record type is idempotent: a signal whose ``request_id`` is stored already, a shadow comparison
already stored for its signal and provider, and an outcome (an update) can all be replayed safely.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from hibachi.records import Candidate, ChatMessage, ChatSession, ShadowComparison, TrainingSignal, utcnow

_SIGNAL_FIELDS = {c.name for c in TrainingSignal.__table__.columns} - {"created_at"}
_CANDIDATE_FIELDS = {c.name for c in Candidate.__table__.columns} - {"id", "signal_id"}
_SHADOW_FIELDS = {c.name for c in ShadowComparison.__table__.columns} - {"id", "created_at"}
# Core inserts skip ORM defaults, and executemany needs every row to carry the same keys.
_SIGNAL_DEFAULTS = {name: None for name in _SIGNAL_FIELDS} | {
    "tenant": "my-hibachi", "trainable": True, "latency_ms": 0.0, "input_tokens": 0, "output_tokens": 0,
    "cost_usd": 0.0, "policy": "teacher", "conversation": []}
_CANDIDATE_DEFAULTS = {name: None for name in _CANDIDATE_FIELDS} | {
    "latency_ms": 0.0, "input_tokens": 0, "output_tokens": 0, "cost_usd": 0.0, "violations": [], "chosen": False}


_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def with_storable_text(value: Any) -> Any:
    """The record with every character a database cannot store replaced by U+FFFD: NUL (PostgreSQL refuses it in
    text) and lone UTF-16 surrogates (no driver can encode them; a client or provider can send one as a JSON
    escape)."""
    if isinstance(value, str):
        return _UNSTORABLE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {k: with_storable_text(v) for k, v in value.items()}
    if isinstance(value, list):
        return [with_storable_text(v) for v in value]
    return value


_SHA256 = re.compile(r"[0-9a-f]{64}")
GROUNDING_FIELDS = ("grounding", "grounding_kb_sha256", "grounding_version")


def _grounding_fields(record: dict) -> dict[str, Any]:
    """The stored grounding and what it was built from, all three or none.

    The grounding is a cache of what export can rebuild, so one that could not be trusted is dropped (NULL: export
    rebuilds it) rather than the turn refused: text without NUL or a lone surrogate (stored altered), a sha256 in
    hex, a short version. A record journaled before these fields existed has none of them."""
    text, sha, version = (record.get(name) for name in GROUNDING_FIELDS)
    if (isinstance(text, str) and not _UNSTORABLE.search(text) and isinstance(sha, str) and _SHA256.fullmatch(sha)
            and isinstance(version, str) and 0 < len(version) <= 16):
        return {"grounding": text, "grounding_kb_sha256": sha, "grounding_version": version}
    return dict.fromkeys(GROUNDING_FIELDS)


def _when(value: Any) -> datetime:
    return datetime.fromisoformat(value) if isinstance(value, str) else utcnow()


def store_records(session: Session, records: list[dict]) -> None:
    signals = [r for r in records if r.get("type") == "signal"]
    _store_signals(session, signals)
    session.flush()  # signals exist before anything that points at them
    _store_shadows(session, [r for r in records if r.get("type") == "shadow"])
    for outcome in (r for r in records if r.get("type") == "outcome"):
        _store_outcome(session, outcome)


def _store_signals(session: Session, signals: list[dict]) -> None:
    """Bulk inserts (Core executemany): the writer's CPU per signal stays small under load."""
    if not signals:
        return
    ids = [s["request_id"] for s in signals]
    stored = set(session.scalars(select(TrainingSignal.request_id).where(TrainingSignal.request_id.in_(ids))))
    fresh: dict[str, dict] = {}
    for record in signals:
        if record["request_id"] not in stored:
            fresh.setdefault(record["request_id"], record)
    if not fresh:
        return
    session_ids = {r["session_id"] for r in fresh.values()}
    known = set(session.scalars(select(ChatSession.id).where(ChatSession.id.in_(session_ids))))
    taken = set(session.execute(select(ChatMessage.session_id, ChatMessage.position)
                                .where(ChatMessage.session_id.in_(session_ids))).tuples())
    new_sessions, signal_rows, candidate_rows, message_rows = [], [], [], []
    for record in fresh.values():
        sid = record["session_id"]
        if sid not in known:
            known.add(sid)
            new_sessions.append({"id": sid, "tenant": record.get("tenant", "my-hibachi"),
                                 "api_key_id": record.get("api_key_id"), "customer_user": record.get("customer_user"),
                                 "created_at": _when(record.get("created_at"))})
        row = {k: v for k, v in record.items() if k in _SIGNAL_FIELDS}
        row.update(_grounding_fields(record))
        row["created_at"] = _when(record.get("created_at"))
        signal_rows.append({**_SIGNAL_DEFAULTS, **row})
        candidate_rows += [{**_CANDIDATE_DEFAULTS, **{k: v for k, v in c.items() if k in _CANDIDATE_FIELDS},
                            "signal_id": record["id"]} for c in record.get("candidates", [])]
        message_rows += _messages(record, taken)
    for table, rows in ((ChatSession, new_sessions), (TrainingSignal, signal_rows), (Candidate, candidate_rows),
                        (ChatMessage, message_rows)):
        if rows:
            session.execute(insert(table), rows)


def _messages(record: dict, taken: set[tuple[str, int]]) -> list[dict]:
    """The customer's turn and the served answer, at their place in the conversation (first writer wins)."""
    sid = record["session_id"]
    position = sum(1 for m in record.get("conversation", []) if m.get("role") != "system")
    rows = []
    for offset, (role, content) in enumerate((("user", record["prompt"]),
                                               ("assistant", record["chosen_response"]))):
        key = (sid, position + offset)
        if key in taken:
            continue
        taken.add(key)
        rows.append({"session_id": sid, "position": key[1], "role": role, "content": content,
                     "signal_id": record["id"] if role == "assistant" else None,
                     "created_at": _when(record.get("created_at"))})
    return rows


def _store_shadows(session: Session, shadows: list[dict]) -> None:
    if not shadows:
        return
    signal_ids = {s["signal_id"] for s in shadows}
    stored = set(session.execute(select(ShadowComparison.signal_id, ShadowComparison.provider)
                                 .where(ShadowComparison.signal_id.in_(signal_ids))).tuples())
    existing = set(session.scalars(select(TrainingSignal.id).where(TrainingSignal.id.in_(signal_ids))))
    for record in shadows:
        key = (record["signal_id"], record["provider"])
        if key in stored or record["signal_id"] not in existing:
            continue
        stored.add(key)
        session.add(ShadowComparison(**{k: v for k, v in record.items() if k in _SHADOW_FIELDS},
                                     created_at=_when(record.get("created_at"))))


def _store_outcome(session: Session, record: dict) -> None:
    chat = session.get(ChatSession, record["session_id"])
    if chat is None:
        chat = ChatSession(id=record["session_id"], tenant=record.get("tenant", "my-hibachi"))
        session.add(chat)
    if record.get("led_to_booking") is not None:
        chat.led_to_booking = record["led_to_booking"]
    if record.get("customer_rating") is not None:
        chat.customer_rating = record["customer_rating"]
    chat.outcome_at = _when(record.get("created_at"))

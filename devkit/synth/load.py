"""Write synthetic conversations into the record schema as if the gateway had captured them.

Every customer turn becomes a training signal served by the teacher ensemble: one candidate per
teacher (provider names and prices from the settings), each scored by the critic, the best
passing one chosen. A share of the failed answers gets an admin correction. Rows go in with
bulk Core inserts in batches; the caller's transaction makes a load all-or-nothing, and
conversations already in the database are skipped, so loading the same traffic twice is a no-op.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from devkit.synth.generator import Conversation, Turn
from hibachi.records import AdminCorrection, Candidate, ChatMessage, ChatSession, TrainingSignal
from hibachi.settings import ProviderConfig

CORRECTION_AUTHOR = "admin@synthetic"


class _Verdict(Protocol):
    passed: bool
    violations: list[Any]
    quality_score: float


class _Critic(Protocol):
    def evaluate(self, prompt: str, response: str) -> _Verdict: ...


@dataclass
class LoadStats:
    conversations: int = 0
    skipped: int = 0  # already in the database
    messages: int = 0
    signals: int = 0
    candidates: int = 0
    corrections: int = 0
    seconds: float = 0.0


class _ScoringCache:
    """The critic is deterministic, and template traffic repeats itself: score each distinct pair once."""

    def __init__(self, critic: _Critic) -> None:
        self.critic = critic
        self.cache: dict[tuple[str, str], tuple[bool, float, list[dict[str, Any]]]] = {}

    def __call__(self, prompt: str, response: str) -> tuple[bool, float, list[dict[str, Any]]]:
        key = (prompt, response)
        found = self.cache.get(key)
        if found is None:
            verdict = self.critic.evaluate(prompt, response)
            violations = [v.model_dump(mode="json") if hasattr(v, "model_dump") else dict(v)
                          for v in verdict.violations]
            found = (bool(verdict.passed), float(verdict.quality_score), violations)
            self.cache[key] = found
        return found


def default_teachers() -> list[ProviderConfig]:
    from hibachi.settings import get_settings

    return get_settings().teachers


def load_traffic(session: Session, conversations: Iterable[Conversation], critic: _Critic, *,
                 teachers: Sequence[ProviderConfig] | None = None, tenant: str = "my-hibachi",
                 now: datetime | None = None, correction_share: float = 0.3, batch_size: int = 500,
                 progress: Callable[[int], None] | None = None) -> LoadStats:
    """Insert the conversations with their signals, candidates and corrections; returns counts.

    The caller commits (``session_scope``); ``progress`` is called with the number of
    conversations handled after each batch.
    """
    teachers = list(teachers) if teachers is not None else default_teachers()
    if not teachers:
        raise ValueError("load_traffic needs at least one teacher provider (settings.providers with role teacher)")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    started = time.perf_counter()
    now = now or datetime.now(UTC)
    score = _ScoringCache(critic)
    stats = LoadStats()
    batch: list[Conversation] = []
    for conversation in conversations:
        batch.append(conversation)
        if len(batch) >= batch_size:
            _load_batch(session, batch, score, teachers, tenant, now, correction_share, stats)
            if progress:
                progress(len(batch))
            batch = []
    if batch:
        _load_batch(session, batch, score, teachers, tenant, now, correction_share, stats)
        if progress:
            progress(len(batch))
    stats.seconds = time.perf_counter() - started
    return stats


def _load_batch(session: Session, batch: list[Conversation], score: _ScoringCache, teachers: Sequence[ProviderConfig],
                tenant: str, now: datetime, correction_share: float, stats: LoadStats) -> None:
    existing = set(session.scalars(select(ChatSession.id).where(ChatSession.id.in_([c.id for c in batch]))))
    rows: dict[str, list[dict[str, Any]]] = {"sessions": [], "messages": [], "signals": [], "candidates": [],
                                             "corrections": []}
    for conversation in batch:
        if conversation.id in existing:
            stats.skipped += 1
            continue
        existing.add(conversation.id)  # the same conversation twice in one input is loaded once
        _conversation_rows(conversation, score, teachers, tenant, now, correction_share, rows)
        stats.conversations += 1
    for model, key in ((ChatSession, "sessions"), (TrainingSignal, "signals"), (ChatMessage, "messages"),
                       (Candidate, "candidates"), (AdminCorrection, "corrections")):
        if rows[key]:
            session.connection().execute(insert(model.__table__), rows[key])
    session.flush()
    stats.messages += len(rows["messages"])
    stats.signals += len(rows["signals"])
    stats.candidates += len(rows["candidates"])
    stats.corrections += len(rows["corrections"])


def _conversation_rows(conversation: Conversation, score: _ScoringCache, teachers: Sequence[ProviderConfig],
                       tenant: str, now: datetime, correction_share: float, rows: dict[str, list]) -> None:
    rng = random.Random(conversation.id)  # latencies and costs repeat for the same conversation
    started = now - timedelta(minutes=conversation.age_minutes)
    last = started + timedelta(minutes=conversation.turns[-1].minute + 1)
    has_outcome = conversation.led_to_booking is not None or conversation.customer_rating is not None
    rows["sessions"].append({
        "id": conversation.id, "tenant": tenant, "api_key_id": "synthetic",
        "led_to_booking": conversation.led_to_booking, "customer_rating": conversation.customer_rating,
        "outcome_at": min(now, last + timedelta(hours=rng.uniform(1, 48))) if has_outcome else None,
        "created_at": started,
    })
    history: list[dict[str, str]] = []
    for index, turn in enumerate(conversation.turns):
        at = started + timedelta(minutes=turn.minute)
        signal_id = f"{conversation.id}-{index:02d}"
        chosen_text = _signal_rows(turn, history, conversation.id, signal_id, score, teachers, tenant, at, rng,
                                   correction_share, rows)
        for offset, (role, content) in enumerate((("user", turn.user), ("assistant", chosen_text))):
            rows["messages"].append({
                "session_id": conversation.id, "position": 2 * index + offset, "role": role, "content": content,
                "signal_id": signal_id if role == "assistant" else None, "created_at": at,
            })
        history += [{"role": "user", "content": turn.user}, {"role": "assistant", "content": chosen_text}]


def _signal_rows(turn: Turn, history: list[dict[str, str]], session_id: str, signal_id: str, score: _ScoringCache,
                 teachers: Sequence[ProviderConfig], tenant: str, at: datetime, rng: random.Random,
                 correction_share: float, rows: dict[str, list]) -> str:
    input_tokens = 180 + sum(len(m["content"].split()) for m in history) + len(turn.user.split())
    candidates = []
    for position, answer in enumerate(turn.candidates):
        teacher = teachers[position % len(teachers)]
        passed, quality, violations = score(turn.user, answer.text)
        output_tokens = max(1, round(len(answer.text.split()) * 1.3))
        cost = input_tokens / 1000 * teacher.price_in_per_1k + output_tokens / 1000 * teacher.price_out_per_1k
        candidates.append({
            "signal_id": signal_id, "provider": teacher.name, "model": teacher.model, "role": "teacher",
            "response": answer.text, "error": None, "latency_ms": round(rng.lognormvariate(6.7, 0.35), 1),
            "input_tokens": input_tokens, "output_tokens": output_tokens, "cost_usd": round(cost, 6),
            "critic_passed": passed, "quality_score": quality, "violations": violations, "chosen": False,
        })
    # The ensemble serves the best passing answer, or the least bad one when none passes.
    best = max(candidates, key=lambda c: (c["critic_passed"], c["quality_score"]))
    best["chosen"] = True
    rows["candidates"] += candidates
    rows["signals"].append({
        "id": signal_id, "request_id": signal_id, "session_id": session_id, "tenant": tenant,
        "prompt": turn.user, "conversation": list(history), "topic": turn.candidates[turn.served].topic,
        "chosen_response": best["response"], "chosen_provider": best["provider"], "served_by": "teacher",
        "policy": "teacher", "adapter_version": None, "quality_score": best["quality_score"],
        "critic_passed": best["critic_passed"], "ground_truth": None, "trainable": True, "stream_error": None,
        "latency_ms": max(c["latency_ms"] for c in candidates) + round(rng.uniform(2, 15), 1),
        "input_tokens": sum(c["input_tokens"] for c in candidates),
        "output_tokens": sum(c["output_tokens"] for c in candidates),
        "cost_usd": round(sum(c["cost_usd"] for c in candidates), 6), "created_at": at,
    })
    if not best["critic_passed"] and rng.random() < correction_share:
        broken = "; ".join(v.get("fact", "") for v in best["violations"] if isinstance(v, dict)) or "critic failed"
        rows["corrections"].append({
            "signal_id": signal_id, "corrected_response": turn.reference, "author": CORRECTION_AUTHOR,
            "reason": f"corrected: {broken}", "created_at": at + timedelta(hours=rng.uniform(1, 72)),
        })
    return best["response"]


def load_into_database(database_url: str, conversations: Sequence[Conversation], critic: _Critic, *,
                       teachers: Sequence[ProviderConfig] | None = None, tenant: str = "my-hibachi",
                       progress: Callable[[int], None] | None = None) -> LoadStats:
    """Migrate the database to the newest schema, then load the conversations in one transaction."""
    from hibachi.db import make_engine, session_factory, session_scope, upgrade

    engine = make_engine(database_url)
    try:
        upgrade(engine)
        with session_scope(session_factory(engine)) as session:
            return load_traffic(session, conversations, critic, teachers=teachers, tenant=tenant, progress=progress)
    finally:
        engine.dispose()

"""Export training signals to chat-messages JSONL, incrementally from a watermark.

Two streaming queries, whatever the number of rows: the signals of the window (joined with their
session's outcome and their newest admin correction through a window function), and their candidates
in the same order. Both stream with server-side cursors (``yield_per``) and are merged like a
sort-merge join, so memory stays bounded by one signal's candidates. Rows are ordered by
``(created_at, id)`` and serialised with sorted keys, so the same window always gives the same bytes;
the sha256 of those bytes is recorded in ``ExportRun`` with the window, and the next run starts
where this one ended.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from hibachi.records import AdminCorrection, Candidate, ChatSession, ExportRun, TrainingSignal

BATCH_ROWS = 500


@dataclass(frozen=True)
class ExportResult:
    path: str
    rows: int
    dataset_sha256: str
    window_start: str | None
    window_end: str
    export_run_id: int | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    # SQLite hands back naive datetimes; every stored time is UTC.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _iso(value: datetime | None) -> str | None:
    value = _utc(value)
    return value.isoformat() if value else None


def _parse_time(value: datetime | str | None) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return _utc(value)


def _engine(engine_or_url: Engine | str) -> tuple[Engine, bool]:
    if isinstance(engine_or_url, Engine):
        return engine_or_url, False
    from hibachi.db import make_engine

    return make_engine(engine_or_url), True


def last_watermark(session: Session) -> datetime | None:
    """Where the next incremental export starts: the end of the newest recorded window."""
    return _utc(session.scalar(select(func.max(ExportRun.window_end))))


def _window_filter(stmt, since: datetime | None, until: datetime):
    stmt = stmt.where(TrainingSignal.created_at < until)
    return stmt.where(TrainingSignal.created_at >= since) if since is not None else stmt


def _signal_rows(session: Session, since: datetime | None, until: datetime) -> Iterator[Any]:
    newest = (
        select(
            AdminCorrection.signal_id,
            AdminCorrection.corrected_response,
            AdminCorrection.author,
            AdminCorrection.reason,
            func.row_number()
            .over(partition_by=AdminCorrection.signal_id,
                  order_by=(AdminCorrection.created_at.desc(), AdminCorrection.id.desc()))
            .label("rank"),
        ).subquery()
    )
    stmt = (
        select(
            TrainingSignal,
            ChatSession.led_to_booking,
            ChatSession.customer_rating,
            newest.c.corrected_response,
            newest.c.author,
            newest.c.reason,
        )
        .join(ChatSession, ChatSession.id == TrainingSignal.session_id)
        .outerjoin(newest, (newest.c.signal_id == TrainingSignal.id) & (newest.c.rank == 1))
        .order_by(TrainingSignal.created_at, TrainingSignal.id)
        .execution_options(yield_per=BATCH_ROWS)
    )
    yield from session.execute(_window_filter(stmt, since, until))


def _candidate_rows(session: Session, since: datetime | None, until: datetime) -> Iterator[Any]:
    stmt = (
        select(Candidate)
        .join(TrainingSignal, TrainingSignal.id == Candidate.signal_id)
        .order_by(TrainingSignal.created_at, TrainingSignal.id, Candidate.id)
        .execution_options(yield_per=BATCH_ROWS)
    )
    for row in session.execute(_window_filter(stmt, since, until)):
        yield row[0]


def _candidate_dict(c: Candidate) -> dict[str, Any]:
    return {
        "provider": c.provider, "model": c.model, "role": c.role, "response": c.response, "error": c.error,
        "critic_passed": c.critic_passed, "quality_score": c.quality_score, "violations": c.violations or [],
        "chosen": bool(c.chosen), "latency_ms": c.latency_ms,
    }


def signal_record(signal: TrainingSignal, outcome: tuple, candidates: list[dict]) -> dict[str, Any]:
    """One JSONL line: the conversation ending in the served answer, and everything known about it."""
    led_to_booking, rating, correction, author, reason = outcome
    history = [{"role": m.get("role"), "content": m.get("content")} for m in (signal.conversation or [])]
    messages = [*history, {"role": "user", "content": signal.prompt},
                {"role": "assistant", "content": signal.chosen_response}]
    metadata = {
        "signal_id": signal.id, "request_id": signal.request_id, "session_id": signal.session_id,
        "tenant": signal.tenant, "created_at": _iso(signal.created_at), "topic": signal.topic,
        "served_by": signal.served_by, "policy": signal.policy, "adapter_version": signal.adapter_version,
        "chosen_provider": signal.chosen_provider, "quality_score": signal.quality_score,
        "critic_passed": signal.critic_passed, "trainable": signal.trainable, "ground_truth": signal.ground_truth,
        "led_to_booking": led_to_booking, "customer_rating": rating,
        "correction": ({"response": correction, "author": author, "reason": reason}
                       if correction is not None else None),
        "candidates": candidates,
    }
    return {"messages": messages, "metadata": metadata}


def iter_records(session: Session, since: datetime | None, until: datetime) -> Iterator[dict[str, Any]]:
    """Merge the two ordered streams: each signal with exactly its own candidates."""
    with Session(session.get_bind()) as candidate_session:
        candidates = _candidate_rows(candidate_session, since, until)
        pending = next(candidates, None)
        for row in _signal_rows(session, since, until):
            signal = row[0]
            own: list[dict] = []
            while pending is not None and pending.signal_id == signal.id:
                own.append(_candidate_dict(pending))
                candidate_session.expunge(pending)
                pending = next(candidates, None)
            yield signal_record(signal, tuple(row[1:]), own)
            session.expunge(signal)


def export_signals(engine_or_url: Engine | str, out_path: Path | str, since: datetime | str | None = None,
                   until: datetime | str | None = None, *, incremental: bool = True,
                   record: bool = True) -> ExportResult:
    """Write the window ``[since, until)`` as JSONL; ``since`` None continues from the last watermark."""
    engine, owned = _engine(engine_or_url)
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        with Session(engine) as session:
            start = _parse_time(since)
            if start is None and incremental:
                start = last_watermark(session)
            end = _parse_time(until) or datetime.now(UTC)
            if start is not None and start >= end:
                raise ValueError(f"export window is empty: since {_iso(start)} is not before until {_iso(end)}")
            digest, rows = hashlib.sha256(), 0
            tmp = out.with_suffix(out.suffix + ".partial")
            with tmp.open("wb") as handle:
                for record_ in iter_records(session, start, end):
                    line = (json.dumps(record_, sort_keys=True, ensure_ascii=False) + "\n").encode()
                    handle.write(line)
                    digest.update(line)
                    rows += 1
            tmp.replace(out)  # a killed export never leaves a half file under the real name
            run_id = None
            if record:
                run = ExportRun(window_start=start, window_end=end, rows=rows,
                                dataset_sha256=digest.hexdigest(), path=str(out))
                session.add(run)
                session.commit()
                run_id = run.id
        return ExportResult(path=str(out), rows=rows, dataset_sha256=digest.hexdigest(),
                            window_start=_iso(start), window_end=_iso(end) or "", export_run_id=run_id)
    finally:
        if owned:
            engine.dispose()

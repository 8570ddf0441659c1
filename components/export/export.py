"""Export training signals to chat-messages JSONL, incrementally from a watermark.

Two streaming queries, whatever the number of rows: the signals of the window (joined with their
session's outcome and their newest admin correction, found by one index lookup per signal), and their
candidates in the same order. Both stream plain rows (Core, no ORM identity map) with server-side cursors
(``yield_per``) and are merged like a sort-merge join, so memory stays bounded by one signal's candidates.
Each row's grounding is the one the gateway stored with the turn while that still holds (``stored_grounding``),
else rebuilt, with the same bytes either way. Rows are ordered by ``(created_at, id)`` and serialised with keys in a
fixed order, so the same window always gives the same bytes; the sha256 of those bytes is recorded in ``ExportRun``
with the window, and the next run starts where this one ended.
"""

from __future__ import annotations

import functools
import hashlib
import json
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import JSON, Connection, Engine, Text, TypeDecorator, cast, func, select, type_coerce
from sqlalchemy.orm import Session

from hibachi import fastjson
from hibachi.lineage import record_export_signals
from hibachi.prompt import PROMPT_VERSION, _text, assemble, facts_sha256
from hibachi.records import (
    AdminCorrection,
    Candidate,
    ChatSession,
    ExportRun,
    ModelLineage,
    ModelVersion,
    TrainingSignal,
)

BATCH_ROWS = 500


@dataclass(frozen=True)
class ExportResult:
    path: str
    rows: int
    dataset_sha256: str
    window_start: str | None
    window_end: str
    export_run_id: int | None
    pairs: int = 0  # preference pairs written (components.export.pairs)
    stale_rows: int = 0  # turns left out: answers the critic passed then, fails under today's facts
    knowledge_sha256: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    # SQLite hands back naive datetimes; every stored time is UTC.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _iso(value: datetime | None) -> str | None:
    if value is not None and value.tzinfo is None:  # SQLite's naive UTC: what _utc then isoformat() writes
        return value.isoformat() + "+00:00"
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
    """Where the next incremental export starts: the end of the newest window exported before the newest version.

    An export whose run died before evaluation recorded a version does not move the watermark, so
    rerunning the pipeline exports that window again instead of training on nothing. A version trained
    on erased data does not count either, so the next run retrains on its window without the erased rows.
    """
    tainted = select(ModelLineage.version_id).where(ModelLineage.erased_data_at.is_not(None))
    newest_version = select(func.max(ModelVersion.created_at)).where(ModelVersion.id.not_in(tainted)) \
        .scalar_subquery()
    return _utc(session.scalar(select(func.max(ExportRun.window_end))
                               .where(ExportRun.created_at <= newest_version)))


def _window_filter(stmt, since: datetime | None, until: datetime):
    stmt = stmt.where(TrainingSignal.created_at < until)
    return stmt.where(TrainingSignal.created_at >= since) if since is not None else stmt


SIGNAL_COLUMNS = ("id", "request_id", "session_id", "tenant", "prompt", "conversation", "topic", "chosen_response",
                  "chosen_provider", "served_by", "policy", "adapter_version", "quality_score", "critic_passed",
                  "trainable", "ground_truth", "created_at", "grounding", "grounding_kb_sha256", "grounding_version")
CANDIDATE_COLUMNS = ("signal_id", "provider", "model", "role", "response", "error", "critic_passed", "quality_score",
                     "violations", "chosen", "latency_ms")


def _loads_stored_json(value: Any) -> Any:
    """A JSON column's stored text as SQLAlchemy's SQLite JSON type reads it (``json.loads``), through
    ``hibachi.fastjson`` (orjson where it reads the same values). A value SQLite stored as a bare number comes
    back as it is, as there."""
    return fastjson.loads(value) if isinstance(value, str | bytes) else value


class _StoredJSON(TypeDecorator):
    """A JSON column read as its stored text and parsed by ``_loads_stored_json``."""

    impl = Text
    cache_ok = True

    def process_result_value(self, value: Any, dialect: Any) -> Any:
        return _loads_stored_json(value)


def _column(conn: Connection, column: Any) -> Any:
    """The column to select; a JSON column as its text, parsed by ``_loads_stored_json``, where the driver would
    have parsed that same text with ``json.loads`` (SQLite's text as stored; PostgreSQL's ``json::text``).
    An engine given its own ``json_deserializer`` keeps it."""
    if not isinstance(column.type, JSON) or conn.dialect._json_deserializer is not None:
        return column
    if conn.dialect.name == "sqlite":
        return type_coerce(column, _StoredJSON).label(column.name)
    if conn.dialect.name == "postgresql":
        return type_coerce(cast(column, Text), _StoredJSON).label(column.name)
    return column


def _signal_rows(conn: Connection, since: datetime | None, until: datetime) -> Iterator[Any]:
    # The newest admin correction of each signal by an index lookup per signal (what row_number() = 1 over
    # (created_at desc, id desc) picked): joined to a window-function subquery, PostgreSQL's cursor plans filtered
    # every signal against every correction, time growing with the square of the window.
    newest = (
        select(AdminCorrection.id)
        .where(AdminCorrection.signal_id == TrainingSignal.id)
        .order_by(AdminCorrection.created_at.desc(), AdminCorrection.id.desc())
        .limit(1)
        .correlate(TrainingSignal)
        .scalar_subquery()
    )
    table = TrainingSignal.__table__
    stmt = (
        select(
            *(_column(conn, table.c[name]) for name in SIGNAL_COLUMNS),
            ChatSession.led_to_booking,
            ChatSession.customer_rating,
            AdminCorrection.corrected_response,
            AdminCorrection.author.label("correction_author"),
            AdminCorrection.reason.label("correction_reason"),
        )
        .join(ChatSession, ChatSession.id == TrainingSignal.session_id)
        .outerjoin(AdminCorrection, AdminCorrection.id == newest)
        .order_by(TrainingSignal.created_at, TrainingSignal.id)
    )
    yield from conn.execution_options(yield_per=BATCH_ROWS).execute(_window_filter(stmt, since, until))


def _candidate_rows(conn: Connection, since: datetime | None, until: datetime) -> Iterator[Any]:
    table = Candidate.__table__
    stmt = (
        select(*(_column(conn, table.c[name]) for name in CANDIDATE_COLUMNS))
        .join(TrainingSignal, TrainingSignal.id == Candidate.signal_id)
        .order_by(TrainingSignal.created_at, TrainingSignal.id, Candidate.id)
    )
    yield from conn.execution_options(yield_per=BATCH_ROWS).execute(_window_filter(stmt, since, until))


SIGNAL_KEYS = (*SIGNAL_COLUMNS, "led_to_booking", "customer_rating", "corrected_response", "correction_author",
               "correction_reason")
CANDIDATE_KEYS = CANDIDATE_COLUMNS[1:]


def _candidate_dict(row: Any) -> dict[str, Any]:
    # zip over precomputed keys: several times cheaper per row than Row._asdict().
    return dict(zip(CANDIDATE_KEYS, row[1:], strict=True))


@functools.lru_cache(maxsize=4096)
def _grounding(retriever: Any, question: str) -> str:
    """``hibachi.prompt.grounding``, once per question (and knowledge base): customers ask the same questions,
    and retrieval plus the quote were two thirds of the export's time. Bounded, so memory stays constant."""
    from hibachi.prompt import grounding

    return grounding(retriever, question)


def stored_grounding(s: dict[str, Any], retriever: Any) -> str | None:
    """The grounding the gateway stored with the signal, while it is still what ``hibachi.prompt.grounding`` builds:
    built from this retriever's knowledge base (same sha256) under this prompt contract (same version); else None."""
    text = s.get("grounding")
    if text is None or s.get("grounding_version") != PROMPT_VERSION:
        return None
    kb_sha256 = s.get("grounding_kb_sha256")
    return text if kb_sha256 is not None and kb_sha256 == facts_sha256(retriever) else None


def row_messages(s: dict[str, Any], retriever: Any = None) -> list[dict]:
    """A row's messages by the prompt contract (hibachi.prompt): grounding, recent turns, question, served answer.

    The grounding is the one the gateway stored with the turn when it still holds (``stored_grounding``: same
    knowledge base, same prompt contract), else rebuilt from the knowledge base (``retriever``, by default the
    configured one) as the gateway built it (looked up once per question, as the gateway caches it): turns stored
    before groundings were, and turns whose facts have changed since.
    """
    if retriever is None:
        from hibachi.retrieval import default_retriever

        retriever = default_retriever()
    system = stored_grounding(s, retriever)
    if system is None:
        system = _grounding(retriever, s["prompt"])
    return [*assemble(system, s["conversation"] or [], s["prompt"]),
            {"role": "assistant", "content": _text(s["chosen_response"]).strip()}]


def signal_record(s: dict[str, Any], candidates: list[dict], retriever: Any = None) -> dict[str, Any]:
    """One JSONL line: the conversation ending in the served answer, and everything known about it."""
    messages = row_messages(s, retriever)
    correction = s["corrected_response"]
    metadata = {
        "signal_id": s["id"], "request_id": s["request_id"], "session_id": s["session_id"], "tenant": s["tenant"],
        "created_at": _iso(s["created_at"]), "topic": s["topic"], "served_by": s["served_by"], "policy": s["policy"],
        "adapter_version": s["adapter_version"], "chosen_provider": s["chosen_provider"],
        "quality_score": s["quality_score"], "critic_passed": s["critic_passed"], "trainable": s["trainable"],
        "ground_truth": s["ground_truth"], "led_to_booking": s["led_to_booking"],
        "customer_rating": s["customer_rating"],
        "correction": ({"response": correction, "author": s["correction_author"], "reason": s["correction_reason"]}
                       if correction is not None else None),
        "candidates": candidates,
    }
    return {"messages": messages, "metadata": metadata}


def _json_line(record: dict[str, Any]) -> bytes:
    """The record as one compact UTF-8 JSON line, three times faster through orjson than ``json.dumps``.

    The bytes are json's (``ensure_ascii=False``, compact separators) except that a float below 1e-4 is written
    ``1e-7`` where json wrote ``1e-07`` (the same value); the same window still always gives the same bytes.
    A value orjson refuses (an integer past 64 bits, a lone surrogate) goes through json as before."""
    try:
        return orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE)
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        line = json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"
        return line.encode("utf-8", "surrogatepass")


def _plan_for_every_row(conn: Connection) -> None:
    """On PostgreSQL, plan this transaction's cursors for reading every row, as the export does.

    A server-side cursor (``yield_per``) is planned by default for its first tenth of rows: with tables not yet
    analysed, that chose nested loops filtering each signal against every chat session, time growing with the
    square of the window. ``SET LOCAL`` ends with the transaction."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL cursor_tuple_fraction = 1.0")


def iter_records(engine: Engine, since: datetime | None, until: datetime) -> Iterator[dict[str, Any]]:
    """Merge the two ordered streams (two connections): each signal with exactly its own candidates."""
    from hibachi.retrieval import default_retriever

    retriever = default_retriever()  # the configured knowledge base, looked up once per export, not per row
    with engine.connect() as signal_conn, engine.connect() as candidate_conn:
        for conn in (signal_conn, candidate_conn):
            _plan_for_every_row(conn)
        candidates = _candidate_rows(candidate_conn, since, until)
        pending = next(candidates, None)
        for row in _signal_rows(signal_conn, since, until):
            signal = dict(zip(SIGNAL_KEYS, row, strict=True))
            own: list[dict] = []
            while pending is not None and pending[0] == signal["id"]:
                own.append(_candidate_dict(pending))
                pending = next(candidates, None)
            yield signal_record(signal, own, retriever)


def export_signals(engine_or_url: Engine | str, out_path: Path | str, since: datetime | str | None = None,
                   until: datetime | str | None = None, *, incremental: bool = True,
                   record: bool = True, pairs_path: Path | str | None = None,
                   stale_path: Path | str | None = None, critic=None,
                   knowledge_sha256: str | None = None) -> ExportResult:
    """Write the window ``[since, until)`` as JSONL; ``since`` None continues from the last watermark.

    With ``pairs_path``, each turn's preference pairs (``components.export.pairs.build_pairs``) go there too.
    With a ``critic`` (built from today's facts), a turn whose answer passed when captured but fails now is left
    out, with its pairs, and listed in ``stale_path`` (``components.export.facts``); the facts' hash
    (``knowledge_sha256``, by default the critic's knowledge base's) is recorded with the run.
    """
    from contextlib import ExitStack

    from components.export.facts import stale_entry, stale_violations
    from components.export.pairs import build_pairs

    if knowledge_sha256 is None and critic is not None and getattr(critic, "kb", None) is not None:
        from hibachi.retraining import knowledge_sha256 as kb_sha256

        knowledge_sha256 = kb_sha256(critic.kb)
    engine, owned = _engine(engine_or_url)
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        with Session(engine) as session, ExitStack() as files:
            start = _parse_time(since)
            if start is None and incremental:
                start = last_watermark(session)
            end = _parse_time(until) or datetime.now(UTC)
            if start is not None and start >= end:
                raise ValueError(f"export window is empty: since {_iso(start)} is not before until {_iso(end)}")
            digest, rows = hashlib.sha256(), 0
            pairs = stale_rows = 0
            tmp = out.with_suffix(out.suffix + ".partial")
            # Lineage (which signals this hash holds) is recorded once the hash is known: the ids wait in a
            # temporary file, not a list, so memory stays flat however many rows the window has.
            signal_ids = files.enter_context(tempfile.TemporaryFile("w+", encoding="utf-8"))
            with ExitStack() as output:
                handle = output.enter_context(tmp.open("wb"))
                pairs_out = output.enter_context(open(pairs_path, "w", encoding="utf-8")) if pairs_path else None
                stale_out = output.enter_context(open(stale_path, "w", encoding="utf-8")) if stale_path else None
                chunk: list[bytes] = []  # lines written (and hashed) BATCH_ROWS at a time: the same bytes

                def write_chunk() -> None:
                    data = b"".join(chunk)
                    handle.write(data)
                    digest.update(data)
                    chunk.clear()

                for record_ in iter_records(engine, start, end):
                    violations = stale_violations(record_, critic) if critic is not None else None
                    if violations is not None:  # built from facts that changed: out of the data, and listed
                        stale_rows += 1
                        if stale_out is not None:
                            stale_out.write(json.dumps(stale_entry(record_, violations, knowledge_sha256),
                                                       ensure_ascii=False, sort_keys=True) + "\n")
                        continue
                    # Keys come in a fixed order from signal_record, so no sort is needed for stable bytes.
                    chunk.append(_json_line(record_))
                    if len(chunk) == BATCH_ROWS:
                        write_chunk()
                    rows += 1
                    signal_ids.write(record_["metadata"]["signal_id"] + "\n")
                    if pairs_out is not None:
                        for pair in build_pairs(record_):
                            pairs_out.write(json.dumps(pair, ensure_ascii=False, sort_keys=True) + "\n")
                            pairs += 1
                write_chunk()
            tmp.replace(out)  # a killed export never leaves a half file under the real name
            run_id = None
            if record:
                run = ExportRun(window_start=start, window_end=end, rows=rows,
                                dataset_sha256=digest.hexdigest(), path=str(out), knowledge_sha256=knowledge_sha256,
                                pairs=pairs if pairs_path else None, stale_rows=stale_rows if critic else None)
                session.add(run)
                signal_ids.seek(0)
                record_export_signals(session, run.dataset_sha256, (line.rstrip("\n") for line in signal_ids))
                session.commit()
                run_id = run.id
        return ExportResult(path=str(out), rows=rows, dataset_sha256=digest.hexdigest(),
                            window_start=_iso(start), window_end=_iso(end) or "", export_run_id=run_id,
                            pairs=pairs, stale_rows=stale_rows, knowledge_sha256=knowledge_sha256)
    finally:
        if owned:
            engine.dispose()

"""Export training signals to chat-messages JSONL, incrementally from a watermark.

Two streaming queries, whatever the number of rows: the signals of the window (joined with their
session's outcome and their newest admin correction, found by one index lookup per signal), and their
candidates in the same order. Both stream plain rows (Core, no ORM identity map) with server-side cursors
(``yield_per``) and are merged like a sort-merge join, so memory stays bounded by one signal's candidates.
Each row's grounding is the one the gateway stored with the turn while that still holds (``stored_grounding``),
else rebuilt, with the same bytes either way. Rows are ordered by ``(created_at, id)`` and serialised with keys in a
fixed order, so the same window always gives the same bytes; the sha256 of those bytes is recorded in ``ExportRun``
with the window.

The watermark (``last_watermark``): an incremental export starts where the newest export made before the newest
version that *holds the watermark* ended. A version holds it when the gate did not refuse it (or it was deployed
anyway), it is not trained on erased data, and it was trained on today's facts. So a run that died before
evaluation, or whose version the gate refused ("not enough data"), leaves its window to be exported again with
the next run's new rows, and a knowledge-base change re-exports every stored answer, re-judged under the new facts.

A stored row the export cannot read (a JSON column that is not JSON, a conversation that is not a list of
messages, a quality score that is not a number) is skipped, counted and logged with its signal id
(``ExportResult.skipped_rows``, ``skipped``); every other row is exported and nothing stored is changed.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import math
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import JSON, Connection, Engine, Text, TypeDecorator, cast, func, or_, select, type_coerce, union
from sqlalchemy.orm import Session

from hibachi import fastjson
from hibachi.lineage import record_export_signals
from hibachi.prompt import PROMPT_VERSION, _text, assemble, facts_sha256
from hibachi.records import (
    AdminCorrection,
    Candidate,
    ChatSession,
    DeploymentState,
    ExportRun,
    ModelLineage,
    ModelVersion,
    TrainingSignal,
)

SERVER_FETCH_ROWS = 500  # rows per fetch from a database server: each fetch is a round trip
SQLITE_FETCH_ROWS = 32  # in-process: a small batch's rows are still in the CPU cache when they become records
WRITE_LINES = 64  # JSONL lines written and hashed at a time
SKIPPED_LISTED = 100  # skipped rows named in the result (all are counted and logged)

log = logging.getLogger(__name__)


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
    skipped_rows: int = 0  # stored rows that could not be read (malformed), left out; nothing stored is changed
    skipped: tuple[dict[str, str], ...] = ()  # the first SKIPPED_LISTED of them: {"signal_id", "reason"}

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


def last_watermark(session: Session, knowledge_sha256: str | None = None) -> datetime | None:
    """Where the next incremental export starts: the end of the newest window exported before the newest version
    that holds the watermark (``watermark_holders``); None (export everything) when no version holds it.

    An export whose run died before evaluation recorded a version does not move the watermark, nor does one whose
    version the gate refused: the next run exports that window again with its own new rows, so a small business's
    trickle of data accumulates until there is enough. A version trained on erased data does not count, so the next
    run retrains on its window without the erased rows. With ``knowledge_sha256`` (today's facts), a version trained
    on other facts does not count, so after a knowledge-base change the stored answers are exported again,
    re-judged under the new facts.
    """
    newest_version = select(func.max(ModelVersion.created_at)).where(*watermark_holders(knowledge_sha256)) \
        .scalar_subquery()
    return _utc(session.scalar(select(func.max(ExportRun.window_end))
                               .where(ExportRun.created_at <= newest_version)))


def watermark_holders(knowledge_sha256: str | None = None) -> list[Any]:
    """The conditions for a model version to hold the export watermark.

    Not refused by the gate (a version with no gate decision recorded counts) or deployed all the same; not
    trained on erased data; trained on ``knowledge_sha256``'s facts when given (a version with no hash recorded
    counts: it is not known to be built on other facts)."""
    tainted = select(ModelLineage.version_id).where(ModelLineage.erased_data_at.is_not(None))
    deployed = union(select(DeploymentState.stable_version).where(DeploymentState.stable_version.is_not(None)),
                     select(DeploymentState.canary_version).where(DeploymentState.canary_version.is_not(None)))
    holders = [ModelVersion.id.not_in(tainted),
               or_(ModelVersion.gate_passed.is_(None), ModelVersion.gate_passed.is_(True),
                   ModelVersion.id.in_(deployed))]
    if knowledge_sha256:
        holders.append(or_(ModelVersion.knowledge_sha256.is_(None), ModelVersion.knowledge_sha256 == knowledge_sha256))
    return holders


def _window_filter(stmt, since: datetime | None, until: datetime):
    stmt = stmt.where(TrainingSignal.created_at < until)
    return stmt.where(TrainingSignal.created_at >= since) if since is not None else stmt


SIGNAL_COLUMNS = ("id", "request_id", "session_id", "tenant", "prompt", "conversation", "topic", "chosen_response",
                  "chosen_provider", "served_by", "policy", "adapter_version", "quality_score", "critic_passed",
                  "trainable", "ground_truth", "created_at", "grounding", "grounding_kb_sha256", "grounding_version")
CANDIDATE_COLUMNS = ("signal_id", "provider", "model", "role", "response", "error", "critic_passed", "quality_score",
                     "violations", "chosen", "latency_ms")


@dataclass(frozen=True)
class Unreadable:
    """A JSON column's stored text that is not JSON. Returned instead of raising, as the row is read inside the
    cursor's fetch, where one raise would end the whole export; ``malformed`` skips the row."""

    text: str | bytes


def _loads_stored_json(value: Any) -> Any:
    """A JSON column's stored text as SQLAlchemy's SQLite JSON type reads it (``json.loads``), through
    ``hibachi.fastjson`` (orjson where it reads the same values). A value SQLite stored as a bare number comes
    back as it is, as there; text that is not JSON comes back as ``Unreadable``."""
    if not isinstance(value, str | bytes):
        return value
    try:
        return fastjson.loads(value)
    except ValueError:  # both decoders' errors (and a bad UTF-8 byte string's) are ValueErrors
        return Unreadable(value)


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


def _fetch_rows(conn: Connection) -> int:
    """Rows per fetch of the export's streaming cursors. SQLite reads in the process, so a batch only has to stay
    small: fetching 500 rows before turning them into records made the export 10% slower than fetching 32
    (``benchmarks/bench_export.py``); a server is asked once per batch, so there batches stay large."""
    return SQLITE_FETCH_ROWS if conn.dialect.name == "sqlite" else SERVER_FETCH_ROWS


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
    yield from conn.execution_options(yield_per=_fetch_rows(conn)).execute(_window_filter(stmt, since, until))


def _candidate_rows(conn: Connection, since: datetime | None, until: datetime) -> Iterator[Any]:
    table = Candidate.__table__
    stmt = (
        select(*(_column(conn, table.c[name]) for name in CANDIDATE_COLUMNS))
        .join(TrainingSignal, TrainingSignal.id == Candidate.signal_id)
        .order_by(TrainingSignal.created_at, TrainingSignal.id, Candidate.id)
    )
    yield from conn.execution_options(yield_per=_fetch_rows(conn)).execute(_window_filter(stmt, since, until))


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


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def malformed(s: dict[str, Any], candidates: list[dict]) -> str | None:
    """Why a stored row cannot be exported (the prompt contract, the filter and the pairs would fail on it), or None.

    Checked before the row is built, so a bad row is named and skipped instead of ending the export."""
    conversation = s["conversation"]
    if isinstance(conversation, Unreadable):
        return "conversation is not JSON"
    if conversation is not None and not (isinstance(conversation, list)
                                         and all(isinstance(m, dict) for m in conversation)):
        return f"conversation is not a list of messages (a {type(conversation).__name__})"
    if not isinstance(s["prompt"], str) or not isinstance(s["chosen_response"], str | None):
        return "prompt or chosen_response is not text"
    if s["quality_score"] is not None and not _is_number(s["quality_score"]):
        return f"quality_score is not a number ({s['quality_score']!r:.40})"
    for c in candidates:
        if isinstance(c["violations"], Unreadable):
            return f"a candidate's violations are not JSON ({c['provider']})"
        if c["violations"] is not None and not (isinstance(c["violations"], list)
                                                and all(isinstance(v, dict) for v in c["violations"])):
            return f"a candidate's violations are not a list of objects ({c['provider']})"
        if c["quality_score"] is not None and not _is_number(c["quality_score"]):
            return f"a candidate's quality_score is not a number ({c['provider']})"
    return None


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


def iter_records(engine: Engine, since: datetime | None, until: datetime,
                 on_skip: Any = None) -> Iterator[dict[str, Any]]:
    """Merge the two ordered streams (two connections): each signal with exactly its own candidates.

    A row ``malformed`` finds is not yielded: ``on_skip(signal_id, reason)`` is told (by default it is logged)."""
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
            reason = malformed(signal, own)
            if reason is not None:
                (on_skip or _log_skip)(signal["id"], reason)
                continue
            yield signal_record(signal, own, retriever)


def _log_skip(signal_id: str, reason: str) -> None:
    log.warning("export: skipped signal %s: %s", signal_id, reason)


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
                start = last_watermark(session, knowledge_sha256)
            end = _parse_time(until) or datetime.now(UTC)
            if start is not None and start >= end:
                raise ValueError(f"export window is empty: since {_iso(start)} is not before until {_iso(end)}")
            digest, rows = hashlib.sha256(), 0
            pairs = stale_rows = 0
            skipped: list[dict[str, str]] = []
            skipped_rows = 0

            def skip(signal_id: str, reason: str) -> None:
                nonlocal skipped_rows
                _log_skip(signal_id, reason)
                skipped_rows += 1
                if len(skipped) < SKIPPED_LISTED:
                    skipped.append({"signal_id": signal_id, "reason": reason})

            tmp = out.with_suffix(out.suffix + ".partial")
            # Lineage (which signals this hash holds) is recorded once the hash is known: the ids wait in a
            # temporary file, not a list, so memory stays flat however many rows the window has.
            signal_ids = files.enter_context(tempfile.TemporaryFile("w+", encoding="utf-8"))
            with ExitStack() as output:
                handle = output.enter_context(tmp.open("wb"))
                pairs_out = output.enter_context(open(pairs_path, "w", encoding="utf-8")) if pairs_path else None
                stale_out = output.enter_context(open(stale_path, "w", encoding="utf-8")) if stale_path else None
                chunk: list[bytes] = []  # lines written (and hashed) WRITE_LINES at a time: the same bytes

                def write_chunk() -> None:
                    data = b"".join(chunk)
                    handle.write(data)
                    digest.update(data)
                    chunk.clear()

                for record_ in iter_records(engine, start, end, skip):
                    violations = stale_violations(record_, critic) if critic is not None else None
                    if violations is not None:  # built from facts that changed: out of the data, and listed
                        stale_rows += 1
                        if stale_out is not None:
                            stale_out.write(json.dumps(stale_entry(record_, violations, knowledge_sha256),
                                                       ensure_ascii=False, sort_keys=True) + "\n")
                        continue
                    # Keys come in a fixed order from signal_record, so no sort is needed for stable bytes.
                    chunk.append(_json_line(record_))
                    if len(chunk) == WRITE_LINES:
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
                            pairs=pairs, stale_rows=stale_rows, knowledge_sha256=knowledge_sha256,
                            skipped_rows=skipped_rows, skipped=tuple(skipped))
    finally:
        if owned:
            engine.dispose()

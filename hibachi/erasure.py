"""The right to erasure, and retention: a customer's data removed from every table and from the files on disk.

``erase(session, selector, ...)`` finds the customer's conversations (by session id; by the ``user``
field, which the gateway stores as the session id when no X-Session-Id is sent; or by an email or
phone number they wrote, compared after ``hibachi.identifiers`` normalisation), then deletes their
sessions (outcomes live there), messages, signals, candidates, corrections, shadow comparisons and the
export-signal lineage rows; drops their lines from the JSONL datasets under the data directories and
redacts them from other text files there (reports, logs); marks every model version trained on one of
their signals as "trained on erased data"; and records the erasure: who, when, how many rows and
files, never what was erased. On SQLite the deleted rows are overwritten (``secure_delete``) and the
write-ahead log truncated, so the database file keeps no copy either.

``apply_retention`` deletes raw conversation transcripts older than ``retention.conversation_days``.
"""

from __future__ import annotations

import html
import json
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Text, cast, delete, func, or_, select
from sqlalchemy.orm import Session

from hibachi.errors import UserError
from hibachi.identifiers import emails_in, normalize_email, normalize_phone, phone_hint, phones_in
from hibachi.lineage import mark_trained_on_erased_data, versions_trained_on
from hibachi.records import (
    AdminCorrection,
    Candidate,
    ChatMessage,
    ChatSession,
    Erasure,
    ExportSignal,
    ShadowComparison,
    TrainingSignal,
    utcnow,
)

SELECTORS = ("session", "user", "email", "phone")
CHUNK = 500
MAX_TEXT_FILE_BYTES = 64 * 2**20
MIN_ID_NEEDLE = 6  # shorter ids are matched only as whole JSON values, never as substrings of free text
MIN_TEXT_NEEDLE = 12  # shorter customer messages ("yes", "thanks") are not searched for in free text
REDACTED = "[erased]"
SQLITE_FILES = (".db", ".db-wal", ".db-shm", ".db-journal", ".sqlite", ".sqlite3")


@dataclass(frozen=True)
class Selector:
    """Who to erase: ``kind`` one of SELECTORS and the value as given (normalised on use)."""

    kind: str
    value: str

    def __post_init__(self) -> None:
        if self.kind not in SELECTORS:
            raise UserError(f"erase by one of {', '.join(SELECTORS)}, not {self.kind!r}")
        if not self.value or not self.value.strip():
            raise UserError(f"erase by {self.kind}: the value is empty")

    @classmethod
    def one_of(cls, **given: str | None) -> Selector:
        """Exactly one of session=..., user=..., email=..., phone=... (the CLI's and the API's options)."""
        chosen = [(k, v) for k, v in given.items() if v]
        if len(chosen) != 1:
            raise UserError("give exactly one of --session, --user, --email, --phone")
        return cls(*chosen[0])


@dataclass
class Customer:
    """What was found of one customer: the keys to delete by and the needles to look for in files."""

    sessions: set[str] = field(default_factory=set)
    signals: set[str] = field(default_factory=set)
    requests: set[str] = field(default_factory=set)
    texts: set[str] = field(default_factory=set)  # their own messages
    emails: set[str] = field(default_factory=set)
    phones: set[str] = field(default_factory=set)
    raw: set[str] = field(default_factory=set)  # identifiers exactly as given

    @property
    def ids(self) -> set[str]:
        return self.sessions | self.signals | self.requests


@dataclass
class ErasureResult:
    erasure_id: int | None
    dry_run: bool
    selector: str
    sessions: int
    rows: dict[str, int]
    files: dict[str, int]
    model_versions: list[str]
    outbox_files_mentioning: int = 0
    changed_files: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _chunks(values: Iterable[str]) -> Iterator[list[str]]:
    items = sorted(values)
    for start in range(0, len(items), CHUNK):
        yield items[start:start + CHUNK]


def _sessions_mentioning(session: Session, needle: str) -> set[str]:
    """Sessions with the needle (lower-case) in a message, a prompt or the conversation a signal carried."""
    found = set(session.scalars(select(ChatMessage.session_id).distinct()
                                .where(func.lower(ChatMessage.content).contains(needle, autoescape=True))))
    found |= set(session.scalars(select(TrainingSignal.session_id).distinct().where(or_(
        func.lower(TrainingSignal.prompt).contains(needle, autoescape=True),
        func.lower(cast(TrainingSignal.conversation, Text)).contains(needle, autoescape=True)))))
    return found


def _session_texts(session: Session, session_ids: set[str]) -> Iterator[tuple[str, str]]:
    for chunk in _chunks(session_ids):
        yield from session.execute(select(ChatMessage.session_id, ChatMessage.content)
                                   .where(ChatMessage.session_id.in_(chunk))).tuples()
        for sid, prompt, conversation in session.execute(
                select(TrainingSignal.session_id, TrainingSignal.prompt, TrainingSignal.conversation)
                .where(TrainingSignal.session_id.in_(chunk))).tuples():
            yield sid, prompt
            for message in conversation or []:
                yield sid, str(message.get("content") or "")


def find_sessions(session: Session, selector: Selector) -> tuple[set[str], set[str]]:
    """(the customer's session ids, the normalised identifiers they were found by)."""
    if selector.kind in ("session", "user"):
        value = selector.value.strip()
        exists = session.get(ChatSession, value) is not None or session.scalar(
            select(TrainingSignal.id).where(TrainingSignal.session_id == value).limit(1)) is not None
        found = {value} if exists else set()
        if selector.kind == "user":
            # The gateway keeps the client's `user` field on the session; without an X-Session-Id header the
            # user was also the session id, which the lookup above finds.
            found |= set(session.scalars(select(ChatSession.id).where(ChatSession.customer_user == value)))
        return found, set()
    if selector.kind == "email":
        email = normalize_email(selector.value)
        candidates = _sessions_mentioning(session, email)
        matches = {sid for sid, text in _session_texts(session, candidates) if email in emails_in(text)}
        return matches, {email}
    phone = normalize_phone(selector.value)
    candidates = _sessions_mentioning(session, phone_hint(phone))
    matches = {sid for sid, text in _session_texts(session, candidates)
               if phone_hint(phone) in text and phone in phones_in(text)}
    return matches, {phone}


def gather(session: Session, selector: Selector) -> Customer:
    sessions, identifiers = find_sessions(session, selector)
    customer = Customer(sessions=sessions, raw={selector.value.strip()})
    if selector.kind == "email":
        customer.emails = identifiers
    elif selector.kind == "phone":
        customer.phones = identifiers
    for chunk in _chunks(sessions):
        for sid, rid, prompt, conversation in session.execute(
                select(TrainingSignal.id, TrainingSignal.request_id, TrainingSignal.prompt,
                       TrainingSignal.conversation).where(TrainingSignal.session_id.in_(chunk))).tuples():
            customer.signals.add(sid)
            customer.requests.add(rid)
            customer.texts.add(prompt)
            customer.texts.update(str(m.get("content") or "") for m in conversation or [] if m.get("role") == "user")
        customer.texts.update(session.scalars(select(ChatMessage.content).where(
            ChatMessage.session_id.in_(chunk), ChatMessage.role == "user")))
    customer.texts = {t for t in customer.texts if t.strip()}
    return customer


# --- the database ---

def _row_counts(session: Session, customer: Customer) -> dict[str, int]:
    counts = dict.fromkeys(("chat_sessions", "chat_messages", "training_signals", "candidates",
                            "admin_corrections", "shadow_comparisons", "export_signals"), 0)

    def count(model, column, chunk) -> int:
        return session.scalar(select(func.count()).select_from(model).where(column.in_(chunk))) or 0

    for chunk in _chunks(customer.sessions):
        counts["chat_sessions"] += count(ChatSession, ChatSession.id, chunk)
        counts["chat_messages"] += count(ChatMessage, ChatMessage.session_id, chunk)
    for chunk in _chunks(customer.signals):
        counts["training_signals"] += count(TrainingSignal, TrainingSignal.id, chunk)
        counts["candidates"] += count(Candidate, Candidate.signal_id, chunk)
        counts["admin_corrections"] += count(AdminCorrection, AdminCorrection.signal_id, chunk)
        counts["shadow_comparisons"] += count(ShadowComparison, ShadowComparison.signal_id, chunk)
        counts["export_signals"] += count(ExportSignal, ExportSignal.signal_id, chunk)
    return counts


def _delete_rows(session: Session, customer: Customer) -> None:
    """Children first: foreign keys hold on both backends whether or not they cascade."""
    for chunk in _chunks(customer.signals):
        for model, column in ((Candidate, Candidate.signal_id), (AdminCorrection, AdminCorrection.signal_id),
                              (ShadowComparison, ShadowComparison.signal_id),
                              (ExportSignal, ExportSignal.signal_id)):
            session.execute(delete(model).where(column.in_(chunk)))
    for chunk in _chunks(customer.sessions):
        session.execute(delete(ChatMessage).where(ChatMessage.session_id.in_(chunk)))
    for chunk in _chunks(customer.signals):
        session.execute(delete(TrainingSignal).where(TrainingSignal.id.in_(chunk)))
    for chunk in _chunks(customer.sessions):
        session.execute(delete(ChatSession).where(ChatSession.id.in_(chunk)))


def _sqlite(session: Session) -> bool:
    return session.get_bind().dialect.name == "sqlite"


def _secure_delete(session: Session) -> None:
    if _sqlite(session):
        session.connection().exec_driver_sql("PRAGMA secure_delete=ON")


def _truncate_sqlite_log(session: Session) -> None:
    """After the commit: fold the write-ahead log (which holds the old pages) into the file and empty it."""
    if _sqlite(session):
        with session.get_bind().connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


# --- the files ---

def _forms(text: str) -> set[str]:
    """How a string may be written in a file: as is, JSON-escaped (either way for non-ASCII), HTML-escaped."""
    return {text, json.dumps(text)[1:-1], json.dumps(text, ensure_ascii=False)[1:-1], html.escape(text),
            html.escape(text, quote=False)}


class Needles:
    def __init__(self, customer: Customer) -> None:
        self.ids = customer.ids
        self.texts = customer.texts
        self.emails = customer.emails
        self.phones = customer.phones
        self.raw = {r for r in customer.raw if len(r) >= MIN_ID_NEEDLE}
        free = {i for i in self.ids if len(i) >= MIN_ID_NEEDLE} | self.raw | self.emails | {
            t for t in self.texts if len(t) >= MIN_TEXT_NEEDLE}
        self.free_forms = sorted({f for text in free for f in _forms(text) if f}, key=len, reverse=True)
        self.hints = [phone_hint(p) for p in self.phones]
        self.empty = not (self.ids or self.texts or self.emails or self.phones)

    def might_be_in(self, line: str) -> bool:
        """A cheap test first: could this line hold anything of theirs?"""
        lowered = line.lower()
        return (any(f in line for f in self.free_forms) or any(e in lowered for e in self.emails)
                or any(h in line for h in self.hints) or any(i in line for i in self.ids))

    def matches_value(self, value: str) -> bool:
        if value in self.ids or value in self.texts or value in self.raw:
            return True
        if any(t in value for t in self.texts if len(t) >= MIN_TEXT_NEEDLE):
            return True
        if self.emails and self.emails & emails_in(value):
            return True
        return bool(self.phones and any(h in value for h in self.hints) and self.phones & phones_in(value))


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _line_is_theirs(line: str, needles: Needles) -> bool:
    if not needles.might_be_in(line):
        return False
    try:
        record = json.loads(line)
    except ValueError:
        return True  # a torn or foreign line that mentions them: drop it rather than keep it
    return any(needles.matches_value(s) for s in _strings(record))


def _binary(path: Path) -> bool:
    with path.open("rb") as handle:
        return b"\0" in handle.read(8192)


def _is_jsonl(path: Path) -> bool:
    """A .jsonl file, or a suffix-less one whose first line is a JSON object (how pipeline artifacts are named)."""
    if path.suffix == ".jsonl" or path.name.endswith(".jsonl.partial"):
        return True
    if path.suffix:
        return False
    with path.open(encoding="utf-8", errors="replace") as handle:
        first = handle.readline(1 << 20).strip()
    try:
        return first.startswith("{") and isinstance(json.loads(first), dict)
    except ValueError:
        return False


def _rewrite_jsonl(path: Path, needles: Needles, dry_run: bool) -> int:
    """Drop their lines; the file is replaced atomically. Returns the lines dropped."""
    dropped = 0
    tmp = path.with_name(path.name + ".erasing")
    with path.open(encoding="utf-8", errors="surrogateescape", newline="") as src:
        out = None if dry_run else tmp.open("w", encoding="utf-8", errors="surrogateescape", newline="")
        try:
            for line in src:
                if _line_is_theirs(line.rstrip("\r\n"), needles):
                    dropped += 1
                elif out is not None:
                    out.write(line)
        finally:
            if out is not None:
                out.close()
    if dry_run:
        return dropped
    if dropped:
        os.replace(tmp, path)
    else:
        tmp.unlink()
    return dropped


def _redact_text(path: Path, needles: Needles, dry_run: bool) -> int:
    """Replace every written form of their ids, identifiers and messages; returns the replacements."""
    text = path.read_text(encoding="utf-8", errors="surrogateescape")
    replaced = 0
    for form in needles.free_forms:
        if form in text:
            replaced += text.count(form)
            text = text.replace(form, REDACTED)
    for email in needles.emails:  # written in any case
        text, count = re.subn(re.escape(email), REDACTED, text, flags=re.IGNORECASE)
        replaced += count
    if needles.phones and any(h in text for h in needles.hints):
        import phonenumbers

        from hibachi.identifiers import DEFAULT_REGION

        for match in reversed(list(phonenumbers.PhoneNumberMatcher(text, DEFAULT_REGION,
                                                                   leniency=phonenumbers.Leniency.POSSIBLE))):
            if phonenumbers.format_number(match.number, phonenumbers.PhoneNumberFormat.E164) in needles.phones:
                text = text[:match.start] + REDACTED + text[match.end:]
                replaced += 1
    if replaced and not dry_run:
        tmp = path.with_name(path.name + ".erasing")
        tmp.write_text(text, encoding="utf-8", errors="surrogateescape")
        os.replace(tmp, path)
    return replaced


def _files(roots: Iterable[Path], skip: Iterable[Path]) -> Iterator[Path]:
    skipped = {p.resolve() for p in skip}
    seen: set[Path] = set()
    for root in roots:
        if not root.exists():
            continue
        for dirpath, dirnames, filenames in os.walk(root):
            here = Path(dirpath).resolve()
            dirnames[:] = [d for d in dirnames if (here / d).resolve() not in skipped]
            for name in filenames:
                path = here / name
                if path in seen or path.is_symlink() or not path.is_file() or name.endswith(SQLITE_FILES):
                    continue
                seen.add(path)
                yield path


def scrub_files(roots: Iterable[Path], customer: Customer, *, skip: Iterable[Path] = (),
                dry_run: bool = False) -> tuple[dict[str, int], list[str]]:
    """Remove the customer from every text file under ``roots``: JSONL lines dropped, other text redacted."""
    needles = Needles(customer)
    report = {"files_scanned": 0, "datasets_rewritten": 0, "dataset_lines_removed": 0, "files_redacted": 0,
              "redactions": 0}
    changed: list[str] = []
    if needles.empty:
        return report, changed
    for path in _files(roots, skip):
        report["files_scanned"] += 1
        try:
            if _binary(path):
                continue
            if _is_jsonl(path):
                dropped = _rewrite_jsonl(path, needles, dry_run)
                if dropped:
                    report["datasets_rewritten"] += 1
                    report["dataset_lines_removed"] += dropped
                    changed.append(str(path))
            elif path.stat().st_size <= MAX_TEXT_FILE_BYTES:
                count = _redact_text(path, needles, dry_run)
                if count:
                    report["files_redacted"] += 1
                    report["redactions"] += count
                    changed.append(str(path))
        except OSError:
            report.setdefault("files_unreadable", 0)
            report["files_unreadable"] += 1
    return report, changed


def _outbox_mentions(outbox: Path | None, customer: Customer) -> int:
    """Journal segments not yet drained that mention them (left alone: rewriting them would corrupt the journal),
    in every worker's journal (``outbox/worker-N``, see gateway.outbox)."""
    if outbox is None or not outbox.is_dir():
        return 0
    needles = Needles(customer)
    if needles.empty:
        return 0
    found = 0
    for segment in outbox.rglob("*.jsonl"):
        with segment.open(encoding="utf-8", errors="replace") as handle:
            if any(_line_is_theirs(line.rstrip("\n"), needles) for line in handle):
                found += 1
    return found


def erase(session: Session, selector: Selector, *, actor: str, data_dirs: Iterable[Path] = (),
          outbox_dir: Path | None = None, dry_run: bool = False, now: datetime | None = None) -> ErasureResult:
    """Erase one customer everywhere (see the module docstring); commits. ``dry_run`` only counts."""
    customer = gather(session, selector)
    if not customer.sessions:
        raise UserError(f"erase by {selector.kind}: no conversation matches; nothing was erased")
    rows = _row_counts(session, customer)
    versions = versions_trained_on(session, customer.signals)
    roots = [Path(d) for d in data_dirs]
    skip = [outbox_dir] if outbox_dir else []
    pending = _outbox_mentions(outbox_dir, customer)
    if dry_run:
        files, changed = scrub_files(roots, customer, skip=skip, dry_run=True)
        session.rollback()
        return ErasureResult(None, True, selector.kind, len(customer.sessions), rows, files, versions, pending,
                             changed)
    when = now or utcnow()
    _secure_delete(session)
    _delete_rows(session, customer)
    record = Erasure(kind="erase", selector=selector.kind, actor=actor[:128], rows=rows, files={},
                     model_versions=versions, created_at=when)
    session.add(record)
    session.flush()
    mark_trained_on_erased_data(session, versions, record.id, when)
    session.commit()
    _truncate_sqlite_log(session)
    # Files after the commit: a failure here leaves the database erased and the command can simply be rerun.
    files, changed = scrub_files(roots, customer, skip=skip)
    record = session.get(Erasure, record.id)
    record.files = files
    session.commit()
    return ErasureResult(record.id, False, selector.kind, len(customer.sessions), rows, files, versions, pending,
                         changed)


def erasures(session: Session, limit: int = 50) -> list[dict[str, Any]]:
    """The erasure log, newest first (who, when, how many; never what)."""
    rows = session.scalars(select(Erasure).order_by(Erasure.id.desc()).limit(limit))
    return [{"id": r.id, "kind": r.kind, "selector": r.selector, "actor": r.actor, "rows": r.rows, "files": r.files,
             "model_versions": r.model_versions,
             "created_at": (r.created_at.replace(tzinfo=UTC) if r.created_at.tzinfo is None
                            else r.created_at).isoformat()} for r in rows]


# --- retention ---

@dataclass
class RetentionResult:
    erasure_id: int | None
    dry_run: bool
    days: int
    cutoff: str
    rows: dict[str, int]
    oldest: str | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _bare_sessions(cutoff: datetime):
    """Sessions older than the cutoff with no signal left: nothing in training needs them."""
    has_signal = select(TrainingSignal.id).where(TrainingSignal.session_id == ChatSession.id).exists()
    return select(ChatSession.id).where(ChatSession.created_at < cutoff, ~has_signal)


def apply_retention(session: Session, days: int | None, *, actor: str, dry_run: bool = False,
                    now: datetime | None = None) -> RetentionResult:
    """Delete conversation transcripts (chat messages) older than ``days``, and sessions left with no signal.

    The training signals stay: exports and the scrubbed training rows are built from them (the prompt,
    the served answer and the turns before it), not from the transcript.
    """
    if days is None:
        raise UserError("retention is off: set retention.conversation_days (HIBACHI_RETENTION__CONVERSATION_DAYS) "
                        "or pass --days")
    if days < 1:
        raise UserError(f"retention: days must be at least 1, got {days}")
    now = now or utcnow()
    cutoff = now - timedelta(days=days)
    old_messages = select(func.count()).select_from(ChatMessage).where(ChatMessage.created_at < cutoff)
    bare = _bare_sessions(cutoff).subquery()
    rows = {"chat_messages": session.scalar(old_messages) or 0,
            "chat_sessions": session.scalar(select(func.count()).select_from(bare)) or 0}
    oldest = session.scalar(select(func.min(ChatMessage.created_at)).where(ChatMessage.created_at < cutoff))
    result = RetentionResult(None, dry_run, days, cutoff.isoformat(), rows,
                             oldest.replace(tzinfo=UTC).isoformat() if oldest and oldest.tzinfo is None
                             else (oldest.isoformat() if oldest else None))
    if dry_run:
        session.rollback()
        return result
    _secure_delete(session)
    session.execute(delete(ChatMessage).where(ChatMessage.created_at < cutoff))
    bare_ids = list(session.scalars(_bare_sessions(cutoff)))
    for chunk in _chunks(bare_ids):
        session.execute(delete(ChatMessage).where(ChatMessage.session_id.in_(chunk)))
        session.execute(delete(ChatSession).where(ChatSession.id.in_(chunk)))
    record = Erasure(kind="retention", selector="age", actor=actor[:128], rows=rows, files={}, model_versions=[],
                     created_at=now)
    session.add(record)
    session.commit()
    _truncate_sqlite_log(session)
    result.erasure_id = record.id
    return result

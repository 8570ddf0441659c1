"""Loss-free signal capture: every answer's record is in the local journal, fsynced, before the reply; a
``SignalWriter`` stores the journal in the database (gateway.signal_writer).

``Capture.record(...)`` returns once the record is fsynced in the local journal (see gateway.journal),
so a 200 implies a durable signal even under SIGKILL. The journal is stored by this process's own writer thread,
or for ``gateway serve --workers N`` by the supervisor's relay over every worker's journal (``drain=False`` here),
so the process answering customers never shares its interpreter lock with the database writer.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

from gateway.journal import Journal
from gateway.signal_writer import SignalWriter

KNOWN_SESSIONS = 10_000


class Capture:
    """This process's journal and, unless ``drain`` is off (another process stores it), the writer that stores it.

    ``writer_options`` go to ``SignalWriter`` (batch size, backoff, migration, metrics callbacks)."""

    def __init__(self, outbox_dir: Path, database_url: str, *, drain: bool = True, **writer_options) -> None:
        self.journal = Journal(outbox_dir)
        self.writer = SignalWriter(self.journal, database_url, **writer_options) if drain else None
        self._sessions: OrderedDict[str, None] = OrderedDict()

    @property
    def database_up(self) -> bool | None:
        """None when this process stores nothing (another one does)."""
        return self.writer.database_up if self.writer else None

    def try_migrate(self) -> bool:
        return self.writer.try_migrate() if self.writer else True

    def start(self) -> None:
        if self.writer:
            self.writer.start()

    async def record(self, record: dict) -> None:
        await self.journal.append(record)
        self._remember(record.get("session_id"))

    def record_sync(self, record: dict) -> None:
        self.journal.append_sync(record)
        self._remember(record.get("session_id"))

    def _remember(self, session_id: str | None) -> None:
        if session_id:
            self._sessions[session_id] = None
            while len(self._sessions) > KNOWN_SESSIONS:
                self._sessions.popitem(last=False)

    def knows_session(self, session_id: str) -> bool:
        """Seen by this process recently (its signal may still be on its way to the database)."""
        return session_id in self._sessions

    def backlog_bytes(self) -> int:
        return self.journal.backlog_bytes()

    def wait_drained(self, timeout_s: float = 10.0) -> bool:
        """Everything journaled is stored (False at once when another process stores this journal)."""
        return self.writer is not None and self.writer.wait_drained(timeout_s)

    def stop(self, drain_timeout_s: float = 5.0) -> None:
        """Close the journal (everything acknowledged is on disk), give the writer a moment to finish, stop it."""
        self.journal.close(keep_ownership=True)
        if self.writer:
            self.writer.stop(drain_timeout_s)
        self.journal.release()

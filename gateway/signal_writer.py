"""The database side of capture: one thread storing journal records in batches (one transaction per batch: group
commit), riding out database outages with exponential backoff while the gateway keeps answering.

A writer reads its ``source``: this process's own ``Journal`` (``Capture``), or an ``OutboxReader`` over every
worker's journal (the relay that the supervisor of ``gateway serve --workers N`` runs). ``request_id`` is UNIQUE and
already-stored ids are skipped, so replaying a journal after a crash stores each request exactly once; a record the
database refuses is stored with its text made storable, or kept aside in ``rejected.jsonl``, never retried for ever.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.exc import DataError, IntegrityError

from gateway.journal import Batch, Journal, OutboxReader
from gateway.storage import GROUNDING_FIELDS, store_records, with_storable_text
from hibachi.db import make_engine, session_factory, upgrade

log = logging.getLogger("gateway.capture")


class SignalWriter:
    """Stores what ``source`` holds in the database, from its own thread (``start`` / ``stop``)."""

    def __init__(self, source: Journal | OutboxReader, database_url: str, *, batch_size: int = 200,
                 max_backoff_s: float = 5.0, migrate: bool = True, linger_s: float = 0.25,
                 on_stored: Callable[[int], None] | None = None,
                 on_db_state: Callable[[bool], None] | None = None) -> None:
        self.source = source
        self.batch_size = batch_size
        self.max_backoff_s = max_backoff_s
        self.linger_s = linger_s
        self.migrate = migrate
        self.on_stored = on_stored or (lambda n: None)
        self.on_db_state = on_db_state or (lambda up: None)
        self.engine: Engine = make_engine(database_url)
        self.database_up: bool | None = None
        self.last_error: str | None = None
        self._migrated = not migrate
        self._stop = threading.Event()
        self._engine_lock = threading.Lock()
        self._thread = threading.Thread(target=self._drain_loop, name="capture-writer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def try_migrate(self) -> bool:
        """Bring the schema up to date now if the database answers; otherwise the writer does it later."""
        if self._migrated:
            return True
        try:
            upgrade(self.engine)
        except Exception as exc:  # noqa: BLE001 - an unreachable database must not stop the gateway starting
            self._set_db_state(False, exc)
            return False
        self._migrated = True
        self._set_db_state(True)  # readiness and /metrics say so from the start, not after the first signal
        return True

    def swap_engine(self, engine: Engine) -> Engine:
        """Point the writer at another database (operators moving databases; tests simulating an outage)."""
        with self._engine_lock:
            previous, self.engine = self.engine, engine
            self._migrated = not self.migrate
        return previous

    def backlog_bytes(self) -> int:
        return self.source.backlog_bytes()

    def wait_drained(self, timeout_s: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.backlog_bytes() == 0:
                return True
            time.sleep(0.02)
        return False

    def stop(self, drain_timeout_s: float = 5.0) -> None:
        """Give the writer a moment to store what is left, then stop it. Call it once the source's writers have
        stopped (a ``Journal`` closed): a relay then also stores what is left in their newest segments."""
        relay = isinstance(self.source, OutboxReader)
        if relay:
            self.source.writers_stopped = True
        if self._thread.ident is not None:
            if self.database_up:
                self.wait_drained(drain_timeout_s)
            self._stop.set()
            if isinstance(self.source, Journal):
                self.source.appended.set()
            self._thread.join(timeout=drain_timeout_s + 5)
        if relay and not self._thread.is_alive():
            self.source.read(self.batch_size)  # removes what is stored in full; anything else waits for a restart
        self.engine.dispose()

    def _drain_loop(self) -> None:
        backoff = 0.05
        while not self._stop.is_set():
            try:
                stored = self._drain_once()
            except Exception as exc:  # noqa: BLE001 - a database outage must never kill the writer
                self._set_db_state(False, exc)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, self.max_backoff_s)
                continue
            backoff = 0.05
            if not stored and isinstance(self.source, Journal):
                self.source.appended.clear()
                self.source.appended.wait(0.5)
            elif not stored:
                self._stop.wait(self.linger_s)  # a relay polls: the journals' writers are other processes
            elif stored < self.batch_size:
                # Linger a moment so the next transaction carries many records (group commit).
                self._stop.wait(self.linger_s)

    def _drain_once(self) -> int:
        with self._engine_lock:
            engine = self.engine
        if not self._migrated:
            upgrade(engine)
            self._migrated = True
        batch = self.source.read(self.batch_size)
        if batch is None:
            return 0
        self._store(engine, batch)
        self.source.commit(batch)
        self._set_db_state(True)
        self.on_stored(len(batch.records))
        return max(len(batch.records), 1)

    def _store(self, engine: Engine, batch: Batch) -> None:
        factory = session_factory(engine)
        try:
            with factory.begin() as session:
                store_records(session, batch.records)
        except (IntegrityError, DataError, UnicodeEncodeError):
            # Another writer stored some of these meanwhile, or one holds a value the database refuses or its driver
            # cannot encode: store them one by one, so one record can never hold back the rest.
            for record in batch.records:
                self._store_one(factory, record, batch.segment.parent)

    def _store_one(self, factory, record: dict, directory: Path) -> None:
        try:
            with factory.begin() as session:
                store_records(session, [record])
            return
        except IntegrityError as exc:
            log.warning("capture record skipped as duplicate",
                        extra={"request_id": record.get("request_id"), "error": str(exc.orig)[:200]})
            return
        except DataError as exc:
            error = str(exc.orig).splitlines()[0][:200]
        except UnicodeEncodeError as exc:
            error = str(exc)[:200]
        try:  # NUL (PostgreSQL refuses it in text) or a lone surrogate (no driver encodes it) in a provider's answer
            with factory.begin() as session:
                # The grounding as built, never with replacements: an unstorable one is dropped (export rebuilds it).
                store_records(session, [{**with_storable_text(record),
                                         **{k: record[k] for k in GROUNDING_FIELDS if k in record}}])
            log.warning("capture record stored with unstorable characters replaced",
                        extra={"request_id": record.get("request_id"), "error": error})
            return
        except IntegrityError:
            return  # stored already (with the replacement, by an earlier pass)
        except DataError as exc:
            error = str(exc.orig).splitlines()[0][:200]
        # Still refused (a value too long for its column, ...): kept aside, not retried for ever.
        rejected = directory / "rejected.jsonl"
        with rejected.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps({"error": error, "record": record}, default=str) + "\n")
        log.error("capture record refused by the database; kept in the outbox's rejected.jsonl",
                  extra={"request_id": record.get("request_id"), "error": error})

    def _set_db_state(self, up: bool, exc: Exception | None = None) -> None:
        if exc is not None:
            message = str(getattr(exc, "orig", None) or exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
            if self.database_up is not False or message != self.last_error:
                log.warning("database unavailable; signals wait in the journal", extra={"error": message})
            self.last_error = message
        if up != self.database_up:
            if up and self.database_up is False:
                log.info("database reachable again; draining the journal")
            self.database_up = up
            self.on_db_state(up)

"""Engines, sessions and migrations for the record schema (SQLite embedded, PostgreSQL in production)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from hibachi.errors import UserError

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


class DatabaseError(UserError, RuntimeError):
    """The database cannot be used; the message says which URL (password hidden) and why."""


def safe_url(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable database URL>"


def make_engine(url: str, *, pool_size: int = 10, connect_timeout_s: int = 5) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise DatabaseError(f"database URL is not valid: {exc}") from None
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            folder = Path(parsed.database).parent
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:  # a file in the way, no permission: the user's to fix, not a traceback
                reason = "a file of that name is in the way" if isinstance(exc, FileExistsError) else exc.strerror
                raise DatabaseError(f"database {safe_url(url)}: cannot create its directory {folder}: "
                                    f"{reason or exc}") from None
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # WAL lets readers and one writer work together
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    return create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        connect_args={"connect_timeout": connect_timeout_s},
    )


def check_connection(engine: Engine) -> None:
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise DatabaseError(f"cannot reach database {safe_url(str(engine.url))}: {reason}") from None


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply migrations up to ``revision``; each runs in its own transaction."""
    check_connection(engine)
    command.upgrade(alembic_config(engine), revision)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A unit of work: commit on success, roll back on any error, always close."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


@contextmanager
def cli_session(url: str | None = None) -> Iterator[Session]:
    """A session for a command: an unreachable or unmigrated database is a one-line UserError, not a traceback."""
    from sqlalchemy.exc import ProgrammingError

    from hibachi.settings import get_settings

    url = url or get_settings().database_url
    engine = make_engine(url)
    try:
        check_connection(engine)
        with session_factory(engine)() as session:
            try:
                yield session
            except (OperationalError, ProgrammingError) as exc:
                reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
                raise DatabaseError(f"database {safe_url(url)} cannot be used ({reason}); {_advice(reason)}") \
                    from None
    finally:
        engine.dispose()


def _advice(reason: str) -> str:
    """What to do about a failed statement: only a missing table or column is a missing migration."""
    lowered = reason.lower()
    if "locked" in lowered or "busy" in lowered:
        return "another process holds it (a long write); run the command again"
    if any(word in lowered for word in ("no such table", "no such column", "does not exist", "undefinedtable")):
        return "run `hibachi db upgrade`"
    return "check that it is reachable and migrated (`hibachi db upgrade`)"

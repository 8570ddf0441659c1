"""Shared fixtures: isolated settings, the knowledge base, and databases (SQLite always, PostgreSQL when reachable).

Storage tests take the ``db_url`` fixture, which runs each test on SQLite and on PostgreSQL. The
PostgreSQL run needs ``HIBACHI_TEST_POSTGRES_URL`` (``make test-postgres`` and CI set it); without
it those cases skip with the reason shown. Every PostgreSQL test gets a fresh schema, dropped after.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from hibachi.knowledge import KnowledgeBase, load_knowledge_base
from hibachi.settings import Settings, reset_settings_cache

POSTGRES_ENV = "HIBACHI_TEST_POSTGRES_URL"


@pytest.fixture(autouse=True)
def _isolated_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No test reads the developer's hibachi.yaml, DATABASE_URL or var/ folder."""
    for name in list(os.environ):
        if name.startswith("HIBACHI_") and name != POSTGRES_ENV:
            monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("HIBACHI_CONFIG_FILE", str(tmp_path / "no-config.yaml"))
    monkeypatch.setenv("HIBACHI_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("HIBACHI_ENVIRONMENT", "test")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    reset_settings_cache()
    yield
    reset_settings_cache()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "var")


@pytest.fixture(scope="session")
def kb() -> KnowledgeBase:
    return load_knowledge_base()


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The embedded default's stand-in base model, built once per test run (the dev kit builds it)."""
    from devkit.tiny_model import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny-base") / "model")


def _postgres_schema_url(base_url: str) -> Iterator[str]:
    schema = f"hibachi_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:  # noqa: BLE001 - any failure here means "no PostgreSQL to test against"
        admin.dispose()
        pytest.skip(f"PostgreSQL at {base_url} is not reachable: {str(exc).splitlines()[0]}")
    separator = "&" if "?" in base_url else "?"
    try:
        yield f"{base_url}{separator}options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated-from-empty database URL on each backend; the PostgreSQL one is a fresh schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    base_url = os.environ.get(POSTGRES_ENV)
    if not base_url:
        pytest.skip(f"PostgreSQL storage tests need {POSTGRES_ENV} (make test-postgres sets it)")
    yield from _postgres_schema_url(base_url)


@pytest.fixture
def db(db_url: str):
    """A migrated database: (engine, session factory)."""
    from hibachi.db import make_engine, session_factory, upgrade

    engine = make_engine(db_url)
    upgrade(engine)
    try:
        yield engine, session_factory(engine)
    finally:
        engine.dispose()


# --- Fault suite: tests marked `fault` record what they injected; `make faults` prints the table. ---

_FAULT_ROWS: list[dict] = []


class FaultTable:
    """Collects one row per injected fault: requests sent, answered, signals stored, and lost."""

    def record(self, fault: str, *, sent: int, answered: int, stored: int, expected_stored: int | None = None,
               note: str = "") -> None:
        expected = answered if expected_stored is None else expected_stored
        _FAULT_ROWS.append({"fault": fault, "sent": sent, "answered": answered, "stored": stored,
                            "lost": max(expected - stored, 0), "unanswered": sent - answered, "note": note})


@pytest.fixture
def fault_table() -> FaultTable:
    return FaultTable()


def pytest_terminal_summary(terminalreporter, exitstatus, config):  # noqa: ARG001 - pytest hook signature
    if not _FAULT_ROWS:
        return
    header = ("fault", "sent", "answered", "stored", "lost", "unanswered", "note")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(row[h]) for h in header) + " |" for row in _FAULT_ROWS]
    totals = {h: sum(row[h] for row in _FAULT_ROWS) for h in ("sent", "answered", "stored", "lost", "unanswered")}
    lines.append(f"| total | {totals['sent']} | {totals['answered']} | {totals['stored']} | {totals['lost']} | "
                 f"{totals['unanswered']} | |")
    terminalreporter.write_sep("=", "fault suite")
    for line in lines:
        terminalreporter.write_line(line)
    out = Path("var/faults.md")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("# Fault suite\n\n" + "\n".join(lines) + "\n")
    terminalreporter.write_line(f"written to {out}")

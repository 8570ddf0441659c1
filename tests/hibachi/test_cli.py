"""The foundation's commands: help, database upgrade, knowledge-base validation and their one-line errors."""

from __future__ import annotations

import subprocess
import sys

import pytest
from sqlalchemy import create_engine, inspect


def hibachi(*args: str, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    import os

    env = {**os.environ, **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "hibachi_cli", *args], capture_output=True, text=True, env=env,
                          timeout=120)


def test_help_lists_the_command_groups():
    result = hibachi("--help")
    assert result.returncode == 0
    for group in ("db", "kb", "keys"):
        assert group in result.stdout


@pytest.mark.storage
def test_db_upgrade_creates_the_schema(db_url):
    result = hibachi("db", "upgrade", "--database-url", db_url)
    assert result.returncode == 0, result.stderr
    engine = create_engine(db_url)
    assert "training_signals" in inspect(engine).get_table_names()
    engine.dispose()


def test_unreachable_database_is_one_line_and_non_zero():
    result = hibachi("db", "upgrade", "--database-url", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: cannot reach database")


def test_malformed_knowledge_base_is_one_line_and_non_zero(tmp_path):
    bad = tmp_path / "kb.yaml"
    bad.write_text("business: {name: X}\n")
    result = hibachi("kb", "validate", str(bad))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and f"knowledge base {bad}: field business.description" in result.stderr


def test_keys_hash_prints_sha256():
    result = hibachi("keys", "hash", "abc")
    assert result.stdout.strip() == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

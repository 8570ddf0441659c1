"""A user's mistake in the environment is one line on stderr and exit code 2 from every entry point, never a
traceback: `hibachi` and the gateway image's `python -m gateway` (both run through hibachi.cli.run_app)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from hibachi.db import DatabaseError, make_engine


def _run(module: str, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", module, *args], capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=120)


def _one_line(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"DATABASE_URL": "nonsense"}, "error: invalid settings: database_url (environment variable DATABASE_URL)"),
        ({"HIBACHI_ROLLOUT__VARIANT": "tpu"},
         "error: invalid settings: rollout.variant (environment variable HIBACHI_ROLLOUT__VARIANT): "
         "Input should be 'cpu', 'gpu' or 'vllm'"),
    ],
)
def test_invalid_settings_are_one_line_for_hibachi(env, expected):
    assert _one_line(_run("hibachi_cli", "rollout", "status", env=env)).startswith(expected)


def test_a_data_dir_that_is_a_file_is_one_line(tmp_path: Path):
    blocker = tmp_path / "somefile"
    blocker.write_text("")
    line = _one_line(_run("hibachi_cli", "rollout", "status", env={"HIBACHI_DATA_DIR": str(blocker)}))
    assert line.startswith("error: invalid settings: data_dir (environment variable HIBACHI_DATA_DIR)")


def test_the_gateway_refuses_a_malformed_key_hash_in_one_line():
    line = _one_line(_run("gateway", "serve", env={"HIBACHI_GATEWAY__CUSTOMER_KEY_HASHES": "not-a-digest"}))
    assert line.startswith("error: invalid settings: gateway.customer_key_hashes[0] (environment variable "
                           "HIBACHI_GATEWAY__CUSTOMER_KEY_HASHES): must be the sha256 hex digest of a key")


def test_a_sqlite_directory_that_cannot_be_created_is_a_database_error(tmp_path: Path):
    blocker = tmp_path / "somefile"
    blocker.write_text("")
    with pytest.raises(DatabaseError, match=f"cannot create its directory {blocker}: a file of that name is in"):
        make_engine(f"sqlite:///{blocker / 'hibachi.db'}")
    with pytest.raises(DatabaseError, match="cannot create its directory .*: Not a directory"):
        make_engine(f"sqlite:///{blocker / 'sub' / 'hibachi.db'}")


def test_a_failed_statement_advises_a_migration_only_when_one_is_missing(tmp_path: Path):
    from sqlalchemy import select

    from hibachi.db import _advice, cli_session
    from hibachi.records import TrainingSignal

    with pytest.raises(DatabaseError, match=r"cannot be used \(no such table: training_signals\); run `hibachi db "
                                            r"upgrade`$"):
        with cli_session(f"sqlite:///{tmp_path / 'empty.db'}") as session:
            session.scalars(select(TrainingSignal)).all()
    assert _advice("database is locked") == "another process holds it (a long write); run the command again"
    assert "db upgrade" in _advice('relation "training_signals" does not exist')

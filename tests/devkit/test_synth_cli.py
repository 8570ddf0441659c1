"""`hibachi data synth`: JSONL output, database loading, and one-line errors for bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest


def hibachi(*args: str, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    import os

    env = {**os.environ, **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "hibachi_cli", *args], capture_output=True, text=True, env=env,
                          timeout=180)


def test_writes_jsonl_deterministically(tmp_path: Path):
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    for path in (first, second):
        result = hibachi("data", "synth", "--conversations", "25", "--seed", "5", "--out", str(path))
        assert result.returncode == 0, result.stderr
    lines = first.read_text().splitlines()
    assert len(lines) == 25
    assert first.read_bytes() == second.read_bytes()
    row = json.loads(lines[0])
    assert {"id", "turns", "led_to_booking", "customer_rating"} <= set(row)
    assert not list(tmp_path.glob("*.partial"))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--conversations", "-5", "--out", "x.jsonl"], "conversations must be >= 0"),
        (["--hallucination-rate", "2", "--out", "x.jsonl"], "hallucination-rate must be between 0 and 1"),
        (["--conversations", "3"], "nothing to do"),
        (["--out", "traffic.csv"], "expected a .jsonl"),
        (["--min-turns", "4", "--max-turns", "2", "--out", "x.jsonl"], "turns must satisfy"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, args, message):
    result = subprocess.run([sys.executable, "-m", "hibachi_cli", "data", "synth", *args], capture_output=True,
                            text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert not list(tmp_path.glob("*.jsonl"))


@pytest.mark.storage
def test_to_db_loads_scored_traffic(db_url: str):
    from sqlalchemy import create_engine, func, select

    from hibachi.records import TrainingSignal

    result = hibachi("data", "synth", "--conversations", "20", "--to-db", env_extra={"DATABASE_URL": db_url})
    assert result.returncode == 0, result.stderr
    assert "loaded 20 conversations" in result.stdout
    engine = create_engine(db_url)
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(TrainingSignal)) >= 20
    engine.dispose()


def test_unwritable_output_is_one_line(tmp_path: Path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = hibachi("data", "synth", "--conversations", "3", "--out", str(blocker / "x.jsonl"))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: data synth: cannot write"), result.stderr

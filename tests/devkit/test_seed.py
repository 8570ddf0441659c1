"""`hibachi seed` end to end on a small count in a temporary data directory."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sqlalchemy import create_engine, func, select

from hibachi.records import ChatSession, TrainingSignal


def test_seed_steps_and_summary(tmp_path: Path):
    from rich.console import Console

    from devkit.seed import run_demo
    from hibachi.settings import Settings

    settings = Settings(data_dir=tmp_path / "var")
    console = Console(record=True, width=120)
    summary = run_demo(settings, 30, seed=2, hallucination_rate=0.5, console=console)
    assert summary.conversations == 30 and summary.loaded_now == 30
    assert summary.signals >= 30 and summary.candidates == 2 * summary.signals
    assert summary.candidates_failing > 0 and sum(summary.violations.values()) >= summary.candidates_failing
    assert 0 < summary.passing <= summary.signals
    assert sum(summary.quality.values()) == summary.signals
    assert 0 <= summary.trainable <= summary.passing
    text = console.export_text()
    for words in ("conversations", "passing the critic", "Violations by category", "training filter"):
        assert words in text
    again = run_demo(settings, 30, seed=2, hallucination_rate=0.5, console=Console(record=True))
    assert again.loaded_now == 0 and again.conversations == 30  # a second run adds nothing


def test_seed_cli_quick_run(tmp_path: Path):
    import os

    env = {**os.environ, "HIBACHI_DATA_DIR": str(tmp_path / "var")}
    result = subprocess.run([sys.executable, "-m", "hibachi_cli", "seed", "--conversations", "15"],
                            capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "Synthetic traffic scored by the critic" in result.stdout
    engine = create_engine(f"sqlite:///{tmp_path / 'var' / 'hibachi.db'}")
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(ChatSession)) == 15
        assert conn.scalar(select(func.count()).select_from(TrainingSignal)) >= 15
    engine.dispose()


def test_seed_rejects_a_bad_count(tmp_path: Path):
    result = subprocess.run([sys.executable, "-m", "hibachi_cli", "seed", "--conversations", "0"],
                            capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == ["error: seed: --conversations must be at least 1, got 0"]

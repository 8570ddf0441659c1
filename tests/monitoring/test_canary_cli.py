from __future__ import annotations

import json
import random

import pytest
import typer
from monitoring_rows import local_turn, state
from typer.testing import CliRunner

from hibachi.db import make_engine, session_factory, upgrade
from hibachi.errors import UserError
from hibachi.monitoring.canary_cli import analyze_command
from hibachi.settings import reset_settings_cache


@pytest.fixture
def cli(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'canary.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    reset_settings_cache()
    engine = make_engine(url)
    upgrade(engine)
    from datetime import UTC, datetime, timedelta
    now = datetime.now(UTC)
    rng = random.Random(3)
    with session_factory(engine)() as session:
        state(session, stable="v1", canary="v2", percent=10)
        for _ in range(80):
            local_turn(session, "v1", when=now - timedelta(hours=rng.uniform(0.1, 5)))
            bad = rng.random() < 0.4
            local_turn(session, "v2", passed=not bad, hallucinated=bad, when=now - timedelta(hours=rng.uniform(0.1, 5)))
        session.commit()
    engine.dispose()
    app = typer.Typer()
    app.command("analyze")(analyze_command)
    app.command("noop")(lambda: None)
    return app


def test_analyze_prints_the_decision_and_each_metric(cli):
    result = CliRunner().invoke(cli, ["analyze", "--window", "24h"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("hibachi-llama: rollback: canary is worse: critic_failure_rate: canary 40.0%")
    assert "; hallucination_rate: canary 40.0% (n=80) vs stable 0.0% (n=80)" in result.output.splitlines()[0]
    assert "[       worse] critic_failure_rate" in result.output
    as_json = CliRunner().invoke(cli, ["analyze", "--json"])
    assert json.loads(as_json.output)["action"] == "rollback"


def test_analyze_bad_input_is_a_user_error(cli):
    unknown = CliRunner().invoke(cli, ["analyze", "--name", "nope"])
    assert isinstance(unknown.exception, UserError)
    assert "no rollout named 'nope'; known rollouts: hibachi-llama" in str(unknown.exception)
    bad_window = CliRunner().invoke(cli, ["analyze", "--window", "soon"])
    assert isinstance(bad_window.exception, UserError) and "not a positive duration" in str(bad_window.exception)
    empty = CliRunner().invoke(cli, ["analyze", "--window", "1s"])
    assert empty.exit_code == 0 and "hold: too few samples" in empty.output

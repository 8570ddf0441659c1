from __future__ import annotations

import json
import random

import pytest
import typer
from monitoring_rows import local_turn, state
from typer.testing import CliRunner

from hibachi.db import make_engine, session_factory, upgrade
from hibachi.errors import UserError
from hibachi.records import DeploymentState, ModelVersion
from hibachi.settings import reset_settings_cache
from serving.rollout_cli import analyze_command


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
        for version in ("v1", "v2"):
            session.add(ModelVersion(id=version, base_model="tiny", adapter_uri=f"file:///adapters/{version}",
                                     dataset_sha256="ab" * 32, gate_passed=True))
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


def test_hibachi_rollout_analyze_unknown_name_is_one_line_exit_2(cli, monkeypatch, capsys):
    import sys

    import hibachi_cli

    monkeypatch.setattr(sys, "argv", ["hibachi", "rollout", "analyze", "--name", "nope"])
    with pytest.raises(SystemExit) as exit_info:
        hibachi_cli.main()
    err = capsys.readouterr().err.strip()
    assert exit_info.value.code == 2 and err == "error: no rollout named 'nope'; known rollouts: hibachi-llama"
    monkeypatch.setattr(sys, "argv", ["hibachi", "rollout", "analyze", "--window", "24h"])
    with pytest.raises(SystemExit) as exit_info:
        hibachi_cli.main()
    assert exit_info.value.code == 0 and "rollback: canary is worse" in capsys.readouterr().out


def test_analyze_apply_rolls_back_through_the_rollout_and_records_it(cli, tmp_path):
    result = CliRunner().invoke(cli, ["analyze", "--apply", "--actor", "night-watch"])
    assert result.exit_code == 0, result.output
    assert "applied: rollback, recorded as #2 by night-watch" in result.output
    engine = make_engine(f"sqlite:///{tmp_path / 'canary.db'}")
    with session_factory(engine)() as session:
        newest = session.query(DeploymentState).order_by(DeploymentState.id.desc()).first()
    engine.dispose()
    assert (newest.stage, newest.stable_version, newest.actor) == ("rolled_back", "v1", "night-watch")
    assert newest.reason.startswith("canary analysis: canary is worse: critic_failure_rate")


def test_analyze_json_apply_keeps_stdout_one_json_document(cli):
    result = CliRunner().invoke(cli, ["analyze", "--json", "--apply", "--actor", "night-watch"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["action"] == "rollback"
    assert "applied: rollback, recorded as #2 by night-watch" in result.stderr

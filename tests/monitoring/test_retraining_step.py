"""The monitoring pipeline's retraining step: evidence in, a recorded decision out, training only when it says so."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from monitoring_rows import local_turn, state
from sqlalchemy import select

from components.monitor.retrain import decide_retraining, drift_figures
from hibachi.db import make_engine, session_factory, upgrade
from hibachi.errors import UserError
from hibachi.records import RetrainingDecision
from hibachi.settings import RetrainingSettings, Settings


def _settings(tmp_path: Path, failing: int) -> Settings:
    settings = Settings(data_dir=tmp_path / "var", database_url=f"sqlite:///{tmp_path / 'mon.db'}",
                        retraining=RetrainingSettings(min_student_turns=10, cooldown_hours=12))
    engine = make_engine(settings.database_url)
    upgrade(engine)
    now = datetime.now(UTC)
    with session_factory(engine)() as session:
        state(session, stable="v1", canary="v2", percent=10)
        for i in range(12):
            local_turn(session, "v2", passed=i >= failing, when=now - timedelta(hours=1, minutes=i))
        session.commit()
    engine.dispose()
    return settings


def _decisions(settings: Settings) -> list[RetrainingDecision]:
    engine = make_engine(settings.database_url)
    try:
        with session_factory(engine)() as session:
            return list(session.scalars(select(RetrainingDecision).order_by(RetrainingDecision.id)))
    finally:
        engine.dispose()


def test_the_step_records_a_triggered_decision_then_holds_the_next_hour(tmp_path):
    settings = _settings(tmp_path, failing=4)
    summary = {"figures": {"drift": {"drift_detected": True, "embedding_drift_auc": 0.74}}}
    first = decide_retraining(settings, monitor_summary=summary, run_id="hibachi-monitoring-1")
    assert first["triggered"]
    assert first["reasons"][0].startswith("fallback rate 0.333 (4/12 student turns) above 0.15 over 24h")
    assert "prompt drift against the training set (embedding ROC AUC 0.740)" in first["reasons"]
    assert first["staleness"]["stale"] is False and first["staleness"]["reason"] == "no production adapter"
    second = decide_retraining(settings, monitor_summary=summary, now=datetime.now(UTC) + timedelta(hours=1))
    assert not second["triggered"] and second["reason"].startswith("cool-down:")
    rows = _decisions(settings)
    assert [(r.triggered, r.run_id) for r in rows] == [(True, "hibachi-monitoring-1"), (False, None)]
    assert rows[0].evidence["drift_auc"] == 0.74 and rows[0].evidence["fallbacks"] == 4


def test_a_quiet_window_waits_and_the_summary_reader_names_a_bad_file(tmp_path):
    settings = _settings(tmp_path, failing=0)
    quiet = decide_retraining(settings, monitor_summary={"figures": {}, "skipped": {"drift": "too few prompts"}})
    assert not quiet["triggered"] and quiet["reason"].startswith("no trigger: fallback rate 0.000 of 12")
    assert "drift not measured" in quiet["reason"]
    bad = tmp_path / "summary.json"
    bad.write_text("{not json")
    with pytest.raises(UserError, match="summary.json: cannot read it"):
        drift_figures(bad)


def test_monitoring_pipeline_records_the_decision_and_trains_only_when_allowed(tmp_path, monkeypatch):
    """One local run: the evidence triggers, training is switched off for the test, nothing is trained."""
    from kfp import local

    from pipelines.monitoring import monitoring_pipeline

    settings = _settings(tmp_path, failing=6)
    monkeypatch.chdir(Path(__file__).resolve().parents[2])
    monkeypatch.setenv("HIBACHI_RETRAINING__MIN_STUDENT_TURNS", "10")
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(tmp_path / "kfp"))
    run = monitoring_pipeline(database_url=settings.database_url, data_dir=str(settings.data_dir),
                              window_hours=24.0, isvc="hibachi-llama", train_when_triggered=False)
    assert run.output == "hold"  # the canary action, as before
    (decision,) = _decisions(settings)
    assert decision.triggered and decision.reasons[0].startswith("fallback rate 0.500 (6/12 student turns)")
    assert decision.run_id and decision.run_id.startswith("hibachi-monitoring")
    written = json.loads(next((tmp_path / "kfp").rglob("retraining-op/decision")).read_text())
    assert written["triggered"] and written["decision_id"] == decision.id
    assert not list((tmp_path / "kfp").rglob("export-op"))  # the training sub-pipeline did not run

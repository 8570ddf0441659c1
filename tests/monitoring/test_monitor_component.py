from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from monitoring_rows import local_turn, state

from components.monitor import run_monitoring
from hibachi.db import make_engine, session_factory, upgrade
from hibachi.settings import Settings


def _filled_settings(tmp_path: Path) -> Settings:
    settings = Settings(data_dir=tmp_path / "var", database_url=f"sqlite:///{tmp_path / 'mon.db'}")
    engine = make_engine(settings.database_url)
    upgrade(engine)
    now = datetime.now(UTC)
    with session_factory(engine)() as session:
        state(session, stable="v1", canary="v2", percent=10)
        for i in range(6):
            local_turn(session, "v2", when=now - timedelta(hours=1 + i))
        session.commit()
    engine.dispose()
    return settings


def test_monitoring_step_writes_reports_and_holds_a_thin_canary(tmp_path):
    settings = _filled_settings(tmp_path)
    result = run_monitoring(settings, window=timedelta(hours=24))
    assert Path(result.reports["hallucination"]).is_file()
    assert result.figures["hallucination"]["answers"] == 6
    assert "drift" in result.skipped and "drift needs at least" in result.skipped["drift"]
    assert result.decision["action"] == "hold" and "too few samples" in result.decision["reason"]
    assert result.applied is False
    unknown = run_monitoring(settings, window=timedelta(hours=24), isvc="nope")
    assert "no rollout named 'nope'" in unknown.skipped["canary"]


def test_monitoring_step_with_the_training_set_adds_drift_and_data_quality(tmp_path):
    settings = _filled_settings(tmp_path)
    training = tmp_path / "train.jsonl"
    training.write_text("".join(json.dumps({"messages": [{"role": "user", "content": f"Question {i} about rice?"},
                                                         {"role": "assistant", "content": "Yes."}]}) + "\n"
                                for i in range(12)))
    summary = tmp_path / "summary.json"
    summary.write_text(json.dumps({"dropped": {"low_quality": 4}}))
    result = run_monitoring(settings, window=timedelta(hours=24), training_set=training, filter_summary=summary)
    assert result.figures["data"] == {"rows": 12, "dropped": 4}
    assert "current (production) has 1 distinct prompts" in result.skipped["drift"]  # one question, six times


def test_monitoring_pipeline_runs_locally(tmp_path, monkeypatch):
    from kfp import local

    from pipelines.monitoring import monitoring_pipeline

    settings = _filled_settings(tmp_path)
    monkeypatch.chdir(Path(__file__).resolve().parents[2])
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(tmp_path / "kfp"))
    run = monitoring_pipeline(database_url=settings.database_url, data_dir=str(settings.data_dir),
                              window_hours=24.0, training_set="", filter_summary="", isvc="hibachi-llama",
                              apply_decision=False)
    assert run.output == "hold"
    index = json.loads((settings.data_dir / "reports" / "index.json").read_text())
    assert [r["kind"] for r in index] == ["hallucination"]
    html = next((tmp_path / "kfp").rglob("report"))
    assert 'id="hibachi-summary"' in html.read_text()  # the task's HTML artifact is the hallucination report


def test_compiled_pipeline_reads_the_database_url_from_the_secret(tmp_path):
    from kfp import compiler

    from pipelines.monitoring import make_monitoring_pipeline
    from pipelines.training import ClusterOptions

    out = tmp_path / "monitoring.yaml"
    compiler.Compiler().compile(make_monitoring_pipeline(ClusterOptions(db_secret="hibachi-db")), str(out))
    text = out.read_text()
    assert "secretName: hibachi-db" in text and "envVar: DATABASE_URL" in text
    assert "ghcr.io/hibachi-distill/components" in text

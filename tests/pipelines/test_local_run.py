"""The whole training pipeline under kfp.local on a small synthetic database: six steps, traceable to its data."""

import json
import os
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from components.export.export import export_signals
from components.filter.filter import filter_dataset
from hibachi.db import make_engine, session_factory, upgrade
from hibachi.lineage import model_lineage
from hibachi.records import DeploymentState, ExportRun, ModelVersion
from hibachi.settings import get_settings, reset_settings_cache

pytestmark = pytest.mark.slow


def test_local_pipeline_runs_all_six_steps_and_deploys_a_passing_version(tmp_path, monkeypatch, tiny_base):
    from kfp import local

    from components.export.sample import seed_signals
    from pipelines.training import training_pipeline

    url = f"sqlite:///{tmp_path / 'pipeline.db'}"
    # A permissive gate, so the deploy branch runs too (the refusal path has its own test).
    for name, value in {"GATE__MIN_ACCURACY": "0", "GATE__MIN_BUSINESS_LOGIC": "0", "GATE__MAX_HALLUCINATION_RATE": "1",
                        "GATE__MIN_SAMPLES": "5", "GATE__MAX_EVAL_SAMPLES": "12", "GATE__MAX_NEW_TOKENS": "16",
                        "TRAINING__BATCH_SIZE": "4", "TRAINING__MAX_LENGTH": "512", "PREFERENCE__MIN_PAIRS": "4",
                        "PREFERENCE__MAX_STEPS": "2", "PREFERENCE__BATCH_SIZE": "4",
                        "PREFERENCE__MAX_LENGTH": "512"}.items():
        monkeypatch.setenv(f"HIBACHI_{name}", value)
    monkeypatch.setenv("HIBACHI_TRAINING__BASE_MODEL", str(tiny_base))
    monkeypatch.setenv("PATH", str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"])
    reset_settings_cache()
    engine = make_engine(url)
    upgrade(engine)
    seed_signals(session_factory(engine), 120, seed=3, failing_candidates=0.4)  # failed candidates: pairs

    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(tmp_path / "kfp"))
    until = "2026-10-02T00:00:00+00:00"
    training_pipeline(database_url=url, until=until, max_steps=3, version_id="v-smoke")

    run_dir = next((tmp_path / "kfp").glob("hibachi-training-*"))
    assert (run_dir / "train-op" / "model" / "adapter" / "adapter_config.json").is_file()
    assert "Gate: passed" in (run_dir / "evaluate-op" / "evaluation" / "report.html").read_text()
    deploy = json.loads((run_dir / "deploy-op" / "record" / "deploy.json").read_text())
    assert deploy["deployed"] and deploy["stage"] == "shadow"
    summary = json.loads((run_dir / "filter-op" / "summary").read_text())
    assert summary["pairs"]["train_pairs"] >= 4 and set(summary["pairs"]["by_source"]) == {"teacher_rejected"}
    dpo = json.loads((run_dir / "preference-op" / "model" / "metrics.json").read_text())
    assert dpo["global_step"] == 2 and dpo["pairs"] == summary["pairs"]["train_pairs"]
    evaluation = json.loads((run_dir / "evaluate-op" / "evaluation" / "evaluation.json").read_text())
    choice = evaluation["preference"]["choice"]
    assert choice["chosen"] in ("sft", "sft+dpo") and evaluation["gate"]["reason"].startswith(choice["reason"])
    assert evaluation["preference"]["sft_dpo"]["accuracy"]["n"] == evaluation["candidate"]["accuracy"]["n"]
    chosen_adapter = run_dir / ("preference-op" if choice["chosen"] == "sft+dpo" else "train-op") / "model" / "adapter"
    with session_factory(engine)() as session:
        version = session.get(ModelVersion, "v-smoke")
        assert version.gate_passed and version.dataset_sha256 == summary["dataset_sha256"]
        assert version.adapter_uri == str(chosen_adapter) and version.knowledge_sha256  # what goes forward
        state = session.scalars(select(DeploymentState)).one()
        assert (state.canary_version, state.stage) == ("v-smoke", "shadow")
        export_run = session.scalars(select(ExportRun)).one()
        lineage = model_lineage(session, "v-smoke")  # the version traces to its export, run, settings and code
        assert lineage["export_sha256"] == export_run.dataset_sha256 and lineage["export"]["id"] == export_run.id
        assert lineage["export"]["signals_recorded"] == export_run.rows
        assert lineage["pipeline_run"].startswith("hibachi-training") and lineage["code_version"]

    # Re-running export and filter on the recorded window gives the same bytes and the same hash.
    from hibachi.critic import get_critic

    again = export_signals(engine, tmp_path / "again.jsonl", since=None, until=export_run.window_end,
                           incremental=False, record=False, critic=get_critic(), pairs_path=tmp_path / "pairs.jsonl")
    assert again.dataset_sha256 == export_run.dataset_sha256
    assert (tmp_path / "again.jsonl").read_bytes() == (run_dir / "export-op" / "dataset").read_bytes()
    assert (tmp_path / "pairs.jsonl").read_bytes() == (run_dir / "export-op" / "pairs").read_bytes()
    refiltered = filter_dataset(tmp_path / "again.jsonl", tmp_path / "t.jsonl", tmp_path / "h.jsonl",
                                tmp_path / "s.json", get_settings().filter)
    assert refiltered.dataset_sha256 == version.dataset_sha256
    assert (tmp_path / "t.jsonl").read_bytes() == (run_dir / "filter-op" / "train").read_bytes()
    engine.dispose()


def test_empty_export_stops_the_pipeline_with_a_clear_error_and_deploys_nothing(tmp_path, monkeypatch):
    from kfp import local

    import pipelines.training as training

    # The failure is deterministic: build the pipeline without retry backoff (the retry test covers retries).
    monkeypatch.setattr(training, "RETRIES", {step: (count, "0s") for step, (count, _) in training.RETRIES.items()})
    training_pipeline = training.make_training_pipeline(training.ClusterOptions())
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    monkeypatch.setenv("PATH", str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"])
    engine = make_engine(url)
    upgrade(engine)
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(tmp_path / "kfp"),
               raise_on_error=False)
    training_pipeline(database_url=url, max_steps=2)
    run_dir = next((tmp_path / "kfp").glob("hibachi-training-*"))
    assert not (run_dir / "evaluate-op").exists() and not (run_dir / "deploy-op").exists()
    with session_factory(engine)() as session:
        assert session.scalars(select(DeploymentState)).first() is None
        assert session.scalars(select(ExportRun)).one().rows == 0
    engine.dispose()

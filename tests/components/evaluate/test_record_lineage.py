"""The evaluate step records each version's lineage: the export it came from, the pipeline run, settings, code."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from components.evaluate.evaluate import record_version
from components.evaluate.gate import not_enough_data
from hibachi.lineage import model_lineage, record_export_signals
from hibachi.records import ExportRun
from hibachi.settings import GateSettings, Settings


@pytest.mark.storage
def test_record_version_links_the_export_run_pipeline_run_settings_and_code(db, tmp_path):
    _, factory = db
    settings = Settings(data_dir=tmp_path / "var", gate={"min_samples": 7})
    with factory() as session:
        session.add(ExportRun(window_end=datetime(2026, 10, 2, tzinfo=UTC), rows=2, dataset_sha256="e" * 64,
                              path="/x.jsonl"))
        record_export_signals(session, "e" * 64, ["s1", "s2"])
        session.commit()
        decision = not_enough_data(3, GateSettings(min_samples=7))
        record_version(session, "v1", "base", "/adapters/v1", "t" * 64, {"loss": 1.0}, {"holdout_rows": 3}, decision,
                       export_sha256="e" * 64, pipeline_run="hibachi-training-20261002", settings=settings)
        # Evaluating the same version again (a retried step) updates the one lineage row.
        record_version(session, "v1", "base", "/adapters/v1", "t" * 64, {"loss": 1.0}, {"holdout_rows": 3}, decision,
                       export_sha256="e" * 64, pipeline_run="hibachi-training-20261002", settings=settings)
        info = model_lineage(session, "v1")
    assert info["export"]["signals_recorded"] == 2 and info["export"]["dataset_sha256"] == "e" * 64
    assert info["train_sha256"] == "t" * 64 and info["pipeline_run"] == "hibachi-training-20261002"
    assert info["settings"]["gate"]["min_samples"] == 7 and info["code_version"].startswith("hibachi-distill")
    assert info["evaluation"]["gate_reason"].startswith("not enough data") and not info["evaluation"]["gate_passed"]


@pytest.mark.storage
def test_a_version_without_a_known_export_still_records_its_run(db, tmp_path):
    _, factory = db
    with factory() as session:
        record_version(session, "v2", "base", "/a", "t" * 64, {}, {}, not_enough_data(0, GateSettings()),
                       settings=Settings(data_dir=tmp_path / "var"))
        info = model_lineage(session, "v2")
    assert info["lineage_recorded"] and info["export"] is None and info["export_sha256"] is None

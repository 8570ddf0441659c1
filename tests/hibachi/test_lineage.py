"""Lineage records: signal ids per export hash (once), a version's lineage, a signal's datasets and versions."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from customer_rows import add_customer

from hibachi.lineage import (
    INSERT_BATCH,
    code_version,
    format_model_lineage,
    lineage_settings,
    mark_trained_on_erased_data,
    model_lineage,
    record_export_signals,
    record_lineage,
    serving_lineage,
    signal_lineage,
    versions_trained_on,
)
from hibachi.records import DeploymentState, ExportRun, ExportSignal, ModelVersion
from hibachi.settings import Settings

START = datetime(2026, 10, 1, tzinfo=UTC)


def _export(session, sha: str, ids: list[str]) -> ExportRun:
    run = ExportRun(window_end=START, rows=len(ids), dataset_sha256=sha, path=f"/data/{sha}.jsonl")
    session.add(run)
    record_export_signals(session, sha, ids)
    session.flush()
    return run


def _version(session, version_id: str, export_sha: str | None) -> None:
    session.add(ModelVersion(id=version_id, base_model="base", adapter_uri="/a", dataset_sha256=f"train-{version_id}",
                             gate_passed=True, gate_reason="candidate beats production",
                             eval_report={"holdout_rows": 7, "candidate": {"accuracy": 0.9}}))
    session.flush()
    record_lineage(session, version_id, train_sha256=f"train-{version_id}", export_sha256=export_sha,
                   pipeline_run="hibachi-training-20261001", settings={"gate": {"min_accuracy": 0.8}}, code="c 1.0")


@pytest.mark.storage
def test_signal_ids_are_stored_once_per_export_hash(db):
    _, factory = db
    with factory() as session:
        assert record_export_signals(session, "h1", ["b", "a", "a"]) == 2
        assert record_export_signals(session, "h1", ["a", "b"]) == 0  # the same export again adds nothing
        assert record_export_signals(session, "h2", ["a"]) == 1
        session.commit()
        assert session.query(ExportSignal).count() == 3


@pytest.mark.storage
def test_signal_ids_stream_in_batches_and_repeats_across_batches_are_skipped(db):
    _, factory = db
    count = INSERT_BATCH * 2 + 7

    def ids():  # a generator, as the export streams them from its spool file; the first id comes back at the end
        yield from (f"s{i:06d}" for i in range(count))
        yield "s000000"

    with factory() as session:
        assert record_export_signals(session, "h1", ids()) == count
        assert record_export_signals(session, "h1", ids()) == 0
        session.commit()
        assert session.query(ExportSignal).count() == count


@pytest.mark.storage
def test_model_lineage_links_export_run_settings_code_and_evaluation(db):
    _, factory = db
    with factory() as session:
        run = _export(session, "e1", ["s1", "s2", "s3"])
        _version(session, "v1", "e1")
        session.commit()
        info = model_lineage(session, "v1")
    assert info["export"]["id"] == run.id and info["export"]["signals_recorded"] == 3
    assert (info["export_sha256"], info["train_sha256"]) == ("e1", "train-v1")
    assert info["pipeline_run"] == "hibachi-training-20261001" and info["code_version"] == "c 1.0"
    assert info["settings"] == {"gate": {"min_accuracy": 0.8}}
    assert info["evaluation"]["gate_reason"] == "candidate beats production"
    assert info["evaluation"]["candidate"] == {"accuracy": 0.9} and not info["trained_on_erased_data"]
    text = format_model_lineage(info)
    assert "e1" in text and "3 signal ids" in text and "hibachi-training-20261001" in text


@pytest.mark.storage
def test_signal_lineage_lists_every_dataset_and_version_and_marking_shows(db):
    _, factory = db
    with factory() as session:
        _export(session, "e1", ["s1", "s2"])
        _export(session, "e2", ["s2", "s3"])
        _version(session, "v1", "e1")
        _version(session, "v2", "e2")
        _version(session, "v3", None)
        session.commit()
        found = signal_lineage(session, "s2")
        assert [d["dataset_sha256"] for d in found["datasets"]] == ["e1", "e2"]
        assert found["model_versions"] == ["v1", "v2"]
        assert signal_lineage(session, "nope") == {"signal_id": "nope", "datasets": [], "model_versions": []}
        assert versions_trained_on(session, ["s3"]) == ["v2"]
        mark_trained_on_erased_data(session, ["v2"], 7, START)
        session.commit()
        info = model_lineage(session, "v2")
        assert info["trained_on_erased_data"] and info["erasure_ids"] == [7]
        assert "ERASED DATA" in format_model_lineage(info)
        assert model_lineage(session, "missing") is None


@pytest.mark.storage
def test_serving_lineage_is_the_stable_version_else_the_canary(db):
    _, factory = db
    with factory() as session:
        assert serving_lineage(session, "isvc") is None
        _version(session, "v1", None)
        session.add(DeploymentState(isvc_name="isvc", canary_version="v1", canary_percent=10, stage="canary",
                                    action="deploy", actor="t", reason="r"))
        session.commit()
        assert serving_lineage(session, "isvc")["version"] == "v1"
        assert serving_lineage(session, "isvc")["lineage_recorded"]


def test_code_version_and_lineage_settings_hold_no_secrets():
    assert code_version().startswith("hibachi-distill")
    chosen = lineage_settings(Settings(admin_key="very-secret-admin"))
    assert {"filter", "training", "gate"} <= set(chosen)
    assert "very-secret-admin" not in str(chosen) and "admin_key" not in chosen and "gateway" not in chosen


@pytest.mark.storage
def test_customer_rows_helper_fills_every_customer_table(db):
    _, factory = db
    with factory() as session:
        assert add_customer(session, "c1", ["one?", "two?"], start=START) == ["c1-sig0", "c1-sig1"]
        session.commit()

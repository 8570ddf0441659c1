"""Lineage: from a model version to the export, signals, pipeline run, settings and code that made it, and back.

An export records its signal ids once per content hash (``ExportSignal``: the same window exported
twice gives the same bytes, the same hash and no new rows). The evaluate step records each version's
``ModelLineage``: the export's hash (so its signals), the filtered training set's hash, the pipeline
run, the settings that shaped the data and training, and the code version. The evaluation that let
the version through is the version's own ``eval_report``.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterable
from datetime import UTC, datetime
from functools import lru_cache
from itertools import islice
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hibachi.records import DeploymentState, ExportRun, ExportSignal, ModelLineage, ModelVersion

INSERT_BATCH = 1000
# The settings sections that decide what a version was trained on and how it was judged (no secrets in them).
LINEAGE_SECTIONS = ("filter", "training", "preference", "gate", "knowledge_base", "tenant")


@lru_cache(maxsize=1)
def code_version() -> str:
    """``hibachi-distill 0.1.0`` plus ``git describe`` when the code runs from a checkout."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        text = f"hibachi-distill {version('hibachi-distill')}"
    except PackageNotFoundError:
        text = "hibachi-distill (not installed)"
    root = Path(__file__).resolve().parents[1]
    if (root / ".git").exists():
        try:
            described = subprocess.run(["git", "describe", "--always", "--dirty", "--tags"], cwd=root,
                                       capture_output=True, text=True, timeout=5, check=True).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            described = ""
        if described:
            text += f" ({described})"
    return text[:128]


def lineage_settings(settings: Any) -> dict[str, Any]:
    """The sections of ``Settings`` that shaped the data and the training, as plain JSON."""
    dumped = settings.model_dump(mode="json")
    return {name: dumped[name] for name in LINEAGE_SECTIONS if name in dumped}


def record_export_signals(session: Session, dataset_sha256: str, signal_ids: Iterable[str]) -> int:
    """Store which signals an export held (once per content hash); returns the rows added.

    ``signal_ids`` is consumed as a stream, ``INSERT_BATCH`` at a time, so an export of any size records its
    lineage in constant memory; an id already stored for the hash (a re-run, a repeat in the stream) is skipped."""
    added = 0
    stream = iter(signal_ids)
    while batch := set(islice(stream, INSERT_BATCH)):
        batch -= set(session.scalars(select(ExportSignal.signal_id).where(
            ExportSignal.dataset_sha256 == dataset_sha256, ExportSignal.signal_id.in_(batch))))
        if batch:
            session.execute(ExportSignal.__table__.insert(),
                            [{"dataset_sha256": dataset_sha256, "signal_id": sid} for sid in sorted(batch)])
            added += len(batch)
    return added


def record_lineage(session: Session, version_id: str, *, train_sha256: str, export_sha256: str | None = None,
                   pipeline_run: str | None = None, settings: dict[str, Any] | None = None,
                   code: str | None = None) -> ModelLineage:
    """Upsert a version's lineage (the version row must exist); the newest export with that hash is linked."""
    row = session.get(ModelLineage, version_id) or ModelLineage(version_id=version_id)
    export_run_id = None
    if export_sha256:
        export_run_id = session.scalar(select(ExportRun.id).where(ExportRun.dataset_sha256 == export_sha256)
                                       .order_by(ExportRun.created_at.desc(), ExportRun.id.desc()).limit(1))
    row.export_run_id, row.export_sha256, row.train_sha256 = export_run_id, export_sha256 or None, train_sha256
    row.pipeline_run = (pipeline_run or None) and pipeline_run[:256]
    row.code_version = code or code_version()
    row.settings = settings or {}
    session.add(row)
    return row


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return (value.replace(tzinfo=UTC) if value.tzinfo is None else value).isoformat()


def _export(run: ExportRun | None, signals: int | None) -> dict[str, Any] | None:
    if run is None:
        return None
    return {"id": run.id, "dataset_sha256": run.dataset_sha256, "rows": run.rows, "path": run.path,
            "window_start": _iso(run.window_start), "window_end": _iso(run.window_end),
            "created_at": _iso(run.created_at), "signals_recorded": signals}


def _evaluation(version: ModelVersion) -> dict[str, Any]:
    report = version.eval_report or {}
    return {"gate_passed": version.gate_passed, "gate_reason": version.gate_reason,
            "holdout_rows": report.get("holdout_rows"), "candidate": report.get("candidate"),
            "production": report.get("production"), "production_version": report.get("production_version"),
            "thresholds": report.get("thresholds")}


def model_lineage(session: Session, version_id: str) -> dict[str, Any] | None:
    """Everything known about where a version came from; None when there is no such version."""
    version = session.get(ModelVersion, version_id)
    if version is None:
        return None
    lineage = session.get(ModelLineage, version_id)
    export_sha = lineage.export_sha256 if lineage else None
    run = session.get(ExportRun, lineage.export_run_id) if lineage and lineage.export_run_id else None
    signals = None
    if export_sha:
        signals = session.scalar(select(func.count()).select_from(ExportSignal)
                                 .where(ExportSignal.dataset_sha256 == export_sha))
    return {
        "version": version.id, "created_at": _iso(version.created_at), "base_model": version.base_model,
        "adapter_uri": version.adapter_uri, "train_sha256": version.dataset_sha256,
        "export_sha256": export_sha, "export": _export(run, signals),
        "pipeline_run": lineage.pipeline_run if lineage else None,
        "code_version": lineage.code_version if lineage else None,
        "settings": lineage.settings if lineage else None,
        "evaluation": _evaluation(version),
        "trained_on_erased_data": bool(lineage and lineage.erased_data_at),
        "erased_data_at": _iso(lineage.erased_data_at) if lineage else None,
        "erasure_ids": list(lineage.erasure_ids or []) if lineage else [],
        "lineage_recorded": lineage is not None,
    }


def signal_ids_of_export(session: Session, dataset_sha256: str) -> list[str]:
    return list(session.scalars(select(ExportSignal.signal_id).where(ExportSignal.dataset_sha256 == dataset_sha256)
                                .order_by(ExportSignal.signal_id)))


def signal_lineage(session: Session, signal_id: str) -> dict[str, Any]:
    """Every dataset (export) that held the signal, and every model version trained on one of them."""
    hashes = list(session.scalars(select(ExportSignal.dataset_sha256).where(ExportSignal.signal_id == signal_id)
                                  .order_by(ExportSignal.dataset_sha256)))
    datasets = []
    for sha in hashes:
        runs = session.scalars(select(ExportRun).where(ExportRun.dataset_sha256 == sha).order_by(ExportRun.id))
        versions = session.scalars(select(ModelLineage.version_id).where(ModelLineage.export_sha256 == sha)
                                   .order_by(ModelLineage.version_id))
        datasets.append({"dataset_sha256": sha, "exports": [_export(r, None) for r in runs],
                         "model_versions": list(versions)})
    return {"signal_id": signal_id, "datasets": datasets,
            "model_versions": sorted({v for d in datasets for v in d["model_versions"]})}


def versions_trained_on(session: Session, signal_ids: Iterable[str]) -> list[str]:
    """The model versions whose export held any of these signals."""
    ids = list(set(signal_ids))
    found: set[str] = set()
    for start in range(0, len(ids), INSERT_BATCH):
        chunk = ids[start:start + INSERT_BATCH]
        hashes = select(ExportSignal.dataset_sha256).where(ExportSignal.signal_id.in_(chunk)).distinct()
        found.update(session.scalars(select(ModelLineage.version_id).where(ModelLineage.export_sha256.in_(hashes))))
    return sorted(found)


def mark_trained_on_erased_data(session: Session, version_ids: Iterable[str], erasure_id: int,
                                when: datetime) -> None:
    for version_id in version_ids:
        row = session.get(ModelLineage, version_id)
        if row is None:
            continue
        row.erased_data_at = row.erased_data_at or when
        row.erasure_ids = [*(row.erasure_ids or []), erasure_id]


def tainted_versions(session: Session) -> list[str]:
    """Versions trained on erased data: each needs a retrain without it."""
    return list(session.scalars(select(ModelLineage.version_id).where(ModelLineage.erased_data_at.is_not(None))
                                .order_by(ModelLineage.version_id)))


def serving_lineage(session: Session, isvc_name: str) -> dict[str, Any] | None:
    """The lineage of the version serving now (the stable one, else the canary) of an InferenceService."""
    state = session.scalar(select(DeploymentState).where(DeploymentState.isvc_name == isvc_name)
                           .order_by(DeploymentState.id.desc()).limit(1))
    if state is None:
        return None
    version = state.stable_version or state.canary_version
    return model_lineage(session, version) if version else None


def format_model_lineage(info: dict[str, Any]) -> str:
    """The lineage as a few readable lines (the `hibachi lineage model` output)."""
    export = info["export"] or {}
    evaluation = info["evaluation"]
    lines = [f"model version   {info['version']}  (created {info['created_at']})",
             f"base model      {info['base_model']}",
             f"adapter         {info['adapter_uri']}",
             f"training set    sha256 {info['train_sha256']}",
             f"export          sha256 {info['export_sha256'] or '(not recorded)'}"]
    if export:
        lines.append(f"                run #{export['id']}, {export['rows']} rows, {export['signals_recorded']} signal "
                     f"ids, window {export['window_start'] or 'start'} .. {export['window_end']}, {export['path']}")
    lines += [f"pipeline run    {info['pipeline_run'] or '(not recorded)'}",
              f"code version    {info['code_version'] or '(not recorded)'}",
              f"evaluation      gate {'passed' if evaluation['gate_passed'] else 'refused'}: "
              f"{evaluation['gate_reason']} (holdout {evaluation['holdout_rows']} rows)"]
    if info["trained_on_erased_data"]:
        lines.append(f"ERASED DATA     trained on data erased at {info['erased_data_at']} "
                     f"(erasures {info['erasure_ids']}); retrain without it")
    if not info["lineage_recorded"]:
        lines.append("note            this version predates lineage records; only its dataset hash is known")
    return "\n".join(lines)

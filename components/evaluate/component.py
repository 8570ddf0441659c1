"""KFP component: score the candidate (and production) on the holdout and decide the gate."""

from kfp import dsl
from kfp.dsl import HTML, Artifact, Dataset, Input, Metrics, Model, Output

from components.image import COMPONENTS_IMAGE


@dsl.component(base_image=COMPONENTS_IMAGE, install_kfp_package=False)
def evaluate_op(holdout: Input[Dataset], model: Input[Model], base_model: str, dataset_sha256: str,
                metrics: Output[Metrics], report: Output[HTML], evaluation: Output[Artifact],
                preference_model: Input[Model], pairs_holdout: Input[Dataset], preference_status: str = "",
                database_url: str = "", version_id: str = "", export_sha256: str = "",
                pipeline_run: str = "") -> str:
    """Returns the gate's outcome: "passed", "refused" or "not enough data" (one string, so dsl.If can test it).

    With an SFT+DPO adapter (``preference_model``), both are scored on the same holdout and on the held-out pairs,
    and the gate's decision names which one goes forward (that one is recorded and deployed).
    """
    import json
    import shutil
    from datetime import UTC, datetime
    from pathlib import Path

    from components.evaluate.evaluate import evaluate_candidate
    from hibachi.db import make_engine
    from hibachi.settings import get_settings

    settings = get_settings()
    url = database_url or settings.database_url
    version = version_id or (f"{settings.rollout.isvc_name}-{datetime.now(UTC):%Y%m%d-%H%M%S}-"
                             f"{dataset_sha256[:8]}")
    metrics_file = Path(model.path) / "metrics.json"
    train_metrics = json.loads(metrics_file.read_text()) if metrics_file.is_file() else {}
    engine = make_engine(url)
    try:
        result = evaluate_candidate(engine, holdout.path, Path(base_model), Path(model.path) / "adapter", version,
                                    dataset_sha256, Path(evaluation.path), train_metrics=train_metrics,
                                    settings=settings, export_sha256=export_sha256 or None,
                                    pipeline_run=pipeline_run or None,
                                    preference_adapter_dir=(Path(preference_model.path) / "adapter"
                                                            if (Path(preference_model.path) / "adapter").is_dir()
                                                            else None),
                                    pairs_holdout_path=Path(pairs_holdout.path),
                                    preference_skipped=(preference_status.removeprefix("skipped: ")
                                                        if preference_status.startswith("skipped") else None))
    finally:
        engine.dispose()
    shutil.copy(Path(evaluation.path) / "report.html", report.path)
    if result.candidate is not None:
        for name, value in result.candidate.as_dict().items():
            metrics.log_metric(name, value["value"] if isinstance(value, dict) else value)
    metrics.log_metric("holdout_rows", result.report["holdout_rows"])
    metrics.log_metric("gate_passed", float(result.decision.passed))
    choice = (result.report.get("preference") or {}).get("choice") or {}
    metrics.log_metric("sft_dpo_chosen", float(choice.get("chosen") == "sft+dpo"))
    evaluation.metadata.update({"version_id": version, "gate_passed": result.decision.passed,
                                "reason": result.decision.reason})
    if result.decision.passed:
        return "passed"
    return "not enough data" if result.decision.not_enough_data else "refused"

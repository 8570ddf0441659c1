"""KFP wrapper of the monitoring step; the logic is ``components.monitor.monitor.run_monitoring``.

No ``from __future__ import annotations`` here: KFP reads the real parameter types.
"""

from kfp import dsl

from components.image import COMPONENTS_IMAGE


@dsl.component(base_image=COMPONENTS_IMAGE, install_kfp_package=False)
def monitor_op(summary: dsl.Output[dsl.Artifact], report: dsl.Output[dsl.HTML], metrics: dsl.Output[dsl.Metrics],
               database_url: str = "", data_dir: str = "", window_hours: float = 24.0, training_set: str = "",
               filter_summary: str = "", isvc: str = "", apply_decision: bool = False) -> str:
    """Writes the reports under data_dir/reports (the hallucination one also as this task's HTML), returns the
    canary decision's action (promote, hold, rollback, or none without a rollout)."""
    import json
    import shutil
    from datetime import timedelta
    from pathlib import Path

    from components.monitor.monitor import run_monitoring
    from hibachi.settings import get_settings

    overrides = {"database_url": database_url or get_settings().database_url}
    if data_dir:
        overrides["data_dir"] = Path(data_dir)
    settings = get_settings().model_copy(update=overrides)
    result = run_monitoring(settings, window=timedelta(hours=window_hours),
                            training_set=Path(training_set) if training_set else None,
                            filter_summary=Path(filter_summary) if filter_summary else None, isvc=isvc or None,
                            apply_decision=apply_decision)
    Path(summary.path).write_text(json.dumps(result.as_dict(), indent=2))
    first = next(iter(result.reports.values()), None)
    if first:
        shutil.copyfile(first, report.path)
    else:
        Path(report.path).write_text("<html><body><p>No report: " + json.dumps(result.skipped) + "</p></body></html>")
    for kind, figures in result.figures.items():
        for key, value in figures.items():
            if isinstance(value, (int, float)):
                metrics.log_metric(f"{kind}_{key}", float(value))
    action = result.decision["action"] if result.decision else "none"
    metrics.log_metric("canary_promote", 1.0 if action == "promote" else 0.0)
    metrics.log_metric("canary_rollback", 1.0 if action == "rollback" else 0.0)
    return action


@dsl.component(base_image=COMPONENTS_IMAGE, install_kfp_package=False)
def retraining_op(monitor_summary: dsl.Input[dsl.Artifact], decision: dsl.Output[dsl.Artifact],
                  metrics: dsl.Output[dsl.Metrics], database_url: str = "", window_hours: float = 0.0,
                  run_name: str = "") -> str:
    """Decides whether to start a training run now (``components.monitor.retrain.decide_retraining``) and records
    the decision with its numbers; returns "train" or "wait" (one string, so dsl.If can test it)."""
    import json
    from datetime import timedelta
    from pathlib import Path

    from components.monitor.retrain import decide_retraining
    from hibachi.settings import get_settings

    settings = get_settings().model_copy(update={"database_url": database_url or get_settings().database_url})
    result = decide_retraining(settings, monitor_summary=Path(monitor_summary.path),
                               window=timedelta(hours=window_hours) if window_hours > 0 else None,
                               run_id=run_name or None)
    Path(decision.path).write_text(json.dumps(result, indent=2, sort_keys=True))
    decision.metadata.update({"triggered": result["triggered"], "reason": result["reason"]})
    evidence = result["evidence"]
    for name in ("student_turns", "fallback_rate", "critic_failure_rate", "new_quality_examples", "drift_auc"):
        if isinstance(evidence.get(name), (int, float)):
            metrics.log_metric(name, float(evidence[name]))
    metrics.log_metric("facts_changed", float(bool(evidence.get("facts_changed"))))
    metrics.log_metric("production_stale", float(bool(result["staleness"]["stale"])))
    metrics.log_metric("triggered", float(result["triggered"]))
    print(f"retraining: {result['reason']}")
    return "train" if result["triggered"] else "wait"

"""KFP wrapper of the monitoring step; the logic is ``components.monitor.monitor.run_monitoring``.

No ``from __future__ import annotations`` here: KFP reads the real parameter types.
"""

from kfp import dsl

from components.image import COMPONENTS_IMAGE


@dsl.component(base_image=COMPONENTS_IMAGE)
def monitor_op(database_url: str, data_dir: str, window_hours: float, training_set: str, filter_summary: str,
               isvc: str, apply_decision: bool, summary: dsl.Output[dsl.Artifact],
               metrics: dsl.Output[dsl.Metrics]) -> str:
    """Writes the reports under data_dir/reports, returns the canary decision's action."""
    import json
    from datetime import timedelta
    from pathlib import Path

    from components.monitor.monitor import run_monitoring
    from hibachi.settings import Settings

    settings = Settings(data_dir=Path(data_dir), database_url=database_url)
    result = run_monitoring(settings, window=timedelta(hours=window_hours),
                            training_set=Path(training_set) if training_set else None,
                            filter_summary=Path(filter_summary) if filter_summary else None, isvc=isvc or None,
                            apply_decision=apply_decision)
    Path(summary.path).write_text(json.dumps(result.as_dict(), indent=2))
    for kind, figures in result.figures.items():
        for key, value in figures.items():
            if isinstance(value, (int, float)):
                metrics.log_metric(f"{kind}_{key}", float(value))
    action = result.decision["action"] if result.decision else "none"
    metrics.log_metric("canary_promote", 1.0 if action == "promote" else 0.0)
    metrics.log_metric("canary_rollback", 1.0 if action == "rollback" else 0.0)
    return action

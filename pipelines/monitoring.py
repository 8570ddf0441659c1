"""The monitoring pipeline: reports and canary analysis over a window, meant to run on a schedule."""

from kfp import dsl

from components.monitor.component import monitor_op


@dsl.pipeline(name="hibachi-monitoring",
              description="Hallucination and drift reports, then canary analysis (optionally applied).")
def monitoring_pipeline(database_url: str = "sqlite:///var/hibachi.db", data_dir: str = "var",
                        window_hours: float = 24.0, training_set: str = "", filter_summary: str = "",
                        isvc: str = "hibachi-llama", apply_decision: bool = False) -> str:
    task = monitor_op(database_url=database_url, data_dir=data_dir, window_hours=window_hours,
                      training_set=training_set, filter_summary=filter_summary, isvc=isvc,
                      apply_decision=apply_decision)
    task.set_caching_options(False)  # every run looks at a new window
    task.set_retry(num_retries=2)
    return task.outputs["Output"]

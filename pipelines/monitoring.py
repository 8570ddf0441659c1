"""The monitoring pipeline: reports and canary analysis over a window, meant to run on a schedule
(``hibachi pipeline schedule --pipeline monitoring``). In a cluster the database URL comes from the
Secret named by ``HIBACHI_PIPELINE_DB_SECRET`` (key ``database-url``), as in the training pipeline."""

from kfp import dsl

from components.monitor.component import monitor_op
from pipelines.training import ClusterOptions


def make_monitoring_pipeline(options: ClusterOptions | None = None):
    options = options or ClusterOptions.from_settings()

    @dsl.pipeline(name="hibachi-monitoring",
                  description="Hallucination and drift reports, then canary analysis (optionally applied).")
    def monitoring_pipeline(database_url: str = "", data_dir: str = "", window_hours: float = 24.0,
                            training_set: str = "", filter_summary: str = "", isvc: str = "",
                            apply_decision: bool = False) -> str:
        task = monitor_op(database_url=database_url, data_dir=data_dir, window_hours=window_hours,
                          training_set=training_set, filter_summary=filter_summary, isvc=isvc,
                          apply_decision=apply_decision)
        task.set_display_name("monitor")
        task.set_caching_options(False)  # every run looks at a new window
        task.set_retry(num_retries=2, backoff_duration="60s", backoff_factor=2.0)
        if options.db_secret:
            from kfp import kubernetes

            kubernetes.use_secret_as_env(task, secret_name=options.db_secret,
                                         secret_key_to_env={"database-url": "DATABASE_URL"})
        return task.outputs["Output"]

    return monitoring_pipeline


monitoring_pipeline = make_monitoring_pipeline()

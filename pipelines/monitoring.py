"""The monitoring pipeline: reports and canary analysis over a window, then the retraining decision, meant to run on
a schedule (``hibachi pipeline schedule --pipeline monitoring --cron '0 * * * *'``).

The last step decides from the evidence (student fallbacks and critic failures, prompt drift, new quality
examples, a changed knowledge base; ``hibachi.retraining``) whether to train now, records why, and when it
says "train" the training pipeline runs as a sub-pipeline of this run (gated by ``dsl.If``), so the
training pipeline runs only when the evidence asks for it; the decision's cool-down keeps hourly runs
from thrashing. In a cluster the database URL comes from the Secret named by ``--db-secret`` or
``HIBACHI_PIPELINE__DB_SECRET`` (key ``database-url``), and the training sub-pipeline gets the same Secret,
checkpoint volume and resources as the training pipeline compiled alone.
"""

from kfp import dsl

from components.monitor.component import monitor_op, retraining_op
from pipelines.training import ClusterOptions, make_training_pipeline

# The monitoring steps read the database and write small reports: (request, limit) per step.
RESOURCES = {"cpu": ("500m", "2"), "memory": ("2Gi", "8Gi")}


def configure_monitoring_step(task, name: str, retries: tuple[int, str], options: ClusterOptions):
    task.set_display_name(name)
    task.set_caching_options(False)  # every run looks at a new window
    if options.for_cluster:
        task.set_retry(num_retries=retries[0], backoff_duration=retries[1], backoff_factor=2.0)
        task.set_cpu_request(RESOURCES["cpu"][0]).set_cpu_limit(RESOURCES["cpu"][1])
        task.set_memory_request(RESOURCES["memory"][0]).set_memory_limit(RESOURCES["memory"][1])
    if options.db_secret:
        from kfp import kubernetes

        kubernetes.use_secret_as_env(task, secret_name=options.db_secret,
                                     secret_key_to_env={"database-url": "DATABASE_URL"})
    return task


def make_monitoring_pipeline(options: ClusterOptions | None = None):
    options = options or ClusterOptions.from_settings()
    training = make_training_pipeline(options)

    @dsl.pipeline(name="hibachi-monitoring",
                  description="Hallucination and drift reports, canary analysis (optionally applied), then the "
                  "retraining decision; a training run follows only when the evidence says so.")
    def monitoring_pipeline(database_url: str = "", data_dir: str = "", window_hours: float = 24.0,
                            training_set: str = "", filter_summary: str = "", isvc: str = "",
                            apply_decision: bool = False, train_when_triggered: bool = True,
                            base_model: str = "", max_steps: int = 0) -> str:
        task = monitor_op(database_url=database_url, data_dir=data_dir, window_hours=window_hours,
                          training_set=training_set, filter_summary=filter_summary, isvc=isvc,
                          apply_decision=apply_decision)
        configure_monitoring_step(task, "monitor", (2, "60s"), options)
        decision = retraining_op(monitor_summary=task.outputs["summary"], database_url=database_url,
                                 window_hours=window_hours, run_name=dsl.PIPELINE_JOB_NAME_PLACEHOLDER)
        configure_monitoring_step(decision, "retraining-decision", (2, "30s"), options)
        with dsl.If(decision.outputs["Output"] == "train", name="retraining-triggered"):
            with dsl.If(train_when_triggered == True, name="training-allowed"):  # noqa: E712 - a KFP condition
                training(database_url=database_url, base_model=base_model, max_steps=max_steps).set_display_name(
                    "training")
        return task.outputs["Output"]

    return monitoring_pipeline


monitoring_pipeline = make_monitoring_pipeline()

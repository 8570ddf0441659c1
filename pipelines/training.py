"""The training pipeline: export -> filter -> train (SFT) -> preference (DPO) -> evaluate -> (gate passed) deploy.

Only wiring lives here: caching (off for export, which reads a live database, and for deploy, which
has side effects), retries with backoff, and, when configured, the database URL from a Kubernetes
Secret and a checkpoint volume for training so a retried pod resumes where it stopped.
"""

from dataclasses import dataclass

from kfp import dsl

from components.deploy.component import deploy_op
from components.evaluate.component import evaluate_op
from components.export.component import export_op
from components.filter.component import filter_op
from components.preference.component import preference_op
from components.train.component import train_op
from hibachi.settings import get_settings

PIPELINE_NAME = "hibachi-training"
# Retries per step: (count, first backoff). Deploy is idempotent, so retrying it is safe too.
RETRIES = {"export": (3, "30s"), "filter": (1, "10s"), "train": (2, "60s"), "preference": (2, "60s"),
           "evaluate": (1, "30s"), "deploy": (3, "30s")}
CACHING = {"export": False, "filter": True, "train": True, "preference": True, "evaluate": True, "deploy": False}
CHECKPOINT_MOUNT = "/mnt/checkpoints"


@dataclass(frozen=True)
class ClusterOptions:
    """Cluster hooks: a Secret holding the database URL (key ``database-url``) and a PVC for checkpoints."""

    db_secret: str | None = None
    checkpoint_pvc: str | None = None

    @classmethod
    def from_settings(cls) -> "ClusterOptions":
        pipeline = get_settings().pipeline
        return cls(pipeline.db_secret or None, pipeline.checkpoint_pvc or None)


def configure(task, step: str, options: ClusterOptions):
    count, backoff = RETRIES[step]
    task.set_retry(num_retries=count, backoff_duration=backoff, backoff_factor=2.0)
    task.set_caching_options(CACHING[step])
    task.set_display_name(step)
    if options.db_secret and step in ("export", "evaluate", "deploy"):
        from kfp import kubernetes

        kubernetes.use_secret_as_env(task, secret_name=options.db_secret,
                                     secret_key_to_env={"database-url": "DATABASE_URL"})
    if options.checkpoint_pvc and step == "train":
        from kfp import kubernetes

        kubernetes.mount_pvc(task, pvc_name=options.checkpoint_pvc, mount_path=CHECKPOINT_MOUNT)
    return task


def make_training_pipeline(options: ClusterOptions | None = None):
    options = options or ClusterOptions.from_settings()
    checkpoint_dir = f"{CHECKPOINT_MOUNT}/train" if options.checkpoint_pvc else ""

    @dsl.pipeline(name=PIPELINE_NAME, description="Distil the teachers' answers into a LoRA adapter and "
                  "canary-deploy it when it beats the gate.")
    def training_pipeline(database_url: str = "", since: str = "", until: str = "", base_model: str = "",
                          max_steps: int = 0, version_id: str = "", preference_max_steps: int = 0):
        exported = configure(export_op(database_url=database_url, since=since, until=until), "export", options)
        filtered = configure(filter_op(exported=exported.outputs["dataset"], pairs=exported.outputs["pairs"]),
                             "filter", options)
        trained = configure(train_op(train=filtered.outputs["train"], base_model=base_model, max_steps=max_steps,
                                     checkpoint_dir=checkpoint_dir), "train", options)
        # DPO on the SFT adapter with the pairs (skipped, saying why, when turned off or too few pairs).
        preferred = configure(preference_op(pairs=filtered.outputs["pairs_train"], sft_model=trained.outputs["model"],
                                            base_model=trained.outputs["Output"], max_steps=preference_max_steps),
                              "preference", options)
        evaluated = configure(evaluate_op(holdout=filtered.outputs["holdout"], model=trained.outputs["model"],
                                          base_model=trained.outputs["Output"],
                                          dataset_sha256=filtered.outputs["dataset_sha256"],
                                          database_url=database_url, version_id=version_id,
                                          export_sha256=exported.outputs["dataset_sha256"],
                                          pipeline_run=dsl.PIPELINE_JOB_NAME_PLACEHOLDER,
                                          preference_model=preferred.outputs["model"],
                                          preference_status=preferred.outputs["Output"],
                                          pairs_holdout=filtered.outputs["pairs_holdout"]), "evaluate", options)
        with dsl.If(evaluated.outputs["Output"] == "passed", name="gate-passed"):
            configure(deploy_op(evaluation=evaluated.outputs["evaluation"], database_url=database_url),
                      "deploy", options)

    return training_pipeline


training_pipeline = make_training_pipeline()

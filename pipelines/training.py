"""The training pipeline: export -> filter -> train (SFT) -> preference (DPO) -> evaluate -> (gate passed) deploy.

Only wiring lives here: caching (off for export, which reads a live database, and for deploy, which
has side effects), retries with backoff, CPU/memory (and GPU) requests for the cluster's scheduler, and,
when configured, the database URL from a Kubernetes Secret and a volume holding checkpoints and the base
model. Checkpoints go to a directory of their own per pipeline run, so a retried or preempted train pod of
the same run resumes where it stopped and the next run starts fresh on its own data.
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
# The steps that read paths on the volume: train writes its checkpoints there, and train, preference and
# evaluate load the base model from the path they are given (on a cluster, a checkpoint on that volume).
VOLUME_STEPS = ("train", "preference", "evaluate")
DB_SECRET_STEPS = ("export", "evaluate", "deploy")
# Requests and limits per step (cpu, memory), so the scheduler places each pod where it fits and a runaway
# step is stopped instead of starving its node. The model steps hold the base model in memory (an 8B Llama in
# 4-bit on GPU; the stand-in in float32 on CPU); the others stream rows or make one API call.
RESOURCES_CPU = {
    "export": {"cpu": ("500m", "2"), "memory": ("1Gi", "4Gi")},
    "filter": {"cpu": ("500m", "2"), "memory": ("1Gi", "4Gi")},
    "train": {"cpu": ("2", "4"), "memory": ("8Gi", "16Gi")},
    "preference": {"cpu": ("2", "4"), "memory": ("8Gi", "16Gi")},
    "evaluate": {"cpu": ("2", "4"), "memory": ("8Gi", "16Gi")},
    "deploy": {"cpu": ("250m", "1"), "memory": ("512Mi", "1Gi")},
}
RESOURCES_GPU = {**RESOURCES_CPU, **{step: {"cpu": ("4", "8"), "memory": ("32Gi", "64Gi")} for step in VOLUME_STEPS}}
# Train and preference run QLoRA on the GPU; evaluate generates with the same base through serving.engine,
# which uses CUDA when present (200 holdout answers from an 8B model on CPU would take hours).
GPU_STEPS = ("train", "preference", "evaluate")
GPU_RESOURCE = "nvidia.com/gpu"


@dataclass(frozen=True)
class ClusterOptions:
    """How the pipeline is built: a Secret holding the database URL (key ``database-url``), a PVC for
    checkpoints and the base model, whether the model steps ask for a GPU, and whether the pipeline is built for a
    cluster: retries and resource requests there; a local run gets neither (kfp.local ignores resources, and a
    local failure is one a retry would not fix, so it is reported at once)."""

    db_secret: str | None = None
    checkpoint_pvc: str | None = None
    gpu: bool = False
    for_cluster: bool = True

    @classmethod
    def from_settings(cls) -> "ClusterOptions":
        settings = get_settings()
        # No pipeline setting says cpu or gpu; a cluster that serves the student on GPU trains it there too.
        return cls(settings.pipeline.db_secret or None, settings.pipeline.checkpoint_pvc or None,
                   gpu=settings.rollout.variant in ("gpu", "vllm"))


LOCAL_RUN = ClusterOptions(for_cluster=False)  # kfp.local: no Secret, no volume, no retries or resources


def set_resources(task, step: str, gpu: bool):
    resources = (RESOURCES_GPU if gpu else RESOURCES_CPU)[step]
    (cpu_request, cpu_limit), (memory_request, memory_limit) = resources["cpu"], resources["memory"]
    task.set_cpu_request(cpu_request).set_cpu_limit(cpu_limit)
    task.set_memory_request(memory_request).set_memory_limit(memory_limit)
    if gpu and step in GPU_STEPS:
        from kfp import kubernetes

        task.set_accelerator_type(GPU_RESOURCE).set_accelerator_limit(1)
        # GPU node pools are commonly tainted so that only pods asking for a GPU land there.
        kubernetes.add_toleration(task, key=GPU_RESOURCE, operator="Exists", effect="NoSchedule")
    return task


def configure(task, step: str, options: ClusterOptions):
    if options.for_cluster:
        count, backoff = RETRIES[step]
        task.set_retry(num_retries=count, backoff_duration=backoff, backoff_factor=2.0)
        set_resources(task, step, options.gpu)
    task.set_caching_options(CACHING[step])
    task.set_display_name(step)
    if options.db_secret and step in DB_SECRET_STEPS:
        from kfp import kubernetes

        kubernetes.use_secret_as_env(task, secret_name=options.db_secret,
                                     secret_key_to_env={"database-url": "DATABASE_URL"})
    if options.checkpoint_pvc and step in VOLUME_STEPS:
        from kfp import kubernetes

        kubernetes.mount_pvc(task, pvc_name=options.checkpoint_pvc, mount_path=CHECKPOINT_MOUNT)
    return task


def make_training_pipeline(options: ClusterOptions | None = None):
    options = options or ClusterOptions.from_settings()
    # The train step keeps its checkpoints in checkpoint_dir/<this run's id>: a retry of the same run resumes,
    # a new run (new data) never picks up another run's checkpoint.
    checkpoint_dir = f"{CHECKPOINT_MOUNT}/train" if options.checkpoint_pvc else ""

    @dsl.pipeline(name=PIPELINE_NAME, description="Distil the teachers' answers into a LoRA adapter and "
                  "canary-deploy it when it beats the gate.")
    def training_pipeline(database_url: str = "", since: str = "", until: str = "", base_model: str = "",
                          max_steps: int = 0, version_id: str = "", preference_max_steps: int = 0):
        exported = configure(export_op(database_url=database_url, since=since, until=until), "export", options)
        filtered = configure(filter_op(exported=exported.outputs["dataset"], pairs=exported.outputs["pairs"]),
                             "filter", options)
        trained = configure(train_op(train=filtered.outputs["train"], base_model=base_model, max_steps=max_steps,
                                     checkpoint_dir=checkpoint_dir, run_id=dsl.PIPELINE_JOB_ID_PLACEHOLDER),
                            "train", options)
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

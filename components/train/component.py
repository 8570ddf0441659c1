"""KFP component: LoRA SFT of the base model on the filtered training set; the adapter is a Model artifact."""

from kfp import dsl
from kfp.dsl import Dataset, Input, Metrics, Model, Output

from components.image import COMPONENTS_IMAGE


@dsl.component(base_image=COMPONENTS_IMAGE, install_kfp_package=False)
def train_op(train: Input[Dataset], model: Output[Model], metrics: Output[Metrics], base_model: str = "",
             max_steps: int = 0, checkpoint_dir: str = "", run_id: str = "") -> str:
    """Checkpoints go to ``checkpoint_dir/run_id`` (a mounted volume on a cluster, keyed by the pipeline run: a
    retried pod of the same run resumes, another run starts fresh)."""
    import shutil
    from pathlib import Path

    from components.train.train import main, training_config

    work = (Path(checkpoint_dir) / run_id if run_id else Path(checkpoint_dir)) if checkpoint_dir else Path(model.path)
    config = training_config(base_model=Path(base_model) if base_model else None, max_steps=max_steps or None)
    result = main(Path(train.path), work, config)
    if work != Path(model.path):
        shutil.copytree(work / "adapter", Path(model.path) / "adapter", dirs_exist_ok=True)
        shutil.copy(work / "metrics.json", Path(model.path) / "metrics.json")
    for name in ("train_loss", "final_loss", "global_step", "tokens", "tokens_per_s", "runtime_s"):
        if result.get(name) is not None:
            metrics.log_metric(name, float(result[name]))
    model.metadata.update({"base_model": result["base_model"], "framework": "peft-lora",
                           "global_step": result["global_step"]})
    return result["base_model"]

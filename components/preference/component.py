"""KFP component: DPO on the SFT adapter with the filtered preference pairs (or a stated skip)."""

from kfp import dsl
from kfp.dsl import Dataset, Input, Metrics, Model, Output

from components.image import COMPONENTS_IMAGE


@dsl.component(base_image=COMPONENTS_IMAGE, install_kfp_package=False)
def preference_op(pairs: Input[Dataset], sft_model: Input[Model], model: Output[Model], metrics: Output[Metrics],
                  base_model: str = "", max_steps: int = 0) -> str:
    """Returns "trained" or "skipped: <why>"; a skipped step's model artifact holds only metrics.json."""
    from pathlib import Path

    from components.preference.preference import main
    from components.train.train import training_config
    from hibachi.settings import get_settings

    settings = get_settings()
    config = settings.preference.model_copy(update={"max_steps": max_steps} if max_steps else {})
    training = training_config(base_model=Path(base_model) if base_model else None)
    result = main(Path(pairs.path), Path(sft_model.path) / "adapter", Path(model.path), config, training)
    if result.get("skipped"):
        metrics.log_metric("pairs", float(result["pairs"]))
        model.metadata.update({"skipped": result["skipped"]})
        print(f"preference step skipped: {result['skipped']}")
        return "skipped: " + result["skipped"]
    for name in ("pairs", "train_loss", "global_step", "final_reward_accuracy", "final_reward_margin", "runtime_s"):
        if result.get(name) is not None:
            metrics.log_metric(name, float(result[name]))
    model.metadata.update({"base_model": result["base_model"], "framework": "peft-lora+dpo",
                           "global_step": result["global_step"]})
    return "trained"

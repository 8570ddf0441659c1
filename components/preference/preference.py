"""The preference step after SFT: DPO (trl's ``DPOTrainer``) on the SFT adapter with the filtered pairs.

Each pair is ``{"prompt": [messages], "chosen": str, "rejected": str, "why": str, "metadata": {...}}``: the
same prompt a training row has (the prompt contract), an answer the critic passed and one it failed (or an
admin corrected) for the same turn. The SFT adapter is loaded trainable on the base model; trl keeps a frozen
copy of it as the reference policy, so DPO moves the model away from the rejected answers relative to where SFT
left it. ``main(...)`` returns the metrics and writes ``output_dir/adapter`` and ``metrics.json``; when the step
is turned off (``preference.enabled``), has no SFT adapter, or has fewer than ``preference.min_pairs`` pairs,
nothing is trained and ``metrics.json`` says why (``{"skipped": reason}``).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from hibachi.errors import UserError
from hibachi.jsonl import json_objects
from hibachi.settings import PreferenceSettings, TrainingSettings
from hibachi.torch_threads import cpu_threads


def load_pairs(path: Path | str) -> list[dict]:
    """The pairs of a JSONL file, in trl's conversational preference format; a bad line names file and line."""
    rows = []
    path = Path(path)
    if not path.is_file():
        return rows
    with open(path, encoding="utf-8") as handle:
        for number, record in json_objects(handle, lambda n: f"{path}:{n}", expected="a JSON object"):
            prompt, chosen, rejected = record.get("prompt"), record.get("chosen"), record.get("rejected")
            if (not isinstance(prompt, list) or not prompt or not all(
                    isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str)
                    for m in prompt) or not isinstance(chosen, str) or not isinstance(rejected, str)):
                raise UserError(f"{path}:{number}: expected a pair with 'prompt' (messages), 'chosen' and 'rejected'")
            rows.append({"prompt": [{"role": m["role"], "content": m["content"]} for m in prompt],
                         "chosen": [{"role": "assistant", "content": chosen}],
                         "rejected": [{"role": "assistant", "content": rejected}]})
    return rows


def skip_reason(pairs: int, adapter_dir: Path | None, config: PreferenceSettings) -> str | None:
    """Why the step does not train, or None when it does."""
    if not config.enabled:
        return "preference step turned off (preference.enabled is false)"
    if adapter_dir is None or not (adapter_dir / "adapter_config.json").is_file():
        return f"no SFT adapter at {adapter_dir}"
    if pairs < config.min_pairs:
        return f"too few preference pairs: {pairs}, the step needs at least {config.min_pairs} (preference.min_pairs)"
    return None


def _write(out: Path, metrics: dict[str, Any]) -> dict[str, Any]:
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2, sort_keys=True))
    return metrics


def main(pairs_file: Path | str, sft_adapter_dir: Path | str | None, output_dir: Path | str,
         config: PreferenceSettings, training: TrainingSettings, callbacks: list | None = None) -> dict[str, Any]:
    """DPO on the SFT adapter; the adapter goes to ``output_dir/adapter`` (unless skipped, which metrics say)."""
    out = Path(output_dir)
    pairs = load_pairs(pairs_file)
    sft = Path(sft_adapter_dir) if sft_adapter_dir else None
    reason = skip_reason(len(pairs), sft, config)
    if reason:
        return _write(out, {"skipped": reason, "pairs": len(pairs), "config": config.model_dump(mode="json")})

    import torch
    from datasets import Dataset
    from peft import PeftModel
    from transformers import AutoTokenizer
    from trl import DPOConfig, DPOTrainer

    from components.train.progress import use_readable_progress
    from components.train.train import _device_options, _load_model, resolve_base_model

    base = resolve_base_model(training.base_model)
    tokenizer = AutoTokenizer.from_pretrained(str(sft))
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    adapter_dir = out / "adapter"
    tokenizer.save_pretrained(str(adapter_dir))  # as SFT saved it (padding side included)
    model = PeftModel.from_pretrained(_load_model(base, training), str(sft), is_trainable=True)
    args = DPOConfig(
        output_dir=str(out / "checkpoints"), max_steps=config.max_steps, per_device_train_batch_size=config.batch_size,
        learning_rate=config.learning_rate, beta=config.beta, max_length=config.max_length,
        lr_scheduler_type="linear", warmup_steps=0, logging_steps=1, save_strategy="no", seed=config.seed,
        data_seed=config.seed, report_to="none", dataloader_num_workers=0, disable_tqdm=False,
        **_device_options(training),
    )
    trainer = DPOTrainer(model=model, args=args, train_dataset=Dataset.from_list(pairs), processing_class=tokenizer,
                         callbacks=callbacks)
    use_readable_progress(trainer)
    started = time.perf_counter()
    with cpu_threads(training.cpu_threads):  # as the SFT step
        result = trainer.train()
    runtime = time.perf_counter() - started
    trainer.model.save_pretrained(str(adapter_dir), selected_adapters=["default"])
    history = [e for e in trainer.state.log_history if "loss" in e]

    def series(key: str) -> list[list[float]]:
        return [[e["step"], round(float(e[key]), 5)] for e in history if key in e]

    accuracies = series("rewards/accuracies")
    margins = series("rewards/margins")
    metrics = {
        "base_model": str(base), "sft_adapter": str(sft), "adapter_dir": str(adapter_dir), "pairs": len(pairs),
        "global_step": trainer.state.global_step, "train_loss": float(result.training_loss),
        "loss_history": series("loss"), "reward_accuracy_history": accuracies, "reward_margin_history": margins,
        "final_reward_accuracy": accuracies[-1][1] if accuracies else None,
        "final_reward_margin": margins[-1][1] if margins else None, "runtime_s": round(runtime, 3),
        "device": "cuda" if torch.cuda.is_available() else "cpu", "config": config.model_dump(mode="json"),
    }
    return _write(out, metrics)

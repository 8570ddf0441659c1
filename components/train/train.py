"""LoRA / QLoRA supervised fine-tuning of the base Llama on the filtered chat examples (trl + peft).

``main(train_file, output_dir, config)`` is the whole step, configured by ``TrainingSettings`` itself;
``python -m components.train.train --train-file F --output-dir D [--max-steps N ...]`` runs it with
command-line overrides of any of its fields. Loss counts
only the assistant turns (the chat template's ``{% generation %}`` markers). Checkpoints go to
``output_dir/checkpoints``; a rerun after a kill resumes from the newest one and ends at the same
step, but only when the checkpoints were written for the same training file and configuration
(``checkpoints/fingerprint.json``): checkpoints of other data are removed and training starts fresh.
On CUDA the base loads in 4-bit nf4 (QLoRA) with bf16 or fp16 compute; on CPU in float32.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import time
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from hibachi.errors import UserError
from hibachi.jsonl import json_objects
from hibachi.prompt import QUOTE_HEADER
from hibachi.settings import Settings, TrainingSettings, get_settings
from hibachi.torch_threads import cpu_threads


def resolve_base_model(base_model: Path | str | None) -> Path:
    """The base checkpoint directory; a missing one is a clear error, never a silent substitute."""
    if not base_model:
        raise UserError("no base model: set training.base_model (HIBACHI_TRAINING__BASE_MODEL) or --base-model "
                        "to a Hugging Face checkpoint directory")
    path = Path(base_model)
    if not (path / "config.json").is_file():
        raise UserError(f"base model {path}: no config.json (expected a Hugging Face checkpoint directory; "
                        "on the embedded default `hibachi base-model` builds the stand-in)")
    return path


def load_examples(path: Path) -> list[dict]:
    rows = []
    with open(path, encoding="utf-8") as handle:
        for number, record in json_objects(handle, lambda n: f"{path}:{n}", expected="a JSON object"):
            messages = record.get("messages")
            if not isinstance(messages, list) or not all(
                    isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str)
                    for m in messages):
                raise UserError(f"{path}:{number}: expected a JSON object with a 'messages' list of role/content")
            rows.append({"messages": [{"role": m["role"], "content": m["content"]} for m in messages]})
    if not rows:
        raise UserError(f"{path}: no training examples (the filter kept nothing)")
    return rows


def carries_quote(example: dict) -> bool:
    """Whether the row's grounding (its system turn) carries a computed quote the answer must copy."""
    messages = example["messages"]
    return bool(messages) and messages[0]["role"] == "system" and QUOTE_HEADER in messages[0]["content"]


def training_mix(rows: list[dict], quote_repeats: int) -> list[dict]:
    """The examples the step trains on: every row once, and each row that carries a computed quote
    ``quote_repeats`` times in all (next to itself; the trainer's sampler shuffles)."""
    if quote_repeats < 1:
        raise UserError(f"training.quote_repeats must be at least 1, got {quote_repeats}")
    mix = []
    for row in rows:
        mix.extend([row] * (quote_repeats if carries_quote(row) else 1))
    return mix


def _device_options(config: TrainingSettings) -> dict[str, Any]:
    """Trainer arguments for this machine: CPU or mixed precision, and activation checkpointing as configured."""
    import torch
    from transformers import TrainingArguments

    # transformers 5 renamed gradient_checkpointing (a deprecated alias now, warned about on every run).
    renamed = "activation_checkpointing" in TrainingArguments.__dataclass_fields__
    options: dict[str, Any] = {"activation_checkpointing" if renamed else "gradient_checkpointing":
                               config.gradient_checkpointing}
    if torch.cuda.is_available():
        bf16 = torch.cuda.is_bf16_supported()
        return {**options, "use_cpu": False, "bf16": bf16, "fp16": not bf16}
    return {**options, "use_cpu": True, "bf16": False, "fp16": False}


def _load_model(base: Path, config: TrainingSettings):
    import torch
    from transformers import AutoModelForCausalLM

    if torch.cuda.is_available() and config.quantize_4bit:
        from peft import prepare_model_for_kbit_training
        from transformers import BitsAndBytesConfig

        compute = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        quant = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                                   bnb_4bit_compute_dtype=compute)
        model = AutoModelForCausalLM.from_pretrained(str(base), quantization_config=quant, dtype=compute)
        return prepare_model_for_kbit_training(model, use_gradient_checkpointing=config.gradient_checkpointing)
    return AutoModelForCausalLM.from_pretrained(str(base), dtype=torch.float32)


def _throughput_callback():
    from transformers import TrainerCallback

    class Throughput(TrainerCallback):
        """Adds tokens/s (input tokens seen since this process started training) to every log line."""

        def __init__(self) -> None:
            self.start_time = self.start_tokens = None
            self.steps_s = 0.0  # from the start of training to the end of its last step (no final save)
            self.losses: list[tuple[int, float]] = []

        def on_train_begin(self, args, state, control, **kwargs):
            self.start_time, self.start_tokens = time.perf_counter(), state.num_input_tokens_seen

        def on_step_end(self, args, state, control, **kwargs):
            self.steps_s = time.perf_counter() - self.start_time

        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs is None or self.start_time is None:
                return
            elapsed = max(time.perf_counter() - self.start_time, 1e-9)
            logs["tokens_per_s"] = round((state.num_input_tokens_seen - self.start_tokens) / elapsed, 1)
            if "loss" in logs:
                self.losses.append((state.global_step, float(logs["loss"])))

    return Throughput()


# Fields that change how fast a run goes or how it is logged, not what it learns: a resumed run may differ in them.
FINGERPRINT_IGNORES = ("resume", "cpu_threads", "logging_steps")
FINGERPRINT_FILE = "fingerprint.json"


def training_fingerprint(train_file: Path, config: TrainingSettings) -> dict[str, str]:
    """What the checkpoints in a directory were trained on: the training file's sha256 and the configuration's."""
    digest = hashlib.sha256()
    with open(train_file, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    settings = config.model_dump(mode="json", exclude=set(FINGERPRINT_IGNORES))
    return {"train_sha256": digest.hexdigest(),
            "config_sha256": hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()}


def checkpoint_to_resume(checkpoints: Path, fingerprint: dict[str, str], resume: bool) -> str | None:
    """The newest checkpoint to resume from, or None to start fresh.

    Checkpoints written for other data or another configuration (or by a run that recorded no fingerprint) are
    removed, so they are neither resumed now nor mixed with this run's; the fingerprint is then written before
    training starts, so a kill at any step still leaves checkpoints this run can resume.
    """
    from transformers.trainer_utils import get_last_checkpoint

    recorded_file = checkpoints / FINGERPRINT_FILE
    recorded = json.loads(recorded_file.read_text()) if recorded_file.is_file() else None
    stale = [path for path in checkpoints.glob("checkpoint-*") if path.is_dir()]
    if stale and recorded != fingerprint:
        why = "no fingerprint" if recorded is None else "another training file or configuration"
        print(f"train: {len(stale)} checkpoint(s) in {checkpoints} were written for {why}; starting fresh")
        for path in stale:
            shutil.rmtree(path)
    recorded_file.write_text(json.dumps(fingerprint, indent=2, sort_keys=True))
    return get_last_checkpoint(str(checkpoints)) if resume else None


def main(train_file: Path | str, output_dir: Path | str, config: TrainingSettings,
         callbacks: list | None = None) -> dict[str, Any]:
    """Train, save the adapter to ``output_dir/adapter`` and metrics to ``output_dir/metrics.json``."""
    import torch
    from peft import LoraConfig
    from transformers import AutoTokenizer

    rows = load_examples(Path(train_file))
    examples = training_mix(rows, config.quote_repeats)
    base = resolve_base_model(config.base_model)
    out = Path(output_dir)
    checkpoints = out / "checkpoints"
    checkpoints.mkdir(parents=True, exist_ok=True)
    tokenizer = AutoTokenizer.from_pretrained(str(base))
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "right"
    model = _load_model(base, config)
    lora = LoraConfig(r=config.lora_r, lora_alpha=config.lora_alpha, lora_dropout=config.lora_dropout,
                      target_modules=list(config.target_modules), task_type="CAUSAL_LM", bias="none")
    throughput = _throughput_callback()
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    trainer = build_trainer(model, tokenizer, examples, config, checkpoints, peft_config=lora,
                            callbacks=[throughput, *(callbacks or [])])
    resume_from = checkpoint_to_resume(checkpoints, training_fingerprint(Path(train_file), config), config.resume)
    with cpu_threads(config.cpu_threads):
        started = time.perf_counter()
        result = trainer.train(resume_from_checkpoint=resume_from)
        runtime = time.perf_counter() - started
    adapter_dir = out / "adapter"
    trainer.model.save_pretrained(str(adapter_dir))
    tokenizer.save_pretrained(str(adapter_dir))
    history = [e for e in trainer.state.log_history if "loss" in e]
    tokens = trainer.state.num_input_tokens_seen - (throughput.start_tokens or 0)
    metrics = {
        "base_model": str(base), "adapter_dir": str(adapter_dir), "rows": len(rows), "examples": len(examples),
        "global_step": trainer.state.global_step, "resumed_from": resume_from,
        "train_loss": float(result.training_loss), "final_loss": history[-1]["loss"] if history else None,
        "loss_history": [[e["step"], e["loss"]] for e in history],
        "tokens": int(tokens), "tokens_per_s": round(tokens / max(throughput.steps_s or runtime, 1e-9), 1),
        "steps_s": round(throughput.steps_s, 3), "runtime_s": round(runtime, 3),
        "peak_memory_mb": round(torch.cuda.max_memory_allocated() / 2**20, 1) if torch.cuda.is_available() else None,
        "device": "cuda" if torch.cuda.is_available() else "cpu",
        "config": config.model_dump(mode="json"),
    }
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2, sort_keys=True))
    return metrics


# --- Batching and trainer setup (how examples become batches; shared with benchmarks/bench_training.py) ---

def sft_args(config: TrainingSettings, output_dir: Path | str):
    """The ``SFTConfig`` of the step: optimisation, checkpoints and how examples are batched.

    ``group_by_length`` draws batches of similar length (less padding); ``padding_free`` flattens each batch
    into one row whose ``position_ids`` restart per example, so attention never crosses an example (the
    truncation to ``max_length`` is then done by ``build_trainer``, which trl leaves undone in that mode).
    """
    from trl import SFTConfig

    padding_free = config.padding_free and not config.packing  # packing ("bfd") is padding-free by itself
    return SFTConfig(
        output_dir=str(output_dir), max_steps=config.max_steps, per_device_train_batch_size=config.batch_size,
        gradient_accumulation_steps=config.gradient_accumulation_steps, learning_rate=config.learning_rate,
        lr_scheduler_type="linear", warmup_steps=0, logging_steps=config.logging_steps,
        save_strategy="steps", save_steps=config.save_steps, save_total_limit=2,
        max_length=None if padding_free else config.max_length, padding_free=padding_free,
        packing=config.packing, train_sampling_strategy="group_by_length" if config.group_by_length else "random",
        assistant_only_loss=config.assistant_only_loss, seed=config.seed, data_seed=config.seed,
        report_to="none", include_num_input_tokens_seen="non_padding", dataloader_num_workers=0,
        disable_tqdm=False, **_device_options(config),
    )


TOKEN_ALIGNED = ("input_ids", "labels", "assistant_masks", "completion_mask", "attention_mask", "token_type_ids")


def _trains_something(row: dict) -> bool:
    if "labels" in row:
        return any(label != -100 for label in row["labels"])
    mask = row.get("assistant_masks", row.get("completion_mask"))
    return mask is None or any(mask)


def truncate_tokenized(dataset, max_length: int):
    """Cut every token-aligned column of trl's prepared dataset to ``max_length``; drop rows left with no loss."""
    aligned = [c for c in dataset.column_names if c in TOKEN_ALIGNED]
    dataset = dataset.map(lambda row: {c: row[c][:max_length] for c in aligned})
    return dataset.filter(_trains_something)


def _trainer_class(fused_lm_head: bool):
    from transformers import Trainer
    from trl import SFTTrainer

    class StepTrainer(SFTTrainer):
        """trl's SFTTrainer; without the fused LM head the loss is the model's own (same labels, same -100s)."""

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            if fused_lm_head:
                return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
            inputs["use_cache"] = False  # as trl does: a cache would also hide padding-free boundaries
            return Trainer.compute_loss(self, model, inputs, return_outputs, num_items_in_batch)

    return StepTrainer


def as_prompt_completion(example: dict) -> dict:
    """trl's conversational prompt-completion form: everything before the final answer is the prompt."""
    messages = example["messages"]
    if not messages or messages[-1]["role"] != "assistant":
        raise UserError("a training row must end with the assistant's answer")
    return {"prompt": messages[:-1], "completion": messages[-1:]}


def build_trainer(model, tokenizer, examples: list[dict], config: TrainingSettings, output_dir: Path | str,
                  peft_config=None, callbacks: list | None = None):
    """The ``SFTTrainer`` over ``examples``, its dataset tokenised once here (not per step)."""
    import torch
    from datasets import Dataset

    from components.train.progress import use_readable_progress

    if config.final_answer_only:
        examples = [as_prompt_completion(example) for example in examples]
    args = sft_args(config, output_dir)
    fused = torch.cuda.is_available() if config.fused_lm_head is None else config.fused_lm_head
    trainer = _trainer_class(fused)(model=model, args=args, train_dataset=Dataset.from_list(examples),
                                    processing_class=tokenizer, peft_config=peft_config, callbacks=callbacks)
    use_readable_progress(trainer)
    if args.padding_free and not args.packing:
        trainer.train_dataset = truncate_tokenized(trainer.train_dataset, config.max_length)
    return trainer


def training_config(settings: Settings | None = None, **overrides: Any) -> TrainingSettings:
    """The configured ``TrainingSettings`` with the given fields replaced (None leaves a field as configured)."""
    base = (settings or get_settings()).training.model_dump()
    base.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return TrainingSettings.model_validate(base)
    except ValidationError as exc:
        problem = exc.errors()[0]
        raise UserError(f"training.{'.'.join(map(str, problem['loc']))}: {problem['msg']}") from None


def _parse_args(argv: list[str] | None = None) -> tuple[Path, Path, TrainingSettings]:
    parser = argparse.ArgumentParser(description="LoRA SFT of the base Llama on chat-messages JSONL.")
    parser.add_argument("--train-file", type=Path, required=True)
    parser.add_argument("--output-dir", type=Path, required=True)
    for name, field in TrainingSettings.model_fields.items():
        flag = "--" + name.replace("_", "-")
        default = field.get_default(call_default_factory=True)
        if isinstance(default, list):
            parser.add_argument(flag, nargs="+")
        elif isinstance(default, bool):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=None)
        elif name == "base_model":
            parser.add_argument(flag, type=Path)
        else:
            parser.add_argument(flag, type=type(default))
    ns = vars(parser.parse_args(argv))
    return ns.pop("train_file"), ns.pop("output_dir"), training_config(**ns)


if __name__ == "__main__":
    print(json.dumps(main(*_parse_args()), indent=2))

"""Training throughput and peak memory: the train step (trl SFTTrainer + peft) vs a plain transformers+peft loop.

Both train the same LoRA (settings.training: r, alpha, dropout, q/k/v/o) on the tiny offline Llama with the
same batches (the baseline takes the trainer's own dataloader, so tokenisation, masking and order match) and the
same optimizer and learning rate. Each runs in its own process, so the peak resident memory (ru_maxrss) is its
own. Tokens are non-padding input tokens. On CUDA, peak memory is the allocator's peak.

    python -m benchmarks.bench_training [--quick]
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROUTE = "benchmarks.bench_training"


def _examples(path: Path, repeat: int) -> Path:
    from hibachi.knowledge import load_knowledge_base

    passages = load_knowledge_base().passages()
    rows = [{"messages": [{"role": "user", "content": f"Question {r} about {p.topic}: what should I know?"},
                          {"role": "assistant", "content": p.text}]} for r in range(repeat) for p in passages]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _config(tmp: Path, steps: int):
    from components.train.train import training_config
    from devkit.tiny_model import build_tiny_model

    base = build_tiny_model(tmp / "tiny")
    config = training_config(base_model=base, max_steps=steps, save_steps=10_000, logging_steps=max(1, steps // 4),
                             max_length=128, batch_size=8, resume=False)
    return _examples(tmp / "train.jsonl", 8), tmp / "out", config


def _peak_mb() -> float:
    import torch

    if torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker_sft(tmp: Path, steps: int) -> dict:
    from components.train.train import main

    metrics = main(*_config(tmp, steps))
    return {"tokens": metrics["tokens"], "seconds": metrics["runtime_s"], "peak_mb": _peak_mb(),
            "final_loss": metrics["final_loss"]}


def worker_plain(tmp: Path, steps: int) -> dict:
    """The same batches through model(**batch).loss / backward / AdamW step, nothing else."""
    import torch
    from datasets import Dataset
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    from components.train.train import load_examples

    train_file, _, config = _config(tmp, steps)
    tokenizer = AutoTokenizer.from_pretrained(str(config.base_model))
    tokenizer.padding_side = "right"
    lora = LoraConfig(r=config.lora_r, lora_alpha=config.lora_alpha, lora_dropout=config.lora_dropout,
                      target_modules=list(config.target_modules), task_type="CAUSAL_LM")
    model = AutoModelForCausalLM.from_pretrained(str(config.base_model), dtype=torch.float32)
    # Only to get the identical collated batches: the trainer's dataloader, never its training loop.
    feeder = SFTTrainer(model=AutoModelForCausalLM.from_pretrained(str(config.base_model)), processing_class=tokenizer,
                        train_dataset=Dataset.from_list(load_examples(train_file)),
                        args=SFTConfig(output_dir=str(tmp / "feeder"), per_device_train_batch_size=config.batch_size,
                                       max_length=config.max_length, assistant_only_loss=True, use_cpu=True,
                                       bf16=False, report_to="none", seed=config.seed, data_seed=config.seed))
    batches = []
    for batch in feeder.get_train_dataloader():
        batches.append({k: v for k, v in batch.items() if k in ("input_ids", "attention_mask", "labels")})
        if len(batches) == steps:
            break
    del feeder
    model = get_peft_model(model, lora)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=config.learning_rate)
    model.train()
    tokens, started = 0, time.perf_counter()
    for step in range(steps):
        batch = batches[step % len(batches)]
        loss = model(**batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        tokens += int(batch["attention_mask"].sum())
    return {"tokens": tokens, "seconds": time.perf_counter() - started, "peak_mb": _peak_mb(),
            "final_loss": float(loss)}


def _spawn(kind: str, steps: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run([sys.executable, "-m", ROUTE, "--worker", kind, tmp, str(steps)], capture_output=True,
                              text=True, timeout=1800)
        if done.returncode != 0:
            raise RuntimeError(f"{kind} worker failed: {done.stderr[-2000:]}")
        return json.loads(done.stdout.strip().splitlines()[-1])


def run(quick: bool = False) -> list[dict]:
    steps = 10 if quick else 30
    sft, plain = _spawn("sft", steps), _spawn("plain", steps)
    sft_rate, plain_rate = sft["tokens"] / sft["seconds"], plain["tokens"] / plain["seconds"]
    return [
        {"benchmark": "training", "figure": f"SFTTrainer LoRA tokens/s (tiny Llama, {steps} steps, batch 8)",
         "value": round(sft_rate, 1), "unit": "tokens/s", "baseline": round(plain_rate, 1),
         "ratio": round(sft_rate / plain_rate, 3), "target": ">= 0.8x plain transformers+peft loop"},
        {"benchmark": "training", "figure": "peak memory of the training process", "value": round(sft["peak_mb"], 1),
         "unit": "MiB", "baseline": round(plain["peak_mb"], 1), "ratio": round(sft["peak_mb"] / plain["peak_mb"], 3),
         "target": "<= 1.5x plain loop"},
    ]


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        kind, tmp, steps = sys.argv[2], Path(sys.argv[3]), int(sys.argv[4])
        result = (worker_sft if kind == "sft" else worker_plain)(tmp, steps)
        print(json.dumps(result))
        return
    for row in run(quick="--quick" in sys.argv):
        print(f"{row['figure']}: {row['value']} {row['unit']} vs baseline {row['baseline']} -> {row['ratio']}x "
              f"(target {row['target']})")


if __name__ == "__main__":
    main()

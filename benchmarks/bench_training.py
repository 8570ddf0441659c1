"""Training throughput, peak memory and padding: the train step (trl SFTTrainer + peft) vs a plain transformers+peft
loop.

Both train the same LoRA (settings.training: r, alpha, dropout, q/k/v/o) on the tiny offline Llama with the same
optimizer, learning rate and torch thread count. The baseline takes padded batches (each padded to its longest
example, in the seeded random order) from a trainer's own dataloader, so tokenisation and masking match, and runs
``model(**batch).loss / backward / AdamW step`` and nothing else. The train step runs three ways: the same padded
random batches (the step's former batching), length-grouped batches, and padding-free batches (one flattened row,
position_ids restarting per example). Tokens are non-padding input tokens; the padding share is the share of
computed positions that are padding, over the batches each run trained on. Each run is its own process, so its
peak resident memory (ru_maxrss) is its own; runs are interleaved over rounds and each keeps its best round, so a
neighbour's load on this shared machine hits all alike. On CUDA, peak memory is the allocator's peak.

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
# name -> TrainingSettings overrides of the train step's batching
VARIANTS = {
    "padded": {"group_by_length": False, "padding_free": False},
    "grouped": {"group_by_length": True, "padding_free": False},
    "padding_free": {"group_by_length": False, "padding_free": True},
}


def _examples(path: Path, repeat: int) -> Path:
    """Chat rows of varied length: a question about a knowledge-base topic answered by the passage."""
    from hibachi.knowledge import load_knowledge_base

    passages = load_knowledge_base().passages()
    rows = [{"messages": [{"role": "user", "content": f"Question {r} about {p.topic}: what should I know?"},
                          {"role": "assistant", "content": p.text}]} for r in range(repeat) for p in passages]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _config(tmp: Path, steps: int, **batching):
    from components.train.train import training_config
    from devkit.tiny_model import build_tiny_model

    base = build_tiny_model(tmp / "tiny")
    config = training_config(base_model=base, max_steps=steps, save_steps=10_000, logging_steps=max(1, steps // 4),
                             max_length=128, batch_size=8, resume=False, **batching)
    return _examples(tmp / "train.jsonl", 8), tmp / "out", config


def _peak_mb() -> float:
    import torch

    if torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def padding_share(batches: list[dict]) -> float:
    """Share of the computed positions that are padding (flattened padding-free rows have none)."""
    computed = sum(int(b["input_ids"].numel()) for b in batches)
    real = sum(int(b["attention_mask"].sum()) if "attention_mask" in b else int(b["input_ids"].numel())
               for b in batches)
    return 1 - real / computed if computed else 0.0


def _dataloader(tmp: Path, config):
    """The dataloader a trainer with this configuration trains from (same seed, same order, same collation)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from components.train.train import build_trainer, load_examples

    tokenizer = AutoTokenizer.from_pretrained(str(config.base_model))
    tokenizer.padding_side = "right"
    feeder = build_trainer(AutoModelForCausalLM.from_pretrained(str(config.base_model)), tokenizer,
                           load_examples(tmp / "train.jsonl"), config, tmp / "feeder")
    return feeder.get_train_dataloader()


def _batches(tmp: Path, steps: int, config) -> list[dict]:
    """The first ``steps`` batches a trainer with this configuration trains on."""
    batches = []
    for batch in _dataloader(tmp, config):
        batches.append(batch)
        if len(batches) == steps:
            break
    return batches


def _step_clock():
    """A callback timing the steps themselves, wall and CPU, from the start of training to the end of the last
    step (setup and the final checkpoint save are outside, as they are outside the baseline's loop)."""
    from transformers import TrainerCallback

    class StepClock(TrainerCallback):
        def on_train_begin(self, args, state, control, **kwargs):
            self.start = (time.perf_counter(), time.process_time())
            self.seconds = self.cpu_seconds = 0.0

        def on_step_end(self, args, state, control, **kwargs):
            self.seconds = time.perf_counter() - self.start[0]
            self.cpu_seconds = time.process_time() - self.start[1]

    return StepClock()


def worker_sft(tmp: Path, steps: int, variant: str) -> dict:
    from components.train.train import main

    train_file, out, config = _config(tmp, steps, **VARIANTS[variant])
    clock = _step_clock()
    metrics = main(train_file, out, config, callbacks=[clock])
    result = {"tokens": metrics["tokens"], "seconds": clock.seconds, "cpu_seconds": clock.cpu_seconds,
              "peak_mb": _peak_mb(), "final_loss": metrics["final_loss"]}
    return {**result, "padding_share": padding_share(_batches(tmp, steps, config))}


def worker_plain(tmp: Path, steps: int, variant: str) -> dict:
    """The padded random batches through model(**batch).loss / backward / AdamW step, nothing else. The batches are
    drawn from the trainer's dataloader inside the timed loop, as the train step draws its own: collating them is
    part of a training step either way."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    _, _, config = _config(tmp, steps, **VARIANTS[variant])
    # Only to get the identical collated batches: a trainer's dataloader, never its training loop.
    dataloader = _dataloader(tmp, config)
    if config.cpu_threads and not torch.cuda.is_available():
        torch.set_num_threads(config.cpu_threads)  # the same threads as the train step
    lora = LoraConfig(r=config.lora_r, lora_alpha=config.lora_alpha, lora_dropout=config.lora_dropout,
                      target_modules=list(config.target_modules), task_type="CAUSAL_LM")
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(str(config.base_model), dtype=torch.float32), lora)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=config.learning_rate)
    model.train()
    batches, feed = [], iter(dataloader)
    tokens, started, cpu_started = 0, time.perf_counter(), time.process_time()
    for _ in range(steps):
        try:
            batch = next(feed)
        except StopIteration:  # a new epoch, as the train step starts one
            feed = iter(dataloader)
            batch = next(feed)
        batch = {k: v for k, v in batch.items() if k in ("input_ids", "attention_mask", "labels")}
        batches.append(batch)
        loss = model(**batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        tokens += int(batch["attention_mask"].sum())
    return {"tokens": tokens, "seconds": time.perf_counter() - started,
            "cpu_seconds": time.process_time() - cpu_started, "peak_mb": _peak_mb(), "final_loss": float(loss),
            "padding_share": padding_share(batches)}


def _spawn(kind: str, steps: int, variant: str = "padded") -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run([sys.executable, "-m", ROUTE, "--worker", kind, tmp, str(steps), variant],
                              capture_output=True, text=True, timeout=1800)
        if done.returncode != 0:
            raise RuntimeError(f"{kind} {variant} worker failed: {done.stderr[-2000:]}")
        return json.loads(done.stdout.strip().splitlines()[-1])


def _best(runs: list[dict]) -> dict:
    """Best wall rate and best CPU rate over the rounds (the least disturbed), highest peak memory."""
    return {**runs[0], "rate": max(r["tokens"] / r["seconds"] for r in runs),
            "cpu_rate": max(r["tokens"] / r["cpu_seconds"] for r in runs), "peak_mb": max(r["peak_mb"] for r in runs)}


def run(quick: bool = False) -> list[dict]:
    steps, rounds = (10, 2) if quick else (30, 3)
    results: dict[str, list[dict]] = {name: [] for name in ("plain", *VARIANTS)}
    for _ in range(rounds):
        results["plain"].append(_spawn("plain", steps))
        for variant in VARIANTS:
            results[variant].append(_spawn("sft", steps, variant))
    plain = _best(results["plain"])
    plain_rate = plain["rate"]
    rows = []
    for variant in VARIANTS:
        sft = _best(results[variant])
        rate = sft["rate"]
        label = {"padded": "padded random batches (as before)", "grouped": "length-grouped batches",
                 "padding_free": "padding-free batches"}[variant]
        rows += [
            {"benchmark": "training", "figure": f"train step tokens/s, {label} (tiny Llama, {steps} steps, batch 8)",
             "value": round(rate, 1), "unit": "tokens/s", "baseline": round(plain_rate, 1),
             "ratio": round(rate / plain_rate, 3), "target": ">= 1.0x plain transformers+peft loop (padded)",
             "meets": rate >= plain_rate},
            {"benchmark": "training", "figure": f"train step tokens per CPU-second (one torch thread), {label}",
             "value": round(sft["cpu_rate"], 1), "unit": "tokens/CPU-s", "baseline": round(plain["cpu_rate"], 1),
             "ratio": round(sft["cpu_rate"] / plain["cpu_rate"], 3), "target": ">= 1.0x plain loop (padded)",
             "meets": sft["cpu_rate"] >= plain["cpu_rate"]},
            {"benchmark": "training", "figure": f"peak memory, {label}", "value": round(sft["peak_mb"], 1),
             "unit": "MiB", "baseline": round(plain["peak_mb"], 1),
             "ratio": round(sft["peak_mb"] / plain["peak_mb"], 3),
             "target": "<= 1.0x plain loop (+2% noise)", "meets": sft["peak_mb"] <= plain["peak_mb"] * 1.02},
            {"benchmark": "training", "figure": f"padding share of computed tokens, {label}",
             "value": round(sft["padding_share"], 3), "unit": "share", "baseline": round(plain["padding_share"], 3),
             "ratio": round(sft["padding_share"] / plain["padding_share"], 3) if plain["padding_share"] else "",
             "target": "", "meets": None},
        ]
    return rows


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        kind, tmp, steps, variant = sys.argv[2], Path(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
        result = (worker_sft if kind == "sft" else worker_plain)(tmp, steps, variant)
        print(json.dumps(result))
        return
    for row in run(quick="--quick" in sys.argv):
        print(f"{row['figure']}: {row['value']} {row['unit']} vs baseline {row['baseline']} -> {row['ratio']}x "
              f"(target {row['target']})")


if __name__ == "__main__":
    main()

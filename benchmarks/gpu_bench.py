"""GPU throughput on the Llama-3.1-8B architecture with random weights: QLoRA training MFU, batch-1 decode vs bandwidth.

Run by ``benchmarks/gpu.sh`` on a lent GPU machine only (never in CI, never by ``make bench``): no network, no
downloaded weights; throughput does not need trained ones. Two figures, one table:

1. QLoRA training: the project's own train step (``components.train.train.main``: 4-bit nf4 base, LoRA on
   q/k/v/o, trl SFTTrainer) on synthetic chats; tokens/s and MFU = model FLOPs/s over the device's peak dense
   bf16 FLOPs/s. Model FLOPs per token are ``4 N + 6 L s d``: forward (2N) and the input-gradient half of the
   backward (2N) through the frozen matmuls (a frozen base computes no weight gradients), plus causal attention
   (forward and backward) at sequence length ``s``; gradient-checkpointing recomputation is not counted.
2. Batch-1 greedy decode of a bf16 copy through ``generate``: tokens/s as a share of the memory-bandwidth bound
   (peak HBM bytes/s over the bytes of weights read per token).

    benchmarks/gpu.sh [--train-steps 30] [--warmup-steps 5] [--decode-tokens 256] [--seq-len 1024] [--batch 4]
"""

from __future__ import annotations

import argparse
import importlib
import itertools
import json
import sys
import tempfile
import time
from pathlib import Path

# The published Llama-3.1-8B architecture (config.json of meta-llama/Llama-3.1-8B), built by hand: no download.
LLAMA_31_8B = {
    "vocab_size": 128256, "hidden_size": 4096, "intermediate_size": 14336, "num_hidden_layers": 32,
    "num_attention_heads": 32, "num_key_value_heads": 8, "max_position_embeddings": 131072,
    "rope_theta": 500000.0, "rms_norm_eps": 1e-5, "hidden_act": "silu", "tie_word_embeddings": False,
    "bos_token_id": 128000, "eos_token_id": 128001,
    "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                     "original_max_position_embeddings": 8192},
}
# Peak dense bf16 FLOP/s and HBM bytes/s by device-name fragment (vendor data sheets), most specific first.
DEVICES = [
    ("H200", 989e12, 4.8e12), ("H100 PCIe", 756e12, 2.0e12), ("H100", 989e12, 3.35e12), ("GH200", 989e12, 4.0e12),
    ("B200", 2250e12, 8.0e12), ("A100-SXM4-80GB", 312e12, 2.04e12), ("A100", 312e12, 1.56e12),
    ("L40S", 362e12, 0.864e12), ("L4", 121e12, 0.3e12), ("A10G", 125e12, 0.6e12), ("A10", 125e12, 0.6e12),
]


class NotRunnable(RuntimeError):
    """No CUDA device, or a package the run needs is missing: this benchmark has nothing to say here."""


# What the run imports (the train step's stack); a missing dependency of one is reported under its own name.
NEEDED_MODULES = ("transformers", "accelerate", "bitsandbytes", "peft", "trl", "datasets", "pydantic_settings")


def missing_modules(names: tuple[str, ...] = NEEDED_MODULES) -> list[str]:
    """Each of ``names`` that does not import, with the reason."""
    missing = []
    for name in names:
        try:
            importlib.import_module(name)
        except ImportError as exc:
            missing.append(f"{name} ({exc})")
    return missing


def llama_config(**overrides):
    """A ``LlamaConfig`` of the Llama-3.1-8B architecture; ``overrides`` shrink it (tests) or change a field."""
    from transformers import LlamaConfig

    return LlamaConfig(**{**LLAMA_31_8B, **overrides})


def matmul_params(config) -> int:
    """Parameters that take part in a matmul per token: every linear of the decoder and the LM head (the
    embedding is a lookup)."""
    d, f, layers = config.hidden_size, config.intermediate_size, config.num_hidden_layers
    kv = config.num_key_value_heads * (d // config.num_attention_heads)
    per_layer = d * d * 2 + d * kv * 2 + 3 * d * f  # q, o; k, v; gate, up, down
    return layers * per_layer + config.vocab_size * d


def lora_train_flops_per_token(config, seq_len: int) -> float:
    """Model FLOPs per trained token with a frozen base: 4N through the matmuls plus causal attention."""
    return 4 * matmul_params(config) + 6 * config.num_hidden_layers * seq_len * config.hidden_size


def device_peaks(name: str) -> tuple[float | None, float | None]:
    for fragment, flops, bandwidth in DEVICES:
        if fragment in name:
            return flops, bandwidth
    return None, None


def require_cuda() -> str:
    """The CUDA device's name, or ``NotRunnable`` with what to do instead (before any model is built)."""
    try:
        import torch
    except ImportError as exc:
        raise NotRunnable(f"torch is not importable ({exc}); install the project with a CUDA build of torch") from None
    if not torch.cuda.is_available():
        raise NotRunnable(f"no CUDA device visible to torch {torch.__version__} (CUDA build: "
                          f"{torch.version.cuda or 'no'}); benchmarks/gpu.sh measures a GPU: run it on a machine with "
                          "one (CPU figures: make bench)")
    missing = missing_modules()
    if missing:
        raise NotRunnable(f"not importable: {'; '.join(missing)}. QLoRA needs the project's training stack; on an "
                          "offline machine carry it as wheels (make gpu-wheels, then GPU_WHEELS=<dir> "
                          "benchmarks/gpu.sh)")
    return torch.cuda.get_device_name(0)


def _random_model(directory: Path, config, device: str):
    """Random bf16 weights initialised on ``device``, also saved as a checkpoint (``directory/base``) with the
    stand-in's tokenizer (its ids fall inside the 128k vocabulary)."""
    import torch
    from transformers import AutoTokenizer, LlamaForCausalLM

    from devkit.tiny_model import build_tiny_model

    # The stand-in's tokenizer, told the architecture's context length, and the config told its special ids (so the
    # trainer has nothing to realign and warn about).
    tokenizer = AutoTokenizer.from_pretrained(str(build_tiny_model(directory / "tokenizer-source")),
                                              model_max_length=config.max_position_embeddings)
    config.bos_token_id, config.eos_token_id = tokenizer.bos_token_id, tokenizer.eos_token_id
    torch.manual_seed(0)
    with torch.device(device):  # built in bf16 directly: an fp32 8B model would take 32 GB first
        model = LlamaForCausalLM._from_config(config, dtype=torch.bfloat16)
    model.save_pretrained(directory / "base", safe_serialization=True)
    tokenizer.save_pretrained(directory / "base")
    return model


def _synchronize(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def decode_row(model, name: str, new_tokens: int, device: str = "cuda") -> dict:
    import torch

    _, bandwidth = device_peaks(name)
    model.eval()
    ids = torch.randint(1000, 2000, (1, 32), device=device)
    kwargs = dict(max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False, pad_token_id=0,
                  attention_mask=torch.ones_like(ids))
    with torch.inference_mode():
        model.generate(ids, **{**kwargs, "max_new_tokens": 8, "min_new_tokens": 8})
        best = float("inf")
        for _ in range(3):
            _synchronize(device)
            start = time.perf_counter()
            model.generate(ids, **kwargs)
            _synchronize(device)
            best = min(best, time.perf_counter() - start)
    rate = new_tokens / best
    weight_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
    bound = bandwidth / weight_bytes if bandwidth else None
    return {"figure": f"batch-1 decode, Llama-3.1-8B arch bf16, {new_tokens} tokens (HF generate, eager)",
            "value": round(rate, 1), "unit": "tokens/s", "baseline": round(bound, 1) if bound else "",
            "ratio": round(rate / bound, 3) if bound else "", "target": "share of the HBM-bandwidth bound"}


def _synthetic_chats(path: Path, rows: int, words: int) -> Path:
    import random

    rng = random.Random(7)
    vocab = "adults children hibachi dinner price party chef rice shrimp steak table booking deposit".split()
    lines = []
    for i in range(rows):
        n = rng.randint(words // 2, words)
        answer = " ".join(rng.choice(vocab) for _ in range(n))
        lines.append({"messages": [{"role": "user", "content": f"Question {i}: tell me about the party options."},
                                   {"role": "assistant", "content": answer}]})
    path.write_text("".join(json.dumps(r) + "\n" for r in lines))
    return path


def _step_clock(device: str):
    """A trainer callback that marks (seconds, input tokens seen) at the end of every optimizer step, once the
    device has finished it."""
    from transformers import TrainerCallback

    class StepClock(TrainerCallback):
        def __init__(self) -> None:
            self.marks: list[tuple[float, int]] = []

        def on_step_end(self, args, state, control, **kwargs):
            _synchronize(device)
            self.marks.append((time.perf_counter(), state.num_input_tokens_seen))

    return StepClock()


def steady_rate(marks: list[tuple[float, int]], warmup_steps: int) -> float:
    """Tokens/s from the end of step ``warmup_steps`` to the end of the last step: the first steps also pay for
    CUDA's and the allocator's start, which a longer run spreads thinner."""
    if not 1 <= warmup_steps < len(marks):
        raise ValueError(f"need more steps ({len(marks)}) than warm-up steps ({warmup_steps}), and at least one")
    (start, seen), (end, total) = marks[warmup_steps - 1], marks[-1]
    return (total - seen) / (end - start)


def train_row(base: Path, workdir: Path, name: str, config, steps: int, seq_len: int, batch: int,
              warmup_steps: int, device: str = "cuda") -> dict:
    import torch

    from components.train.train import main, training_config

    peak_flops, _ = device_peaks(name)
    settings = training_config(base_model=base, max_steps=steps, batch_size=batch, max_length=seq_len,
                               save_steps=10_000, logging_steps=max(1, steps // 4), resume=False,
                               quantize_4bit=True, gradient_checkpointing=True)
    train_file = _synthetic_chats(workdir / "train.jsonl", rows=steps * batch, words=seq_len)
    clock = _step_clock(device)
    metrics = main(train_file, workdir / "run", settings, callbacks=[clock])
    rate = steady_rate(clock.marks, warmup_steps)
    seconds = [end - start for (start, _), (end, _) in itertools.pairwise(clock.marks)]
    print(f"train step seconds, steps 2-{len(clock.marks)}: " + " ".join(f"{s:.2f}" for s in seconds),
          file=sys.stderr, flush=True)
    whole_run = metrics["tokens"] / metrics["runtime_s"]
    achieved = rate * lora_train_flops_per_token(config, seq_len)
    mfu = achieved / peak_flops if peak_flops else None
    # The train step quantizes only on CUDA (bitsandbytes); elsewhere it trains LoRA over an fp32 base.
    base_kind = "nf4 base" if metrics["device"] == "cuda" else f"{metrics['device']}: fp32 base, not QLoRA"
    peak = f"; peak {torch.cuda.max_memory_allocated() / 2**30:.1f} GiB" if metrics["device"] == "cuda" else ""
    return {"figure": f"QLoRA train step ({base_kind}, LoRA r={settings.lora_r} q/k/v/o, batch {batch}, max_length "
            f"{seq_len}, gradient checkpointing); steps {warmup_steps + 1}-{steps} of {steps} "
            f"(whole run with warm-up: {whole_run:.1f} tokens/s){peak}",
            "value": round(rate, 1), "unit": "tokens/s", "baseline": round(peak_flops / 1e12) if peak_flops else "",
            "ratio": round(mfu, 3) if mfu else "", "target": "MFU (model FLOPs / peak bf16 TFLOP/s in baseline)"}


def measure(config, device_name: str, workdir: Path, *, train_steps: int, decode_tokens: int, seq_len: int,
            batch: int, warmup_steps: int = 5, device: str = "cuda") -> list[dict]:
    """Both figures for ``config`` on ``device`` (``device_name`` looks up its peaks): decode first, on the
    random checkpoint it builds, then the train step from that checkpoint on disk."""
    import gc

    import torch

    started = time.perf_counter()
    model = _random_model(workdir, config, device)
    print(f"random checkpoint built and saved in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    rows = [_reported(decode_row(model, device_name, decode_tokens, device))]
    del model
    gc.collect()
    if device.startswith("cuda"):
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    rows.append(_reported(train_row(workdir / "base", workdir, device_name, config, train_steps, seq_len, batch,
                                  warmup_steps, device)))
    return rows


def _reported(row: dict) -> dict:
    """``row``, also printed at once (stderr): a run cut short by gpu.sh's time limit keeps what it measured."""
    print(f"measured: {json.dumps(row)}", file=sys.stderr, flush=True)
    return row


def stack_versions() -> str:
    """The versions that decide these figures (the GPU image's own, or the carried wheels)."""
    from importlib.metadata import PackageNotFoundError, version

    found = []
    for name in ("torch", "transformers", "bitsandbytes", "peft", "trl", "accelerate"):
        try:
            found.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            found.append(f"{name} missing")
    return ", ".join(found)


def render(rows: list[dict], device: str) -> str:
    columns = ("figure", "value", "unit", "baseline", "ratio", "target")
    lines = [f"GPU benchmark on {device} ({stack_versions()})", "",
             "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(str(row.get(c, "")) for c in columns) + " |" for row in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train-steps", type=int, default=30)
    parser.add_argument("--warmup-steps", type=int, default=5, help="train steps left out of tokens/s and MFU")
    parser.add_argument("--decode-tokens", type=int, default=256)
    parser.add_argument("--seq-len", type=int, default=1024)
    parser.add_argument("--batch", type=int, default=4)
    args = parser.parse_args(argv)
    if not 1 <= args.warmup_steps < args.train_steps:
        parser.error(f"--warmup-steps must be at least 1 and below --train-steps ({args.train_steps})")
    try:
        device = require_cuda()
    except NotRunnable as exc:
        print(f"gpu benchmark: {exc}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="hibachi-gpu-") as tmp:
        rows = measure(llama_config(), device, Path(tmp), train_steps=args.train_steps,
                       decode_tokens=args.decode_tokens, seq_len=args.seq_len, batch=args.batch,
                       warmup_steps=args.warmup_steps)
    print(render(rows, device))
    print(f"\n(total {time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

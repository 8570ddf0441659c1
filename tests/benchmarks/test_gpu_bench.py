"""The GPU benchmark's pieces that run anywhere: the Llama-3.1-8B config, its FLOP count, the no-GPU exit, and
its whole measurement on a shrunken model on the CPU (so a lent GPU's minutes are not spent finding a broken call)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from benchmarks.gpu_bench import device_peaks, llama_config, lora_train_flops_per_token, matmul_params, measure

ROOT = Path(__file__).resolve().parents[2]
SMALL = dict(vocab_size=256, hidden_size=64, intermediate_size=160, num_hidden_layers=2, num_attention_heads=4,
             num_key_value_heads=2, bos_token_id=1, eos_token_id=2)


def test_the_config_is_the_llama_31_8b_architecture():
    config = llama_config()
    assert (config.hidden_size, config.num_hidden_layers, config.num_attention_heads, config.num_key_value_heads,
            config.intermediate_size, config.vocab_size) == (4096, 32, 32, 8, 14336, 128256)
    assert config.rope_parameters["rope_theta"] == 500000.0
    # Published total 8,030,261,248 parameters, less the 128256 x 4096 embedding and the 65 RMSNorm weights.
    assert matmul_params(config) == 8_030_261_248 - 128256 * 4096 - 65 * 4096


def test_a_shrunken_config_builds_a_model_whose_linears_match_the_flop_count():
    import torch
    from transformers import LlamaForCausalLM

    torch.manual_seed(0)
    config = llama_config(**SMALL)
    model = LlamaForCausalLM(config)
    linear = sum(m.weight.numel() for m in model.modules() if isinstance(m, torch.nn.Linear))
    assert matmul_params(config) == linear
    assert model.config.rope_parameters["rope_type"] == "llama3"
    out = model(input_ids=torch.tensor([[1, 5, 7, 9]]), labels=torch.tensor([[1, 5, 7, 9]]))
    assert torch.isfinite(out.loss)
    assert lora_train_flops_per_token(config, 128) == 4 * linear + 6 * 2 * 128 * 64


@pytest.mark.parametrize(("name", "flops", "bandwidth"), [
    ("NVIDIA H200", 989e12, 4.8e12), ("NVIDIA H100 80GB HBM3", 989e12, 3.35e12),
    ("NVIDIA H100 PCIe", 756e12, 2.0e12), ("NVIDIA A100-SXM4-80GB", 312e12, 2.04e12),
    ("Some Future Card", None, None)])
def test_device_peaks_by_name(name, flops, bandwidth):
    assert device_peaks(name) == (flops, bandwidth)


def test_gpu_sh_fails_fast_with_a_clear_message_without_cuda():
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present: the script would run the benchmark")
    started = time.monotonic()
    done = subprocess.run([str(ROOT / "benchmarks" / "gpu.sh")], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert "no CUDA device" in done.stderr and "benchmarks/gpu.sh measures a GPU" in done.stderr
    assert done.stdout == ""
    assert time.monotonic() - started < 90  # no model is built before the check


def test_the_measurement_runs_end_to_end_on_a_shrunken_model(tmp_path, capsys):
    """The same build / save / decode / train-from-disk path as on a GPU, on the CPU: no peaks are known for it, so
    the rows carry throughput without a ratio, and the train row says it was not QLoRA."""
    config = llama_config(**{**SMALL, "vocab_size": 2048})  # the stand-in tokenizer's ids, and decode's 1000-2000
    rows = measure(config, "cpu", tmp_path, train_steps=2, decode_tokens=8, seq_len=64, batch=2, device="cpu")
    decode, train = rows
    assert decode["unit"] == "tokens/s" and decode["value"] > 0 and decode["ratio"] == ""
    assert "8 tokens" in decode["figure"]
    assert train["unit"] == "tokens/s" and train["value"] > 0 and train["ratio"] == ""
    assert "cpu: fp32 base, not QLoRA" in train["figure"] and "2 steps" in train["figure"]
    assert (tmp_path / "base" / "config.json").is_file() and (tmp_path / "run" / "adapter").is_dir()
    assert "random checkpoint built and saved" in capsys.readouterr().err

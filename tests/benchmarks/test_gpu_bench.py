"""The GPU benchmark's pieces that run anywhere: the Llama-3.1-8B config, its FLOP count, the no-GPU exit, and
its whole measurement on a shrunken model on the CPU (so a lent GPU's minutes are not spent finding a broken call)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from benchmarks.gpu_bench import (
    device_peaks,
    llama_config,
    lora_train_flops_per_token,
    matmul_params,
    measure,
    missing_modules,
    steady_rate,
)

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


def _skip_with_cuda():
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present: the script would run the benchmark")


def test_gpu_sh_fails_fast_with_a_clear_message_without_cuda():
    _skip_with_cuda()
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
    rows = measure(config, "cpu", tmp_path, train_steps=3, warmup_steps=1, decode_tokens=8, seq_len=64, batch=2,
                   device="cpu")
    decode, train = rows
    assert decode["unit"] == "tokens/s" and decode["value"] > 0 and decode["ratio"] == ""
    assert "8 tokens" in decode["figure"]
    assert train["unit"] == "tokens/s" and train["value"] > 0 and train["ratio"] == ""
    assert "cpu: fp32 base, not QLoRA" in train["figure"] and "steps 2-3 of 3" in train["figure"]
    assert (tmp_path / "base" / "config.json").is_file() and (tmp_path / "run" / "adapter").is_dir()
    assert "random checkpoint built and saved" in capsys.readouterr().err


def test_steady_rate_leaves_the_warm_up_steps_out():
    # (seconds, input tokens seen) at each step's end: a slow first step, then 1,000 tokens every 0.5 s.
    marks = [(4.0, 1000), (4.5, 2000), (5.0, 3000), (5.5, 4000)]
    assert steady_rate(marks, 1) == 3000 / 1.5
    assert steady_rate(marks, 2) == 2000 / 1.0
    for warmup in (0, 4):
        with pytest.raises(ValueError, match="warm-up steps"):
            steady_rate(marks, warmup)


def test_warm_up_steps_must_leave_steps_to_measure():
    done = subprocess.run([sys.executable, "-m", "benchmarks.gpu_bench", "--train-steps", "5", "--warmup-steps", "5"],
                          capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 2 and "--warmup-steps must be at least 1 and below --train-steps (5)" in done.stderr


def test_missing_modules_names_each_with_its_reason():
    [missing] = missing_modules(("json", "hibachi_no_such_module"))
    assert missing.startswith("hibachi_no_such_module (") and "No module named" in missing


def _wheel(directory: Path) -> Path:
    """A minimal pure-Python wheel (one module), as pip builds them."""
    path = directory / "hibachi_gpu_probe-1.0-py3-none-any.whl"
    info = "hibachi_gpu_probe-1.0.dist-info"
    files = {"hibachi_gpu_probe.py": "VALUE = 1\n",
             f"{info}/METADATA": "Metadata-Version: 2.1\nName: hibachi-gpu-probe\nVersion: 1.0\n",
             f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
    files[f"{info}/RECORD"] = "".join(f"{name},,\n" for name in [*files, f"{info}/RECORD"])
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return path


def test_gpu_sh_installs_carried_wheels_for_the_run_only(tmp_path):
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    _wheel(wheels)
    # The benchmark itself replaced by an import of what the wheel holds: is it there for the run?
    python = tmp_path / "python"
    probe = "import hibachi_gpu_probe; print('probe', hibachi_gpu_probe.VALUE)"
    python.write_text(f"""#!/bin/sh
if [ "$2" = benchmarks.gpu_bench ]; then exec {sys.executable} -c "{probe}"; fi
exec {sys.executable} "$@"
""")
    python.chmod(0o755)
    env = {**os.environ, "GPU_WHEELS": str(wheels), "PYTHON": str(python), "TMPDIR": str(tmp_path)}
    done = subprocess.run([str(ROOT / "benchmarks" / "gpu.sh")], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "probe 1\n" and f"installed 1 wheels from {wheels}" in done.stderr
    assert not list(tmp_path.glob("hibachi-gpu-site-*"))  # removed after the run
    assert subprocess.run([sys.executable, "-c", "import hibachi_gpu_probe"], capture_output=True).returncode == 1

    empty = tmp_path / "empty"
    empty.mkdir()
    done = subprocess.run([str(ROOT / "benchmarks" / "gpu.sh")], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "GPU_WHEELS": str(empty)})
    assert done.returncode == 2 and "holds no .whl files" in done.stderr

#!/usr/bin/env bash
# GPU throughput on the Llama-3.1-8B architecture (random weights, no network): QLoRA training tokens/s and MFU,
# batch-1 decode tokens/s as a share of the memory-bandwidth bound, printed as one table (see gpu_bench.py).
# Only for a machine with a CUDA GPU; never in CI. Exits 2 at once, with the reason, when there is no GPU or a
# package it needs is missing.
# Usage: [GPU_WHEELS=<dir>] benchmarks/gpu.sh [--train-steps 30] [--warmup-steps 5] [--decode-tokens 256] [--seq-len 1024] [--batch 4]
# GPU_WHEELS: wheels to install first, offline, for this run only (`make gpu-wheels` downloads the ones a CUDA
# PyTorch image lacks, listed in benchmarks/gpu-requirements.txt).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-}"
if [[ -z "$PYTHON" ]]; then
  if [[ -x .venv/bin/python ]]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
if [[ -n "${GPU_WHEELS:-}" ]]; then
  shopt -s nullglob
  wheels=("$GPU_WHEELS"/*.whl)
  if (( ${#wheels[@]} == 0 )); then
    echo "gpu benchmark: GPU_WHEELS=$GPU_WHEELS holds no .whl files (make gpu-wheels downloads them)" >&2
    exit 2
  fi
  site="$(mktemp -d -t hibachi-gpu-site-XXXXXX)"
  trap 'rm -rf "$site"' EXIT
  "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --disable-pip-version-check --target "$site" \
    "${wheels[@]}"
  echo "gpu benchmark: installed ${#wheels[@]} wheels from $GPU_WHEELS for this run" >&2
  export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"
fi
# Offline: no model or tokenizer download may be attempted.
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
timeout --signal=INT 480 "$PYTHON" -m benchmarks.gpu_bench "$@"

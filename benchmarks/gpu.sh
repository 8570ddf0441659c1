#!/usr/bin/env bash
# GPU throughput on the Llama-3.1-8B architecture (random weights, no network): QLoRA training tokens/s and MFU,
# batch-1 decode tokens/s as a share of the memory-bandwidth bound, printed as one table (see gpu_bench.py).
# Only for a machine with a CUDA GPU; never in CI. Exits 2 at once, with the reason, when there is no GPU.
# Usage: benchmarks/gpu.sh [--train-steps 20] [--decode-tokens 256] [--seq-len 1024] [--batch 4]
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-}"
if [[ -z "$PYTHON" ]]; then
  if [[ -x .venv/bin/python ]]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
# Offline: no model or tokenizer download may be attempted.
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
exec timeout --signal=INT 480 "$PYTHON" -m benchmarks.gpu_bench "$@"

"""Importing the project quiets a third-party warning that every training, serving and report process printed."""

from __future__ import annotations

import subprocess
import sys

import pytest

WARNING = "Failed to load CPU gemm_4bit_forward"


def _stderr(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120).stderr


def test_bitsandbytes_cpu_kernel_warning_is_quieted_once_hibachi_is_imported():
    if WARNING not in _stderr("import peft, bitsandbytes"):
        pytest.skip("bitsandbytes does not warn on this CPU (it does only with AVX512-BF16)")
    assert WARNING not in _stderr("import components.train.train, peft, bitsandbytes")

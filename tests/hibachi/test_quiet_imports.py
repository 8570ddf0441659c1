"""Importing the project quiets third-party warnings that every training, serving and report process printed."""

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


DEPRECATED_ALIAS = "`is_gradient_checkpointing` is deprecated"
PEFT_WRAP = """
from transformers import LlamaConfig, LlamaForCausalLM
from peft import LoraConfig, get_peft_model
import warnings
model = LlamaForCausalLM(LlamaConfig(vocab_size=32, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                     num_attention_heads=2, num_key_value_heads=2))
get_peft_model(model, LoraConfig(r=2, target_modules=["q_proj"]))
warnings.warn("another deprecation", FutureWarning)
"""


def test_peft_reading_the_deprecated_checkpointing_alias_is_quieted_and_other_future_warnings_still_show():
    if DEPRECATED_ALIAS not in _stderr(PEFT_WRAP):
        pytest.skip("this peft no longer reads transformers' deprecated is_gradient_checkpointing")
    stderr = _stderr("import hibachi\n" + PEFT_WRAP)
    assert DEPRECATED_ALIAS not in stderr
    assert "another deprecation" in stderr


QLORA_ENABLE = "`gradient_checkpointing_enable` is deprecated"
QLORA_PREPARE = """
from transformers import LlamaConfig, LlamaForCausalLM
from peft import prepare_model_for_kbit_training
import warnings
model = LlamaForCausalLM(LlamaConfig(vocab_size=32, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                     num_attention_heads=2, num_key_value_heads=2))
model.is_loaded_in_4bit = True  # the branch a 4-bit base takes on CUDA (the train step's QLoRA path)
prepare_model_for_kbit_training(model, use_gradient_checkpointing=True)
warnings.warn("another deprecation", FutureWarning)
"""


def test_peft_enabling_checkpointing_by_its_deprecated_name_for_qlora_is_quieted():
    if QLORA_ENABLE not in _stderr(QLORA_PREPARE):
        pytest.skip("this peft no longer calls transformers' deprecated gradient_checkpointing_enable")
    stderr = _stderr("import hibachi\n" + QLORA_PREPARE)
    assert QLORA_ENABLE not in stderr
    assert "another deprecation" in stderr

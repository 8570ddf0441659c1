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


TINY_LLAMA = """
from transformers import LlamaConfig, LlamaForCausalLM
import peft
import warnings
model = LlamaForCausalLM(LlamaConfig(vocab_size=32, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                     num_attention_heads=2, num_key_value_heads=2))
"""
# Each deprecated checkpointing name peft still uses, with the call that uses it. The messages repeat the filter's
# text on purpose: the test fails if the filter stops matching what transformers prints.
PEFT_USES = [
    pytest.param("`is_gradient_checkpointing` is deprecated",
                 'peft.get_peft_model(model, peft.LoraConfig(r=2, target_modules=["q_proj"]))', id="peft-wrap"),
    pytest.param("`gradient_checkpointing_enable` is deprecated",
                 "model.is_loaded_in_4bit = True  # the branch a 4-bit base takes on CUDA (the train step's QLoRA)\n"
                 "peft.prepare_model_for_kbit_training(model, use_gradient_checkpointing=True)", id="qlora-prepare"),
]


@pytest.mark.parametrize(("message", "peft_call"), PEFT_USES)
def test_peft_using_a_deprecated_checkpointing_name_is_quieted_and_other_future_warnings_still_show(message, peft_call):
    script = TINY_LLAMA + peft_call + '\nwarnings.warn("another deprecation", FutureWarning)\n'
    if message not in _stderr(script):
        pytest.skip(f"this peft no longer triggers {message}")
    stderr = _stderr("import hibachi\n" + script)
    assert message not in stderr
    assert "another deprecation" in stderr

"""The tiny offline Llama loads back through the Auto classes like a real checkpoint."""

from __future__ import annotations

from pathlib import Path

import pytest

from devkit.tiny_model import MARKER_FILE, build_tiny_model


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny"))


def test_loads_through_auto_classes_and_generates(tiny_dir: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_dir)
    assert model.config.model_type == "llama"
    assert tokenizer.eos_token == "<|eot_id|>" and tokenizer.pad_token_id is not None
    assert model.generation_config.eos_token_id == tokenizer.eos_token_id
    assert model.generation_config.pad_token_id == tokenizer.pad_token_id
    ids = tokenizer.apply_chat_template([{"role": "user", "content": "hi"}], add_generation_prompt=True,
                                        return_tensors="pt", return_dict=True)
    with torch.no_grad():
        out = model.generate(**ids, max_new_tokens=4, do_sample=False)
    assert out.shape[1] > ids["input_ids"].shape[1]


def test_chat_template_marks_only_assistant_tokens(tiny_dir: Path) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_dir)
    assert "{% generation %}" in tokenizer.chat_template
    messages = [{"role": "user", "content": "How much for adults?"},
                {"role": "assistant", "content": "Adults are $60 per person."}]
    encoded = tokenizer.apply_chat_template(messages, return_dict=True, return_assistant_tokens_mask=True)
    mask, ids = encoded["assistant_masks"], encoded["input_ids"]
    marked = tokenizer.decode([t for t, m in zip(ids, mask, strict=True) if m])
    assert marked == "Adults are $60 per person.<|eot_id|>"
    prompt = tokenizer.apply_chat_template(messages[:1], tokenize=False, add_generation_prompt=True)
    assert prompt.endswith("<|start_header_id|>assistant<|end_header_id|>\n\n")


def test_tokenizer_round_trips_knowledge_base_text(tiny_dir: Path, kb) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_dir)
    for text in [p.text for p in kb.passages()] + ["Crème brûlée? 100% ok — naïve 日本"]:
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        assert tokenizer.decode(ids) == text
    assert 500 <= len(tokenizer) <= 4096


def test_build_is_idempotent_and_corpus_sensitive(tiny_dir: Path, tmp_path: Path) -> None:
    stamp = (tiny_dir / "model.safetensors").stat().st_mtime_ns
    assert build_tiny_model(tiny_dir) == tiny_dir
    assert (tiny_dir / "model.safetensors").stat().st_mtime_ns == stamp
    other = build_tiny_model(tmp_path / "other", corpus=["just a few words", "and some more words"], seed=1)
    assert (other / MARKER_FILE).read_text() != (tiny_dir / MARKER_FILE).read_text()
    with pytest.raises(ValueError, match="empty"):
        build_tiny_model(tmp_path / "empty", corpus=["  "])

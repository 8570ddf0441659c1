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


# --- the pre-trained stand-in (the demo's base); a tiny recipe keeps these tests to seconds ---

TINY_RECIPE_FIELDS = {"variants": 2, "conversations": 3, "steps": 12, "batch_size": 4, "warmup_steps": 2}


def test_variants_change_the_facts_not_the_shape():
    import random

    from devkit.tiny_model import standin_tenant_path, variant_kb
    from hibachi.knowledge import load_knowledge_base

    tenant = load_knowledge_base(standin_tenant_path())
    a, b = variant_kb(tenant, random.Random(1)), variant_kb(tenant, random.Random(1))
    assert a == b  # seeded
    others = [variant_kb(tenant, random.Random(seed)) for seed in range(2, 8)]
    assert len({v.pricing.adult.price for v in [a, *others]}) > 3
    assert len({tuple(v.travel.base_cities) for v in [a, *others]}) > 3
    assert all(v.business == tenant.business and len(v.passages()) == len(tenant.passages()) for v in others)


def test_pretraining_corpus_is_another_tenant_in_the_prompt_contract(kb):
    from devkit.tiny_model import PretrainRecipe, pretraining_rows

    rows = pretraining_rows(PretrainRecipe(**TINY_RECIPE_FIELDS))
    assert len(rows) >= 6
    assert all(r[0]["role"] == "system" and r[-1]["role"] == "assistant" for r in rows)
    text = "\n".join(m["content"] for r in rows for m in r)
    assert "Taco Rodeo" in text
    # None of My Hibachi's own words: its name, base cities or menu.
    for word in [kb.business.name, *kb.travel.base_cities, "hibachi", "yum yum", "lobster tail"]:
        assert word.lower() not in text.lower(), word


def test_copy_rows_keep_the_answer_and_cut_the_grounding_to_what_it_copies_from():
    from devkit.tiny_model import PretrainRecipe, copy_rows, pretraining_rows
    from hibachi.prompt import NAMED_HEADER, QUOTE_HEADER

    rows = pretraining_rows(PretrainRecipe(**{**TINY_RECIPE_FIELDS, "conversations": 12}))
    with_quote = [r for r in rows if QUOTE_HEADER in r[0]["content"]]
    plain = [r for r in rows if NAMED_HEADER not in r[0]["content"] and QUOTE_HEADER not in r[0]["content"]]
    assert with_quote and plain
    short = copy_rows(with_quote + plain)
    assert len(short) == len(with_quote)  # rows without a quote or named items have nothing to copy
    for row, cut in zip(with_quote, short, strict=True):
        full, kept = row[0]["content"].split("\n"), cut[0]["content"].split("\n")
        assert cut[1:] == row[1:]  # the customer's turns and the answer are unchanged
        assert kept[0] == full[0] and kept[1] == "Facts:" and kept[2] == full[2]  # role line and top fact
        quote = full[full.index(QUOTE_HEADER):]
        assert kept[-len(quote):] == quote and len(kept) < len(full)


def test_pretrained_base_learns_caches_and_rebuilds_on_a_new_recipe(tmp_path):
    import json

    from transformers import AutoModelForCausalLM, AutoTokenizer

    from devkit.tiny_model import PretrainRecipe, build_pretrained_base

    recipe = PretrainRecipe(**TINY_RECIPE_FIELDS, learning_rate=1e-2)
    out = build_pretrained_base(tmp_path / "base", recipe, progress=False)
    marker = json.loads((out / MARKER_FILE).read_text())
    assert marker["kind"] == "pretrained" and marker["tenant"] == "taco-rodeo.yaml"
    losses = [loss for _, loss in marker["loss_history"]]
    assert losses[-1] < losses[0] - 0.5  # it learns (a random model starts near ln(vocab) ~ 7.6)
    AutoModelForCausalLM.from_pretrained(out)
    assert AutoTokenizer.from_pretrained(out).model_max_length == 1024

    stamp = (out / "model.safetensors").stat().st_mtime_ns
    assert build_pretrained_base(out, recipe, progress=False) == out
    assert (out / "model.safetensors").stat().st_mtime_ns == stamp  # same recipe: cached
    assert json.loads((out / MARKER_FILE).read_text())["built_now"] is False
    build_pretrained_base(out, PretrainRecipe(**{**TINY_RECIPE_FIELDS, "steps": 13}), progress=False)
    assert (out / "model.safetensors").stat().st_mtime_ns != stamp  # the recipe changed: rebuilt


def test_ensure_base_model_leaves_a_real_checkpoint_alone(tmp_path):
    from devkit.tiny_model import ensure_base_model

    real = tmp_path / "real"
    real.mkdir()
    (real / "config.json").write_text("{}")
    assert ensure_base_model(real) == real
    assert sorted(p.name for p in real.iterdir()) == ["config.json"]


def test_a_shipped_stand_in_is_copied_only_when_built_from_the_same_recipe(tmp_path, monkeypatch):
    import json

    from devkit import tiny_model
    from devkit.tiny_model import PretrainRecipe, build_pretrained_base

    recipe = PretrainRecipe(**TINY_RECIPE_FIELDS)
    shipped = build_pretrained_base(tmp_path / "shipped", recipe, progress=False)
    monkeypatch.setattr(tiny_model, "SHIPPED_BASE", shipped)
    copied = build_pretrained_base(tmp_path / "data" / "base", recipe, progress=False)
    assert (copied / "model.safetensors").read_bytes() == (shipped / "model.safetensors").read_bytes()
    marker = json.loads((copied / MARKER_FILE).read_text())
    assert marker["copied_from"] == str(shipped) and marker["built_now"] is False
    # Another recipe: the shipped weights do not fit it, so it is built (not copied).
    other = build_pretrained_base(tmp_path / "other", PretrainRecipe(**{**TINY_RECIPE_FIELDS, "steps": 13}),
                                  progress=False)
    assert "copied_from" not in json.loads((other / MARKER_FILE).read_text())


def test_the_shipped_stand_in_matches_the_current_recipe():
    """Changing what the corpus holds (synthetic chats, grounding, prompt contract) or the recipe needs a
    rebuild of the shipped base: `hibachi base-model --out devkit/standin_base` (about 15 minutes on 2 cores)."""
    import json

    from devkit.tiny_model import SHIPPED_BASE, PretrainRecipe, pretrain_fingerprint

    marker = json.loads((SHIPPED_BASE / MARKER_FILE).read_text())
    assert marker["fingerprint"] == pretrain_fingerprint(PretrainRecipe()), (
        "devkit/standin_base was built from another recipe or corpus: rebuild it with "
        "`hibachi base-model --out devkit/standin_base` and commit it")

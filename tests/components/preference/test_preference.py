"""Preference step: DPO on the SFT adapter widens the chosen-over-rejected margin; skipped with a reason otherwise."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from components.preference.preference import load_pairs, main, skip_reason
from hibachi.errors import UserError
from hibachi.settings import PreferenceSettings, TrainingSettings

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from chat_examples import write_examples  # noqa: E402

SYSTEM = {"role": "system", "content": "Answer from these facts: Adults are $60 per person."}


def _pairs(path: Path, n: int) -> Path:
    rows = []
    for i in range(n):
        guests = 10 + i
        rows.append({"prompt": [SYSTEM, {"role": "user", "content": f"How much for {guests} adults?"}],
                     "chosen": f"Adults are $60 per person, so {guests} adults are ${60 * guests}.",
                     "rejected": f"Adults are $50 per person, so {guests} adults are ${50 * guests}.",
                     "why": "adult price: $50 stated, $60 true", "metadata": {"source": "teacher_rejected"}})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_skip_reasons_name_the_setting():
    config = PreferenceSettings(min_pairs=16)
    assert skip_reason(3, None, config.model_copy(update={"enabled": False})).startswith("preference step turned off")
    assert skip_reason(30, Path("/nowhere"), config) == "no SFT adapter at /nowhere"


def test_too_few_pairs_skip_without_training_and_say_so(tmp_path):
    adapter = tmp_path / "sft"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text("{}")
    metrics = main(_pairs(tmp_path / "pairs.jsonl", 3), adapter, tmp_path / "out", PreferenceSettings(min_pairs=16),
                   TrainingSettings())
    assert metrics["skipped"] == ("too few preference pairs: 3, the step needs at least 16 "
                                  "(preference.min_pairs)")
    assert json.loads((tmp_path / "out" / "metrics.json").read_text())["pairs"] == 3
    assert not (tmp_path / "out" / "adapter").exists()


def test_a_bad_pair_line_names_file_and_line(tmp_path):
    bad = tmp_path / "pairs.jsonl"
    bad.write_text(json.dumps({"prompt": "not messages", "chosen": "a", "rejected": "b"}) + "\n")
    with pytest.raises(UserError, match=r"pairs.jsonl:1: expected a pair"):
        load_pairs(bad)
    assert load_pairs(tmp_path / "missing.jsonl") == []


def _margin(base: Path, adapter: Path, pairs: list[dict]) -> float:
    """Mean (log p(chosen) - log p(rejected)) of the answers under base + adapter."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(adapter))
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(str(base)), str(adapter)).eval()

    def logp(prompt, answer) -> float:
        ids = tokenizer.apply_chat_template(prompt, add_generation_prompt=True, tokenize=True, return_dict=True)
        prefix = list(ids["input_ids"])
        full = prefix + tokenizer(answer, add_special_tokens=False)["input_ids"]
        with torch.no_grad():
            logits = model(torch.tensor([full])).logits[0, :-1].log_softmax(-1)
        targets = torch.tensor(full[1:])
        return float(logits[torch.arange(len(targets)), targets][len(prefix) - 1:].sum())

    margins = [logp(p["prompt"], p["chosen"][0]["content"]) - logp(p["prompt"], p["rejected"][0]["content"])
               for p in pairs]
    return sum(margins) / len(margins)


@pytest.mark.slow
def test_dpo_on_the_sft_adapter_prefers_the_chosen_answers(tiny_base, kb, tmp_path, capfd):
    from components.train.train import main as train

    training = TrainingSettings(base_model=tiny_base, max_steps=4, batch_size=4, max_length=128, learning_rate=5e-3,
                                save_steps=4, logging_steps=2)
    train(write_examples(tmp_path / "train.jsonl", kb), tmp_path / "sft", training)
    pairs_file = _pairs(tmp_path / "pairs.jsonl", 8)
    config = PreferenceSettings(min_pairs=4, max_steps=8, batch_size=4, learning_rate=5e-3, max_length=128)
    metrics = main(pairs_file, tmp_path / "sft" / "adapter", tmp_path / "dpo", config, training)
    assert metrics["global_step"] == 8 and metrics["pairs"] == 8
    adapter = tmp_path / "dpo" / "adapter"
    assert (adapter / "adapter_config.json").is_file() and not (adapter / "ref").exists()
    losses = [loss for _, loss in metrics["loss_history"]]
    assert losses[0] == pytest.approx(0.6931, abs=1e-3)  # DPO starts at -log(sigmoid(0)): policy == reference
    assert losses[-1] < losses[0]
    pairs = load_pairs(pairs_file)
    assert _margin(tiny_base, adapter, pairs) > _margin(tiny_base, tmp_path / "sft" / "adapter", pairs) + 0.5
    shown = capfd.readouterr().out  # one line per log event, not trl's dict of a dozen reward keys
    assert "step 8/8  loss " in shown and "reward accuracy" in shown and "{'loss'" not in shown

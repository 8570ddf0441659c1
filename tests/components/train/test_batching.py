"""Train step batching: padding-free rows keep each example's attention to itself, length grouping cuts padding,
the model's own loss equals trl's fused one, and long examples are cut to max_length in every mode."""

from __future__ import annotations

import random
import sys
import warnings
from pathlib import Path

import pytest

from components.train.train import build_trainer, load_examples, sft_args, truncate_tokenized
from hibachi.settings import TrainingSettings

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from chat_examples import write_examples  # noqa: E402

pytestmark = pytest.mark.slow


def _settings(tiny_base, **overrides) -> TrainingSettings:
    values = dict(base_model=tiny_base, max_steps=4, batch_size=8, max_length=96, resume=False)
    return TrainingSettings(**{**values, **overrides})


def _trainer(tiny_base, tmp_path, examples, **overrides):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(str(tiny_base))
    tokenizer.padding_side = "right"
    model = AutoModelForCausalLM.from_pretrained(str(tiny_base))
    return build_trainer(model, tokenizer, examples, _settings(tiny_base, **overrides), tmp_path / "out")


def _varied_examples(count: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    words = "adults children hibachi dinner price party chef rice shrimp steak table booking".split()
    return [{"messages": [{"role": "user", "content": f"Question {i}?"},
                          {"role": "assistant", "content": " ".join(rng.choice(words)
                                                                    for _ in range(rng.randint(2, 40)))}]}
            for i in range(count)]


def _first_batch(trainer) -> dict:
    return next(iter(trainer.get_train_dataloader()))


def _per_example_loss(model, batch) -> list[float]:
    """Summed next-token loss of each example, found by its position_ids (flat rows) or by its row (padded)."""
    import torch

    inputs = {k: v for k, v in batch.items() if k != "labels"}
    with torch.no_grad():
        logits = model(**inputs, use_cache=False).logits
    labels = batch["labels"]
    token_loss = torch.nn.functional.cross_entropy(logits[:, :-1].transpose(1, 2), labels[:, 1:], ignore_index=-100,
                                                   reduction="none")
    if "position_ids" in batch and batch["input_ids"].shape[0] == 1:
        starts = (batch["position_ids"][0] == 0).nonzero().flatten().tolist() + [batch["input_ids"].shape[1]]
        return [float(token_loss[0, a:b - 1].sum()) for a, b in zip(starts, starts[1:], strict=False)]
    return [float(row.sum()) for row in token_loss]


def test_padding_free_rows_score_each_example_as_if_alone(tiny_base, tmp_path):
    examples = _varied_examples(8, seed=3)
    padded = _trainer(tiny_base, tmp_path, examples, group_by_length=False)
    flat = _trainer(tiny_base, tmp_path, examples, group_by_length=False, padding_free=True)
    padded_batch, flat_batch = _first_batch(padded), _first_batch(flat)
    assert flat_batch["input_ids"].shape[0] == 1 and "attention_mask" not in flat_batch
    assert int(flat_batch["input_ids"].numel()) == int(padded_batch["attention_mask"].sum())  # no padding computed
    assert (flat_batch["labels"] != -100).sum() == (padded_batch["labels"][:, 1:] != -100).sum()
    model = padded.model.eval()
    alone = _per_example_loss(model, padded_batch)
    together = _per_example_loss(model, flat_batch)
    assert together == pytest.approx(alone, rel=1e-4)
    # Without the per-example positions the same flat row lets examples see each other: the losses move.
    (crossed,) = _per_example_loss(model, {"input_ids": flat_batch["input_ids"], "labels": flat_batch["labels"]})
    assert crossed != pytest.approx(sum(alone), rel=1e-4)


def test_length_grouping_computes_less_padding_over_the_same_examples(tiny_base, tmp_path):
    examples = _varied_examples(64, seed=5)

    def padding(trainer) -> float:
        batches = list(trainer.get_train_dataloader())
        computed = sum(int(b["input_ids"].numel()) for b in batches)
        return 1 - sum(int(b["attention_mask"].sum()) for b in batches) / computed

    random_order = padding(_trainer(tiny_base, tmp_path, examples, group_by_length=False))
    grouped = padding(_trainer(tiny_base, tmp_path, examples, group_by_length=True))
    # transformers sorts by length within mega-batches of min(50, n // (4 * batch)) batches: 2 here.
    assert random_order > 0.2 and grouped < random_order * 0.75


def test_the_models_own_loss_equals_trls_fused_loss(tiny_base, tmp_path):
    examples = _varied_examples(8, seed=7)
    own = _trainer(tiny_base, tmp_path, examples, fused_lm_head=False)
    fused = _trainer(tiny_base, tmp_path, examples, fused_lm_head=True)
    batch = _first_batch(own)
    own_loss = own.compute_loss(own.model, dict(batch))
    fused_loss = fused.compute_loss(fused.model, dict(batch))
    assert float(own_loss) == pytest.approx(float(fused_loss), rel=1e-4)


def test_every_mode_cuts_long_examples_to_max_length(tiny_base, tmp_path, kb):
    examples = load_examples(write_examples(tmp_path / "train.jsonl", kb))
    for overrides in ({}, {"padding_free": True}):
        trainer = _trainer(tiny_base, tmp_path, examples, max_length=48, **overrides)
        lengths = [len(ids) for ids in trainer.train_dataset["input_ids"]]
        labels = trainer.train_dataset["labels"]
        assert lengths and max(lengths) == 48 and [len(row) for row in labels] == lengths
        assert all(any(label != -100 for label in row) for row in labels)


def test_truncate_tokenized_drops_rows_left_without_trained_tokens():
    from datasets import Dataset

    data = Dataset.from_list([{"input_ids": [1, 2, 3, 4], "labels": [-100, -100, 3, 4]},
                              {"input_ids": [5, 6, 7], "labels": [-100, 6, 7]}])
    cut = truncate_tokenized(data, 2)
    assert cut["input_ids"] == [[5, 6]] and cut["labels"] == [[-100, 6]]
    masks = Dataset.from_list([{"input_ids": [1, 2, 3], "assistant_masks": [0, 0, 1]},
                               {"input_ids": [5, 6, 7], "assistant_masks": [0, 1, 1]}])
    assert truncate_tokenized(masks, 2)["assistant_masks"] == [[0, 1]]


def test_sft_args_follow_the_settings(tmp_path):
    grouped = sft_args(TrainingSettings(max_length=300), tmp_path)
    assert (grouped.train_sampling_strategy, grouped.padding_free, grouped.max_length) == ("group_by_length", False,
                                                                                           300)
    flat = sft_args(TrainingSettings(max_length=300, group_by_length=False, padding_free=True), tmp_path)
    # trl does not truncate padding-free rows itself; build_trainer cuts them to max_length.
    assert (flat.train_sampling_strategy, flat.padding_free, flat.max_length) == ("random", True, None)
    assert sft_args(TrainingSettings(packing=True, padding_free=True), tmp_path).padding_free is False
    assert grouped.assistant_only_loss and grouped.gradient_checkpointing is False
    with warnings.catch_warnings():  # the setting maps to transformers' current name, not its deprecated alias
        warnings.simplefilter("error", FutureWarning)
        assert sft_args(TrainingSettings(gradient_checkpointing=True), tmp_path).activation_checkpointing is True

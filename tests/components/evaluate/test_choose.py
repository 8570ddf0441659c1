"""SFT-only vs SFT+DPO: the gate first, then no metric worse and no more repeated mistakes; always a reason."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from components.evaluate.choose import choose, repeated_mistakes
from components.evaluate.gate import ModelScores, Rate, decide
from hibachi.settings import GateSettings

GATE = GateSettings()


def _model(acc, hall, biz, mistakes=None, n=100, pairs=20):
    scores = ModelScores(Rate(round(acc * n), n), Rate(round(hall * n), n), Rate(round(biz * n), n), acc)
    rate = Rate(round(mistakes * pairs), pairs) if mistakes is not None else None
    return decide(scores, GATE), scores, rate


def test_without_a_dpo_adapter_the_sft_gate_decides_and_the_skip_is_named():
    choice = choose(_model(0.9, 0.02, 0.97), None, GATE, dpo_skipped="too few preference pairs: 3")
    assert choice.chosen == "sft"
    assert choice.reason == "SFT only: preference step skipped (too few preference pairs: 3); the gate passed SFT"
    refused = choose(_model(0.5, 0.02, 0.97), None, GATE)
    assert refused.chosen is None and refused.reason.startswith("nothing goes forward: no SFT+DPO adapter")


@pytest.mark.parametrize(("sft", "dpo", "chosen", "says"), [
    ((0.9, 0.02, 0.97, 0.30), (0.9, 0.02, 0.97, 0.10), "sft+dpo", "no worse on any metric; repeated mistakes on 20 "
                                                                   "held-out pairs: SFT 0.300, SFT+DPO 0.100"),
    ((0.9, 0.02, 0.97, 0.10), (0.9, 0.02, 0.97, 0.30), "sft", "repeats the pairs' mistakes more often"),
    ((0.9, 0.02, 0.99, 0.30), (0.9, 0.02, 0.96, 0.10), "sft", "worse on business logic 0.960 < 0.990"),
    ((0.5, 0.02, 0.97, 0.30), (0.9, 0.02, 0.97, 0.10), "sft+dpo", "the gate passed it and refused SFT alone"),
    ((0.9, 0.02, 0.97, 0.30), (0.9, 0.20, 0.97, 0.10), "sft", "the gate refused SFT+DPO and passed SFT alone"),
    ((0.5, 0.02, 0.97, 0.30), (0.5, 0.02, 0.97, 0.10), None, "the gate refused both"),
])
def test_which_adapter_goes_forward(sft, dpo, chosen, says):
    choice = choose(_model(*sft), _model(*dpo), GATE)
    assert choice.chosen == chosen and says in choice.reason
    assert choice.sft_mistakes["n"] == 20 and choice.dpo_mistakes["n"] == 20


class CategoryCritic:
    """Flags a 'price' violation when the answer says $50 and 'not_offered' when it mentions wagyu."""

    def evaluate(self, prompt, response):
        found = [SimpleNamespace(category="price")] if "$50" in response else []
        found += [SimpleNamespace(category="not_offered")] if "wagyu" in response else []
        return SimpleNamespace(passed=not found, violations=found)


def _pair(rejected_categories, chosen="Adults are $60.", rejected="Adults are $50."):
    return {"prompt": [{"role": "system", "content": "facts"}, {"role": "user", "content": "Adult price?"}],
            "chosen": chosen, "rejected": rejected,
            "metadata": {"source": "teacher_rejected", "violations": [{"category": c} for c in rejected_categories]}}


def test_a_mistake_counts_only_when_it_is_the_one_the_pair_was_built_from():
    pairs = [_pair(["price"]), _pair(["price"]), _pair(["price"])]
    answers = ["Adults are $50.", "We serve wagyu for $60.", "Adults are $60."]
    rate, rows = repeated_mistakes(answers, pairs, CategoryCritic())
    assert (rate.count, rate.n) == (1, 3) and [r["repeated"] for r in rows] == [True, False, False]


def test_a_pair_without_violations_compares_closeness_to_chosen_and_rejected():
    pairs = [_pair([], chosen="Kids are $30 and adults $60.", rejected="Adults are $60.")] * 2

    def similarity(answers, references):
        return [1.0 if a == r else 0.0 for a, r in zip(answers, references, strict=True)]

    rate, _ = repeated_mistakes(["Adults are $60.", "Kids are $30 and adults $60."], pairs, CategoryCritic(),
                                similarity)
    assert (rate.count, rate.n) == (1, 2)


def test_compare_scores_both_adapters_on_the_same_holdout_and_sends_the_better_forward(monkeypatch, tmp_path):
    import components.evaluate.evaluate as evaluate
    from components.evaluate.choose import compare_sft_and_dpo

    holdout = [[{"role": "user", "content": f"Adult price, question {i}?"}] for i in range(25)]
    pairs = [{"prompt": [{"role": "user", "content": f"Price for {i} adults?"}], "chosen": "Adults are $60.",
              "rejected": "Adults are $50.", "metadata": {"violations": [{"category": "price"}]}} for i in range(10)]
    sft_dir, dpo_dir = tmp_path / "sft", tmp_path / "dpo"

    def generate(base, adapter, prompts, tokens):
        if prompts and prompts[0] in [p["prompt"] for p in pairs]:  # the pairs' prompts: SFT repeats 4 mistakes
            wrong = 4 if adapter == sft_dir else 1
            return ["Adults are $50."] * wrong + ["Adults are $60."] * (len(prompts) - wrong)
        return ["Adults are $60."] * len(prompts)

    monkeypatch.setattr(evaluate, "generate_answers", generate)
    monkeypatch.setattr(evaluate, "similarities", lambda embedder, a, b: [1.0] * len(a))
    settings = evaluate.get_settings()
    last_user = [p[-1]["content"] for p in holdout]
    references = ["Adults are $60."] * len(holdout)
    sft_scores, _ = evaluate.score(last_user, references, references, CategoryCritic(), None, settings)
    sft_decision = decide(sft_scores, settings.gate)
    outcome = compare_sft_and_dpo(base_model=tmp_path, sft_adapter=sft_dir, dpo_adapter=dpo_dir, prompts=holdout,
                                  last_user=last_user, references=references, sft_scores=sft_scores,
                                  sft_decision=sft_decision, production=None, pairs=pairs, critic=CategoryCritic(),
                                  embedder=None, settings=settings)
    assert outcome.chosen == "sft+dpo" and outcome.adapter_dir == dpo_dir and outcome.decision.passed
    assert "repeated mistakes on 10 held-out pairs: SFT 0.400, SFT+DPO 0.100" in outcome.decision.reason
    assert outcome.report["sft_dpo"]["accuracy"]["n"] == 25 and outcome.report["held_out_pairs"] == 10
    skipped = compare_sft_and_dpo(base_model=tmp_path, sft_adapter=sft_dir, dpo_adapter=None, prompts=holdout,
                                  last_user=last_user, references=references, sft_scores=sft_scores,
                                  sft_decision=sft_decision, production=None, pairs=pairs, critic=CategoryCritic(),
                                  embedder=None, settings=settings, dpo_skipped="too few preference pairs: 3")
    assert skipped.chosen == "sft" and skipped.adapter_dir == sft_dir
    assert skipped.decision.reason.startswith("SFT only: preference step skipped (too few preference pairs: 3)")

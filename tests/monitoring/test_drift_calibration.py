"""Drift calibration: prompts from the training distribution do not alarm; a topic absent from training does."""

from __future__ import annotations

import numpy as np
import pytest

from devkit.probes import new_topic_prompts
from devkit.synth import SynthConfig, generate_traffic
from hibachi.knowledge import load_knowledge_base
from hibachi.monitoring.drift import classifier_auc, distinct, drift_snapshot, permutation_p


def _synth_prompts(settings, conversations: int, seed: int) -> list[str]:
    kb = load_knowledge_base(settings.knowledge_base)
    return [t.user for c in generate_traffic(SynthConfig(conversations=conversations, seed=seed), kb)
            for t in c.turns]


def test_distinct_folds_case_and_whitespace_and_keeps_first_seen_order():
    assert distinct(["How much?", "how  much?", "Lobster?", "HOW MUCH?"]) == ["How much?", "Lobster?"]


def test_permutation_p_is_small_for_separable_and_large_for_exchangeable_samples():
    rng = np.random.default_rng(3)
    same_a, same_b = rng.normal(size=(80, 8)), rng.normal(size=(80, 8))
    shifted = rng.normal(size=(80, 8)) + np.r_[1.5, np.zeros(7)]
    auc, p_same, null = permutation_p(same_a, same_b, 19)
    assert len(null) == 19 and p_same > 0.05 and auc < 0.7
    auc, p_shift, _ = permutation_p(same_a, shifted, 19)
    assert p_shift == pytest.approx(1 / 20) and auc > 0.8
    assert classifier_auc(same_a, shifted, seed=0) == classifier_auc(same_a, shifted, seed=0)  # seeded


def test_same_generator_prompts_do_not_alarm_and_a_new_topic_does(settings):
    # The training set is the filter step's output: distinct prompts. Production repeats its questions.
    training = list(dict.fromkeys(_synth_prompts(settings, 150, seed=7)))
    production = _synth_prompts(settings, 120, seed=8)
    _, same = drift_snapshot(training, production, settings)
    assert same["drift_detected"] is False, same
    injected = distinct(production)[:80] + new_topic_prompts(80, seed=1)  # half the questions are new
    _, moved = drift_snapshot(training, injected, settings)
    assert moved["drift_detected"] is True, moved
    assert moved["embedding_drift_auc"] > settings.analysis.drift_auc_threshold
    assert moved["permutation"]["p_value"] < settings.analysis.alpha
    assert moved["embedding_drift_auc"] > same["embedding_drift_auc"]


@pytest.mark.storage
def test_drift_report_gives_production_prompts_the_training_preprocessing(db, settings, tmp_path):
    import json
    from datetime import timedelta

    from monitoring_rows import NOW, local_turn

    from hibachi.monitoring.drift import drift_report

    _, sessions = db
    training = tmp_path / "train.jsonl"
    training.write_text("".join(json.dumps({"messages": [{"role": "user", "content": p}]}) + "\n"
                                for p in _synth_prompts(settings, 20, seed=1)))
    seen = []
    production = _synth_prompts(settings, 20, seed=2)
    with sessions() as session:
        for i, prompt in enumerate(production):
            local_turn(session, None, teacher_served=True, prompt=prompt, when=NOW - timedelta(minutes=i + 1))
        session.commit()
        saved = drift_report(session, NOW - timedelta(days=1), NOW, settings, training_set=training,
                             normalize=lambda p: seen.append(p) or p.upper())
    assert sorted(seen) == sorted(production)  # every production prompt went through it
    figures = json.loads(open(saved.json_path).read())["figures"]
    # the normalized (upper-cased) distinct prompts are what was compared
    assert figures["mean_length"]["current"] == pytest.approx(
        sum(map(len, {" ".join(p.lower().split()): p for p in production}.values())) / figures["current_prompts"])

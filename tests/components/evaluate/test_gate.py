"""Gate: thresholds from settings, never worse than production, not enough data; Wilson intervals."""

from __future__ import annotations

import pytest

from components.evaluate.gate import ModelScores, Rate, decide, wilson_interval
from hibachi.settings import GateSettings


def _scores(acc, hall, biz, n=100):
    return ModelScores(Rate(round(acc * n), n), Rate(round(hall * n), n), Rate(round(biz * n), n), acc)


def test_wilson_interval_known_values():
    low, high = wilson_interval(81, 100)
    assert low == pytest.approx(0.7222, abs=1e-3) and high == pytest.approx(0.8749, abs=1e-3)
    assert wilson_interval(0, 0) == (0.0, 1.0)
    assert wilson_interval(10, 10)[1] == 1.0


def test_good_candidate_passes_and_reason_lists_every_check():
    decision = decide(_scores(0.9, 0.02, 0.97), GateSettings())
    assert decision.passed and decision.reason.startswith("passed")
    assert [c["name"] for c in decision.checks] == ["accuracy", "hallucination_rate", "business_logic"]


@pytest.mark.parametrize("scores,failing", [
    ((0.80, 0.02, 0.97), "accuracy 0.800 vs minimum 0.85"),
    ((0.90, 0.06, 0.97), "hallucination rate 0.060 vs maximum 0.05"),
    ((0.90, 0.02, 0.90), "business-logic compliance 0.900 vs minimum 0.95"),
])
def test_each_threshold_refuses(scores, failing):
    decision = decide(_scores(*scores), GateSettings())
    assert not decision.passed and decision.reason == f"refused: {failing}"


def test_never_worse_than_production():
    production = _scores(0.95, 0.01, 0.99)
    decision = decide(_scores(0.9, 0.02, 0.97), GateSettings(), production)
    assert not decision.passed
    assert "accuracy 0.900 vs production 0.950" in decision.reason
    assert decide(_scores(0.96, 0.01, 0.99), GateSettings(), production).passed
    lenient = GateSettings(production_tolerance=0.06)
    assert decide(_scores(0.9, 0.02, 0.97), lenient, production).passed


def test_too_few_samples_is_not_enough_data():
    decision = decide(_scores(1.0, 0.0, 1.0, n=5), GateSettings(min_samples=20))
    assert not decision.passed and decision.not_enough_data
    assert decision.reason == "not enough data: 5 holdout examples, the gate needs at least 20"

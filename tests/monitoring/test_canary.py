from __future__ import annotations

import random
from datetime import timedelta

import pytest
from monitoring_rows import NOW, local_turn, state

from hibachi.errors import UserError
from hibachi.monitoring.canary import Comparison, analyze, judge, next_step

pytestmark = pytest.mark.storage
WINDOW = timedelta(hours=24)


def _arm(session, version, n, *, fail_rate=0.02, halluc_rate=0.02, latency=100.0, seed=0):
    rng = random.Random(seed)
    for _ in range(n):
        hallucinated = rng.random() < halluc_rate
        passed = not hallucinated and rng.random() >= fail_rate
        local_turn(session, version, passed=passed, hallucinated=hallucinated, latency=latency * rng.uniform(0.8, 1.2))


def test_clearly_worse_canary_rolls_back_naming_hallucinations(db, settings):
    _, sessions = db
    with sessions() as session:
        state(session)
        _arm(session, "v1", 120, seed=1)
        _arm(session, "v2", 120, halluc_rate=0.35, seed=2)
        session.commit()
        decision = analyze(session, "hibachi-llama", WINDOW, settings, now=NOW)
    assert decision.action == "rollback"
    assert decision.next_percent == 0
    assert "hallucination_rate" in decision.reason and "canary" in decision.reason
    worse = {c.metric for c in decision.comparisons if c.verdict == "worse"}
    assert "hallucination_rate" in worse
    halluc = next(c for c in decision.comparisons if c.metric == "hallucination_rate")
    assert halluc.canary > 0.2 > halluc.stable and halluc.p_value < 0.001


def test_clearly_better_canary_advances_one_step(db, settings):
    _, sessions = db
    with sessions() as session:
        state(session, percent=10)
        _arm(session, "v1", 120, halluc_rate=0.15, fail_rate=0.1, seed=3)
        _arm(session, "v2", 120, halluc_rate=0.0, fail_rate=0.0, latency=80.0, seed=4)
        session.commit()
        decision = analyze(session, "hibachi-llama", WINDOW, settings, now=NOW)
    assert decision.action == "promote", decision.reason
    assert decision.current_percent == 10 and decision.next_percent == 50
    assert "within tolerance" in decision.reason
    assert all(c.verdict in ("ok", "skipped") for c in decision.comparisons)


def test_last_step_promotes_fully(db, settings):
    _, sessions = db
    with sessions() as session:
        state(session, percent=90)
        _arm(session, "v1", 80, seed=5)
        _arm(session, "v2", 80, seed=6)
        session.commit()
        decision = analyze(session, "hibachi-llama", WINDOW, settings, now=NOW)
    assert decision.action == "promote" and decision.next_percent == 100


def test_a_step_is_judged_only_on_answers_since_it_began(db, settings):
    """Answers from before this step (the previous step, or before the canary existed) are not its evidence:
    re-running the analysis must not walk 10 -> 50 -> 90 -> promoted on one step's answers."""
    _, sessions = db
    with sessions() as session:
        state(session, percent=10, began=NOW - timedelta(minutes=30))
        for version in ("v1", "v2"):
            for _ in range(80):
                local_turn(session, version, when=NOW - timedelta(hours=2))  # the step before
        _arm(session, "v1", 10, seed=13)  # NOW - 1 h: also before this step began
        session.commit()
        decision = analyze(session, "hibachi-llama", WINDOW, settings, now=NOW)
    assert decision.action == "hold", decision.reason
    assert "since this step began (30m ago)" in decision.reason and "v2 has 0" in decision.reason
    assert decision.window_start == NOW - timedelta(minutes=30)


def test_too_small_a_sample_holds_with_counts(db, settings):
    _, sessions = db
    with sessions() as session:
        state(session)
        _arm(session, "v1", 120, seed=7)
        _arm(session, "v2", 12, halluc_rate=0.5, seed=8)
        session.commit()
        decision = analyze(session, "hibachi-llama", WINDOW, settings, now=NOW)
    assert decision.action == "hold"
    assert "too few samples" in decision.reason and "has 12" in decision.reason and "need 50" in decision.reason


def test_slower_canary_rolls_back_on_latency(db, settings):
    _, sessions = db
    with sessions() as session:
        state(session)
        _arm(session, "v1", 80, latency=100.0, seed=9)
        _arm(session, "v2", 80, latency=400.0, seed=10)
        session.commit()
        decision = analyze(session, "hibachi-llama", WINDOW, settings, now=NOW)
    assert decision.action == "rollback"
    assert "latency_p95_ms" in decision.reason


def test_signals_outside_the_window_do_not_count(db, settings):
    _, sessions = db
    with sessions() as session:
        state(session)
        for _ in range(60):
            local_turn(session, "v1", when=NOW - timedelta(days=3))
            local_turn(session, "v2", when=NOW - timedelta(days=3), hallucinated=True, passed=False)
        session.commit()
        decision = analyze(session, "hibachi-llama", WINDOW, settings, now=NOW)
    assert decision.action == "hold" and "has 0" in decision.reason


def test_unknown_rollout_name_is_a_clear_error(db, settings):
    _, sessions = db
    with sessions() as session:
        state(session)
        session.commit()
        with pytest.raises(UserError, match="no rollout named 'nope'; known rollouts: hibachi-llama"):
            analyze(session, "nope", WINDOW, settings, now=NOW)


def test_no_canary_in_progress_holds(db, settings):
    _, sessions = db
    with sessions() as session:
        state(session, canary=None, percent=None, stage="stable")
        session.commit()
        decision = analyze(session, "hibachi-llama", WINDOW, settings, now=NOW)
    assert decision.action == "hold" and "no canary in progress" in decision.reason


def test_steps_come_from_settings():
    assert next_step(0, [10, 50, 90]) == 10
    assert next_step(10, [10, 50, 90]) == 50
    assert next_step(90, [10, 50, 90]) == 100
    assert next_step(None, [25, 75]) == 25


def test_significance_is_divided_among_the_tests():
    def rate(metric, p):
        return Comparison(metric=metric, canary=0.1, stable=0.05, canary_n=100, stable_n=100, p_value=p,
                          verdict="inconclusive")

    skipped = Comparison(metric="booking_loss_rate", canary=None, stable=None, canary_n=0, stable_n=0,
                         verdict="skipped")
    comparisons = [rate("critic_failure_rate", 0.02), rate("error_rate", 0.001), rate("latency_p50_ms", 0.3),
                   rate("latency_p95_ms", 0.3), skipped]
    judge(comparisons, alpha=0.05)  # three tests (p50 and p95 share one): level 0.0167
    assert [c.verdict for c in comparisons] == ["inconclusive", "worse", "inconclusive", "inconclusive", "skipped"]


def _shadow_step(session, n, failed_every):
    """A first rollout in shadow: the teachers' served answers (the critic's pick, no failures) as stable."""
    from monitoring_rows import shadow

    state(session, stable=None, canary="v2", percent=0, stage="shadow")
    for i in range(n):
        teacher = local_turn(session, None, teacher_served=True)
        failed = i % failed_every == 0
        shadow(session, "v2", signal=teacher, passed=not failed, hallucinated=failed)
    session.commit()


@pytest.mark.parametrize(("failed_every", "action"), [(25, "promote"), (8, "rollback")])
def test_a_shadow_within_the_gates_targets_advances_one_beyond_them_rolls_back(db, settings, failed_every, action):
    # 4% of the shadow answers fail the critic (the gate accepts up to 5%); against the teachers' 0% alone that
    # was 'worse' and the demo rolled back an adapter the gate had passed. 12.5% is beyond the targets.
    _, sessions = db
    with sessions() as session:
        _shadow_step(session, 200, failed_every)
        decision = analyze(session, "hibachi-llama", WINDOW, settings, now=NOW)
    assert decision.action == action, decision.reason
    halluc = next(c for c in decision.comparisons if c.metric == "hallucination_rate")
    assert halluc.stable == 0.0 and halluc.canary == pytest.approx(1 / failed_every, abs=0.01)
    assert halluc.verdict == ("ok" if action == "promote" else "worse")


def test_the_ceilings_are_the_gates_targets():
    from hibachi.monitoring.canary import gate_ceilings
    from hibachi.settings import GateSettings

    ceilings = gate_ceilings(GateSettings(max_hallucination_rate=0.04, min_business_logic=0.97))
    assert ceilings == {"hallucination_rate": 0.04, "non_answer_rate": 0.04, "critic_failure_rate": 0.03,
                        "fallback_rate": 0.03}


@pytest.mark.parametrize(("failed", "action"), [(5, "hold"), (12, "rollback")])
def test_a_few_failures_in_a_small_step_hold_for_more_data_many_roll_back(db, settings, failed, action):
    # A first canary at 10%: 52 answers from the adapter, 443 from the teachers (the critic's pick, no
    # failures). 5 of 52 (9.6%) is over the 5% target as a point estimate, but far from shown to be (p = 0.12):
    # the step holds and gathers more answers. 12 of 52 (23%) is shown to be above it and rolls back.
    _, sessions = db
    with sessions() as session:
        state(session, stable=None, canary="v2", percent=10)
        for i in range(52):
            local_turn(session, "v2", passed=i >= failed, hallucinated=i < failed)
        for _ in range(443):
            local_turn(session, None, teacher_served=True)
        session.commit()
        decision = analyze(session, "hibachi-llama", WINDOW, settings, now=NOW)
    assert decision.action == action, decision.reason
    halluc = next(c for c in decision.comparisons if c.metric == "hallucination_rate")
    assert (halluc.canary_n, halluc.stable_n) == (52, 443) and halluc.canary == pytest.approx(failed / 52)
    assert halluc.verdict == ("inconclusive" if action == "hold" else "worse")

"""An answer that does not address the question counts against the model: unit checks and the canary analysis."""

from __future__ import annotations

from datetime import timedelta

import pytest
from monitoring_rows import NOW, local_turn, shadow, state

from hibachi.monitoring.addressed import answer_check, answer_similarity
from hibachi.monitoring.canary import analyze

TEACHER = "The lobster tail upgrade is +$10 per person."


def test_similarity_is_word_level_and_symmetric_in_range():
    assert answer_similarity(TEACHER, TEACHER) == 1.0
    assert answer_similarity("", "") == 1.0
    paraphrase = "Lobster tail is an upgrade of +$10 per person."
    unrelated = "Our chefs arrive thirty minutes early to set up the grill."
    assert answer_similarity(paraphrase, TEACHER) > 0.3 > answer_similarity(unrelated, TEACHER)
    assert answer_similarity(unrelated, TEACHER) == pytest.approx(answer_similarity(TEACHER, unrelated), abs=0.05)


@pytest.mark.parametrize(("prompt", "answer", "reference", "addressed"), [
    ("How much is the lobster upgrade?", TEACHER, None, True),
    ("How much is the lobster upgrade?", "", None, False),  # empty
    ("How much is the lobster upgrade?", "Thank you so much for reaching out to us today!", None, False),  # no claim
    ("How much is the lobster upgrade?", "the the of grill party ok", TEACHER, False),  # far from the teacher
    ("How much is the lobster upgrade?", "Lobster tail is an upgrade of +$10 per person.", TEACHER, True),
    ("Hello!", "Hi! How can I help you plan your party?", None, True),  # no claim needed for a greeting
])
def test_addresses_the_question(settings, prompt, answer, reference, addressed):
    assert answer_check(settings).addresses(prompt, answer, reference=reference) is addressed


def test_a_stored_similarity_is_used_when_given(settings):
    check = answer_check(settings)
    assert check.addresses("How much is the lobster upgrade?", TEACHER, similarity=0.1) is False
    assert check.addresses("How much is the lobster upgrade?", TEACHER, similarity=0.9) is True


def _nonsense_turn(session, version):
    """A turn served by the local model whose answer passed the critic (it claims nothing) but ignores the question."""
    signal = local_turn(session, version)
    student = next(c for c in signal.candidates if c.role == "student")
    student.response = "ok ok the the thanks"
    signal.chosen_response = student.response
    return signal


@pytest.mark.storage
def test_a_canary_that_answers_nonsense_is_rolled_back_on_non_answers(db, settings):
    _, sessions = db
    with sessions() as session:
        state(session, percent=10)
        for _ in range(80):
            local_turn(session, "v1")
            _nonsense_turn(session, "v2")
        session.commit()
        decision = analyze(session, "hibachi-llama", timedelta(hours=24), settings, now=NOW)
    assert decision.action == "rollback", decision.reason
    non_answer = next(c for c in decision.comparisons if c.metric == "non_answer_rate")
    assert non_answer.verdict == "worse" and non_answer.canary == 1.0 and non_answer.stable == 0.0
    critic = next(c for c in decision.comparisons if c.metric == "critic_failure_rate")
    assert critic.canary == 0.0  # the critic alone would have called it compliant
    assert "non_answer_rate" in decision.reason


@pytest.mark.storage
def test_shadow_answers_far_from_the_teacher_count_as_non_answers(db, settings):
    _, sessions = db
    with sessions() as session:
        state(session, stable=None, canary="v2", percent=0, stage="shadow")
        for i in range(60):
            teacher = local_turn(session, None, teacher_served=True)
            row = shadow(session, "v2", signal=teacher)
            row.local_response = "Lobster tail is +$10 per person." if i < 30 else "Thanks, we love hibachi parties $1!"
        session.commit()
        decision = analyze(session, "hibachi-llama", timedelta(hours=24), settings, now=NOW)
    non_answer = next(c for c in decision.comparisons if c.metric == "non_answer_rate")
    assert non_answer.canary == pytest.approx(0.5) and non_answer.stable == 0.0
    assert decision.action == "rollback"


@pytest.mark.storage
def test_dashboard_shadow_rows_count_non_answers_against_business_logic(db, settings):
    from hibachi.monitoring.dashboard_data import shadow_rows
    from hibachi.queries import signals_between

    _, sessions = db
    with sessions() as session:
        for i in range(10):
            teacher = local_turn(session, None, teacher_served=True)
            row = shadow(session, "v2", signal=teacher)
            row.local_response = "Lobster tail is +$10 per person." if i < 4 else "ok ok thanks so much"
        session.commit()
        since, until = NOW - timedelta(days=1), NOW
        rows = shadow_rows(session, signals_between(session, since, until), since, until, settings)
    local = next(r for r in rows if r["who"] == "local v2")
    assert local["hallucination"] == 0.0  # the critic finds nothing wrong in saying nothing...
    assert local["non_answer"] == pytest.approx(0.6) and local["business_logic"] == pytest.approx(0.4)  # ...but
    teacher = next(r for r in rows if r["who"] == "teacher (reference)")
    assert teacher["business_logic"] == 1.0 and teacher["non_answer"] == 0.0

"""The generated critic set: seeded, labelled per class, built from the knowledge base's own figures."""

from __future__ import annotations

from devkit.evalsets.critic_cases import CLASSES, CriticCase, generate, score
from hibachi.knowledge import load_knowledge_base


def test_same_seed_same_cases():
    kb = load_knowledge_base()
    assert generate(kb, 5, seed=2) == generate(kb, 5, seed=2)
    assert generate(kb, 5, seed=2) != generate(kb, 5, seed=3)


def test_every_class_has_wrong_and_right_answers():
    cases = generate(load_knowledge_base(), 4)
    for klass in CLASSES:
        mine = [c for c in cases if c.klass == klass]
        assert sum(c.wrong for c in mine) == 4 and sum(not c.wrong for c in mine) == 4


def test_foods_claimed_are_not_on_the_menu():
    kb = load_knowledge_base()
    menu = {t for item in kb.offered_items for t in item.terms}
    for case in generate(kb, 30):
        if case.klass == "not_on_menu" and case.wrong:
            assert not any(f" {term} " in f" {case.prompt.lower()} " for term in menu if len(term) > 3), case


def test_figures_follow_the_knowledge_base():
    kb = load_knowledge_base()
    dearer = kb.model_copy(update={"pricing": kb.pricing.model_copy(update={
        "adult": kb.pricing.adult.model_copy(update={"price": 75.0})})})
    texts = " ".join(c.response for c in generate(dearer, 20) if c.klass == "product_then_total")
    assert "x $75" in texts and "x $60" not in texts


def test_score_counts_recall_and_false_alarms():
    cases = [CriticCase("a", "p", "wrong", True), CriticCase("a", "p", "right", False),
             CriticCase("b", "p", "wrong", True), CriticCase("b", "p", "right", False)]
    flags_everything = score(cases, lambda prompt, response: True)
    assert flags_everything.recall() == 1.0 and flags_everything.false_alarm_rate() == 1.0
    judge = score(cases, lambda prompt, response: response == "wrong")
    assert judge.recall("a") == 1.0 and judge.false_alarm_rate("b") == 0.0
    lax = score(cases, lambda prompt, response: False)
    assert lax.recall() == 0.0 and len(lax.misses) == 2

"""The template answerer: facts from the knowledge base, arithmetic, follow-ups, and labelled hallucinations."""

from __future__ import annotations

import random

import pytest

from devkit.synth.answers import answer_question
from devkit.synth.wrong import KINDS
from hibachi.retrieval import TOPICS

QUESTIONS = {
    "pricing": "How much is it per person?",
    "proteins": "What proteins can each guest pick?",
    "upgrades": "How much extra is the lobster upgrade?",
    "included": "What comes with every meal?",
    "add_ons": "Can I add gyoza?",
    "not_offered": "Do you have kobe beef?",
    "travel": "Do you travel to Fresno?",
    "booking": "How far in advance do I need to book?",
    "deposit": "Is the deposit refundable?",
    "setup": "Can the chef cook indoors in my kitchen?",
    "dietary": "My son has celiac, can you do gluten-free?",
}


def ask(kb, text: str, seed: int = 0, hallucinate: bool = False, history: list[dict] | None = None):
    return answer_question(kb, [*(history or []), {"role": "user", "content": text}], random.Random(seed),
                           hallucinate=hallucinate)


def make_critic(kb):
    from hibachi.critic import Critic

    return Critic(kb)


def test_every_topic_has_a_question_and_its_answer_uses_the_facts(kb):
    assert set(QUESTIONS) == set(TOPICS)
    for topic, question in QUESTIONS.items():
        answer = ask(kb, question)
        assert answer.topic == topic, question
        assert answer.hallucination is None
    assert "$10" in ask(kb, QUESTIONS["upgrades"]).text
    assert "don't offer wagyu" in ask(kb, QUESTIONS["not_offered"]).text or "not offered" in ask(
        kb, QUESTIONS["not_offered"]).text or "do not offer wagyu" in ask(kb, QUESTIONS["not_offered"]).text
    assert "outdoors only" in ask(kb, QUESTIONS["setup"]).text
    assert "cross-contact is possible" in ask(kb, QUESTIONS["dietary"]).text


def test_arithmetic_for_guest_counts(kb):
    text = ask(kb, "what would 10 adults and 4 kids cost?").text
    assert "10 adults x $60 = $600" in text
    assert "4 children x $30 = $120" in text
    assert "$720 in total" in text
    small = ask(kb, "price for 5 adults?").text
    assert "5 adults x $60 = $300" in small and "$550 party minimum" in small
    assert "12 x $10 = $120" in ask(kb, "lobster tail for 12 guests?").text
    assert "15 x $2 = $30" in ask(kb, "We are 45 miles from San Jose, what is the travel fee?").text
    assert "travel is free" in ask(kb, "we're 20 miles out of Sacramento, travel fee?").text


def test_follow_up_inherits_topic_and_reads_bare_counts(kb):
    history = [{"role": "user", "content": "can we get lobster?"}, {"role": "assistant", "content": "Yes."}]
    answer = ask(kb, "ok and for 9?", history=history)
    assert answer.topic == "upgrades"
    assert "9 x $10 = $90" in answer.text


def test_any_text_gets_a_polite_general_answer(kb):
    for text in ["", "hello!", "asdf qwerty", "thanks so much"]:
        answer = ask(kb, text)
        assert answer.topic == "other"
        assert answer.text
    assert "$60" in ask(kb, "hi there").text
    content_blocks = [{"role": "user", "content": [{"type": "text", "text": "Do you serve sushi?"}]}]
    assert answer_question(kb, content_blocks, random.Random(0)).topic == "not_offered"


def test_phrasings_vary_with_the_rng_and_repeat_with_the_seed(kb):
    texts = {ask(kb, QUESTIONS["deposit"], seed=s).text for s in range(20)}
    assert len(texts) > 2
    assert ask(kb, QUESTIONS["deposit"], seed=3) == ask(kb, QUESTIONS["deposit"], seed=3)


def test_hallucinations_are_labelled_and_fit_the_question(kb):
    labels = set()
    for seed in range(30):
        for question in QUESTIONS.values():
            answer = ask(kb, question, seed=seed, hallucinate=True)
            assert answer.hallucination
            labels.add(answer.hallucination)
    assert len(labels) >= 12
    assert ask(kb, "Do you serve sushi?", seed=1, hallucinate=True).text != ask(kb, "Do you serve sushi?", seed=1).text


def test_correct_answers_pass_the_critic(kb):
    critic = make_critic(kb)
    questions = [*QUESTIONS.values(), "what would 10 adults and 4 kids cost?", "lobster tail for 12 guests?",
                 "We are 45 miles from San Jose, what is the travel fee?", "price for 5 adults?",
                 "we're 20 miles out of Sacramento, travel fee?", "what time can the party start?",
                 "what if it rains?", "is the tip included?", "what's the minimum?", "hello!",
                 "Do you rent tables and chairs?", "can you bring beer?", "shellfish allergy?", "vegetarian options?"]
    failures = []
    for seed in range(5):
        for question in questions:
            answer = ask(kb, question, seed=seed)
            verdict = critic.evaluate(question, answer.text)
            if not verdict.passed:
                failures.append((question, answer.text, [v.model_dump() for v in verdict.violations]))
    assert not failures, failures[:3]


@pytest.mark.parametrize("label", sorted(KINDS))
def test_each_hallucination_kind_is_caught_by_the_critic(kb, label):
    critic = make_critic(kb)
    topics, make = KINDS[label]
    from devkit.synth.answers import Question

    question = QUESTIONS[topics[0]]
    text = make(kb, Question.parse([{"role": "user", "content": question}]), random.Random(0))
    verdict = critic.evaluate(question, text)
    assert not verdict.passed, (label, text)
    assert verdict.violations

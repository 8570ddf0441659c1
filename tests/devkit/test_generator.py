"""Synthetic traffic: every topic, deterministic by seed, controllable hallucinations, outcomes that follow quality."""

from __future__ import annotations

import json
import re

import pytest

from devkit.synth import Conversation, SynthConfig, generate_traffic
from hibachi.errors import UserError
from hibachi.retrieval import TOPICS


@pytest.fixture(scope="module")
def traffic(kb):
    return generate_traffic(SynthConfig(conversations=600, seed=7, hallucination_rate=0.3), kb)


def test_same_seed_same_output_and_other_seed_differs(kb):
    config = SynthConfig(conversations=40, seed=3)
    first = [c.to_dict() for c in generate_traffic(config, kb)]
    assert first == [c.to_dict() for c in generate_traffic(config, kb)]
    other = [c.to_dict() for c in generate_traffic(SynthConfig(conversations=40, seed=4), kb)]
    assert first != other


def test_every_topic_is_covered_even_by_a_few_conversations(kb):
    few = generate_traffic(SynthConfig(conversations=len(TOPICS), seed=0, min_turns=1, max_turns=1), kb)
    assert {c.turns[0].topic for c in few} == set(TOPICS)


def test_conversations_are_multi_turn_and_well_formed(traffic):
    lengths = [len(c.turns) for c in traffic]
    assert min(lengths) >= 1 and max(lengths) >= 4
    assert len({c.id for c in traffic}) == len(traffic)
    for conversation in traffic[:50]:
        messages = conversation.messages()
        assert [m["role"] for m in messages] == ["user", "assistant"] * len(conversation.turns)
        for turn in conversation.turns:
            assert len(turn.candidates) == 2 and turn.user and turn.answer and turn.reference


def test_hallucination_rate_is_controllable(kb):
    def candidate_rate(rate: float) -> float:
        turns = [t for c in generate_traffic(SynthConfig(conversations=300, seed=1, hallucination_rate=rate), kb)
                 for t in c.turns]
        return sum(a.hallucination is not None for t in turns for a in t.candidates) / (2 * len(turns))

    assert candidate_rate(0.0) == 0.0
    assert 0.15 < candidate_rate(0.25) < 0.35
    assert candidate_rate(1.0) == 1.0


def test_served_answer_is_wrong_only_when_every_teacher_was(traffic):
    for turn in (t for c in traffic for t in c.turns):
        if turn.hallucination is not None:
            assert all(a.hallucination is not None for a in turn.candidates)
        assert turn.hallucination is None or turn.reference != turn.answer


def test_outcomes_follow_answer_quality(traffic):
    def booking_rate(group):
        known = [c for c in group if c.led_to_booking is not None]
        return sum(c.led_to_booking for c in known) / len(known)

    good = [c for c in traffic if c.well_served]
    bad = [c for c in traffic if not c.well_served]
    assert len(bad) > 20
    assert booking_rate(good) > booking_rate(bad) + 0.2
    good_ratings = [c.customer_rating for c in good if c.customer_rating]
    bad_ratings = [c.customer_rating for c in bad if c.customer_rating]
    assert sum(good_ratings) / len(good_ratings) > sum(bad_ratings) / len(bad_ratings) + 1
    assert any(c.led_to_booking is None for c in traffic)  # some outcomes never arrive


def test_some_customer_turns_carry_fake_pii(traffic):
    with_pii = [c for c in traffic if c.pii]
    assert len(with_pii) > 30
    text = " ".join(t.user for c in with_pii for t in c.turns)
    assert re.search(r"[\w.]+@\w+\.com", text)
    assert re.search(r"555[- ]\d{4}", text)
    for conversation in with_pii:
        joined = " ".join(t.user for t in conversation.turns)
        assert all(value in joined for value in conversation.pii)


def test_json_round_trip(traffic):
    for conversation in traffic[:20]:
        data = json.loads(json.dumps(conversation.to_dict()))
        assert Conversation.from_dict(data) == conversation


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"conversations": -1}, "conversations must be >= 0"), ({"hallucination_rate": 1.5}, "hallucination-rate"),
     ({"min_turns": 3, "max_turns": 2}, "turns must satisfy"), ({"teachers": 0}, "teachers must be")],
)
def test_bad_config_is_a_clear_error(kwargs, message):
    with pytest.raises(UserError, match=message):
        SynthConfig(**kwargs)


def test_classify_topic_agrees_with_what_customers_asked(traffic):
    from hibachi.retrieval import classify_topic

    first_turns = [c.turns[0] for c in traffic]  # first turns carry no context a classifier would need
    agree = sum(classify_topic(t.user) == t.topic for t in first_turns) / len(first_turns)
    assert agree > 0.9


def test_critic_agrees_with_the_generator(traffic, kb):
    from hibachi.critic import Critic

    critic = Critic(kb)
    correct = wrong = 0
    for turn in (t for c in traffic[:200] for t in c.turns):
        for answer in turn.candidates:
            verdict = critic.evaluate(turn.user, answer.text)
            if answer.hallucination is None:
                correct += 1
                assert verdict.passed, (turn.user, answer.text, verdict.violations)
            else:
                wrong += 1
                assert not verdict.passed, (answer.hallucination, answer.text)
    assert correct > 100 and wrong > 50


def test_answers_address_what_was_asked_follow_ups_included(traffic):
    turns = [t for c in traffic for t in c.turns if t.topic != "other"]
    agree = sum(t.candidates[0].topic == t.topic for t in turns) / len(turns)
    assert agree > 0.97

"""Loading synthetic traffic: every row, candidates scored, best passing chosen, corrections, idempotent."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from sqlalchemy import func, select

from devkit.synth import SynthConfig, generate_traffic
from devkit.synth.load import CORRECTION_AUTHOR, load_traffic
from hibachi.records import AdminCorrection, Candidate, ChatMessage, ChatSession, TrainingSignal
from hibachi.settings import Settings

pytestmark = pytest.mark.storage


@dataclass
class _Violation:
    category: str
    claim: str
    fact: str

    def model_dump(self, mode: str = "json") -> dict:
        return {"category": self.category, "claim": self.claim, "fact": self.fact}


@dataclass
class _Verdict:
    passed: bool
    quality_score: float
    violations: list = field(default_factory=list)


class OracleCritic:
    """Knows which texts the generator made wrong: isolates the loader from the rule engine."""

    def __init__(self, conversations) -> None:
        self.wrong = {a.text: a.hallucination for c in conversations for t in c.turns for a in t.candidates
                      if a.hallucination}
        self.calls = 0

    def evaluate(self, prompt: str, response: str) -> _Verdict:
        self.calls += 1
        label = self.wrong.get(response)
        if label:
            return _Verdict(False, 0.2, [_Violation("synthetic", response[:40], label)])
        return _Verdict(True, 0.95)


@pytest.fixture(scope="module")
def traffic(kb):
    return generate_traffic(SynthConfig(conversations=120, seed=11, hallucination_rate=0.4), kb)


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def test_round_trip_counts_and_choice(db, traffic):
    _, factory = db
    teachers = Settings().teachers[:2]
    critic = OracleCritic(traffic)
    with factory() as session:
        stats = load_traffic(session, traffic, critic, teachers=teachers, correction_share=1.0, batch_size=50)
        session.commit()
    turns = [t for c in traffic for t in c.turns]
    assert stats.conversations == len(traffic) and stats.signals == len(turns)
    assert critic.calls <= 2 * len(turns)  # identical (prompt, response) pairs are scored once
    with factory() as session:
        assert count(session, ChatSession) == len(traffic)
        assert count(session, TrainingSignal) == len(turns)
        assert count(session, ChatMessage) == 2 * len(turns)
        assert count(session, Candidate) == 2 * len(turns)
        signals = session.scalars(select(TrainingSignal)).all()
        assert {s.served_by for s in signals} == {"teacher"} and {s.policy for s in signals} == {"teacher"}
        for signal in signals:
            chosen = [c for c in signal.candidates if c.chosen]
            assert len(chosen) == 1
            assert {c.provider for c in signal.candidates} == {t.name for t in teachers}
            assert signal.chosen_response == chosen[0].response
            assert signal.critic_passed == chosen[0].critic_passed
            if any(c.critic_passed for c in signal.candidates):
                assert chosen[0].critic_passed
        failed = [s for s in signals if not s.critic_passed]
        assert failed, "the hallucination rate should leave some turns with no passing teacher"
        corrections = session.scalars(select(AdminCorrection)).all()
        assert len(corrections) == len(failed) == stats.corrections
        assert {c.author for c in corrections} == {CORRECTION_AUTHOR}
        assert failed[0].candidates[0].violations[0]["category"] == "synthetic"
        # the transcript shows what was served, linked to its signal
        first = traffic[0]
        messages = session.scalars(select(ChatMessage).where(ChatMessage.session_id == first.id)
                                   .order_by(ChatMessage.position)).all()
        assert [m.content for m in messages][0::2] == [t.user for t in first.turns]
        assert all(m.signal_id for m in messages[1::2])
        stored = session.get(ChatSession, first.id)
        assert (stored.led_to_booking, stored.customer_rating) == (first.led_to_booking, first.customer_rating)
        with_history = next(s for s in signals if s.conversation)
        assert with_history.conversation[0]["role"] == "user"


def test_loading_twice_adds_nothing(db, traffic):
    _, factory = db
    teachers = Settings().teachers[:2]
    with factory() as session:
        load_traffic(session, traffic[:30], OracleCritic(traffic), teachers=teachers)
        session.commit()
    with factory() as session:
        again = load_traffic(session, traffic[:40], OracleCritic(traffic), teachers=teachers)
        session.commit()
        assert again.skipped == 30 and again.conversations == 10
        assert count(session, ChatSession) == 40


def test_with_the_real_critic(db, traffic, kb):
    from hibachi.critic import Critic

    _, factory = db
    with factory() as session:
        load_traffic(session, traffic[:60], Critic(kb), teachers=Settings().teachers[:2])
        session.commit()
        signals = session.scalars(select(TrainingSignal)).all()
        wrong_texts = {a.text for c in traffic for t in c.turns for a in t.candidates if a.hallucination}
        caught = [c for s in signals for c in s.candidates if c.response in wrong_texts]
        assert caught and all(not c.critic_passed for c in caught)


def test_bad_arguments(db, traffic):
    _, factory = db
    with factory() as session, pytest.raises(ValueError, match="at least one teacher"):
        load_traffic(session, traffic, OracleCritic(traffic), teachers=[])

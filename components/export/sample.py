"""A small synthetic signal database for the pipeline's smoke run, its tests and the export benchmark.

Each signal asks about one knowledge-base passage and is answered with that passage (a correct,
grounded answer), with a mix of outcomes, quality scores, corrections and PII, so every filter
rule has something to drop. ``wrong_answers=True`` answers with another topic's passage instead:
an adapter trained on that must not pass the gate.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from hibachi.knowledge import KnowledgeBase, load_knowledge_base
from hibachi.records import AdminCorrection, Candidate, ChatSession, TrainingSignal

QUESTIONS = {
    "pricing": ["How much does it cost per person?", "What is the price for adults and kids?",
                "Is there a minimum for the party?"],
    "proteins": ["Which proteins can we choose?", "What meats do you offer?", "Can I pick two proteins?"],
    "upgrades": ["Do you have premium upgrades?", "How much extra is lobster?", "What upgrades are there?"],
    "included": ["What comes with the meal?", "What is included in the price?", "Is salad included?"],
    "add_ons": ["What add-ons can I order?", "Can I add noodles?", "Do you sell extra sides?"],
    "not_offered": ["Do you serve wagyu?", "Can we get sushi?", "Is there anything you don't offer?"],
    "travel": ["Do you travel to my area?", "Is there a travel fee?", "How far do you go?"],
    "booking": ["How do I book?", "How early do I need to book?", "What times can the chef start?"],
    "deposit": ["Is a deposit required?", "How much is the deposit?", "Is the deposit refundable?"],
    "setup": ["What do I need to provide?", "Can you cook indoors?", "What if it rains?"],
    "dietary": ["Do you have vegetarian options?", "Can you handle allergies?", "Is it gluten free?"],
}
CITIES = ["Sacramento", "San Jose", "Fresno", "Oakland", "Davis"]
NAMES = ["Maria Lopez", "John Carter", "Aiko Tanaka", "Sam Patel"]


def _question(topic: str, rng: random.Random, pii: bool) -> str:
    base = rng.choice(QUESTIONS.get(topic, ["Can you tell me more?"]))
    if rng.random() < 0.7:
        month = rng.choice(["March", "May", "July", "September", "December"])
        base += f" We are {rng.randint(10, 60)} guests on {month} {rng.randint(1, 28)} in {rng.choice(CITIES)}."
    if not pii:
        return base
    name = rng.choice(NAMES)
    return rng.choice([
        f"Hi, my name is {name}. {base} You can email me at {name.split()[0].lower()}@example.com.",
        f"{base} Call me at (555) 123-{rng.randint(1000, 9999)}. Thanks, {name}",
        f"This is {name}, we live at 42 Oak Street. {base}",
    ])


def _wrong_price(answer: str) -> str | None:
    """The answer with its first dollar amount raised by $7 (None when it states none)."""
    import re

    match = re.search(r"\$(\d+)", answer)
    if not match:
        return None
    return answer[:match.start()] + f"${int(match.group(1)) + 7}" + answer[match.end():]


def seed_signals(factory: sessionmaker[Session], n: int, *, seed: int = 0, kb: KnowledgeBase | None = None,
                 start: datetime | None = None, wrong_answers: bool = False, all_good: bool = False,
                 failing_candidates: float = 0.0, groundings: bool = False) -> int:
    """Insert ``n`` signals (with sessions, candidates, some corrections), one minute apart; returns n.

    ``failing_candidates``: the share of turns that also get a third teacher candidate stating a wrong price,
    with the critic's verdict on it (what preference pairs are built from). ``groundings``: each signal carries
    its grounding with the knowledge base's hash and the prompt contract's version, as the gateway stores them
    (built from ``kb``, once per question); without, the columns stay NULL, as for turns stored before them.
    """
    kb = kb or load_knowledge_base()
    grounding_of = None
    if groundings:
        from functools import lru_cache

        from hibachi.prompt import PROMPT_VERSION, grounding
        from hibachi.retraining import knowledge_sha256
        from hibachi.retrieval import Retriever

        retriever, kb_sha256 = Retriever(kb), knowledge_sha256(kb)
        grounding_of = lru_cache(maxsize=4096)(lambda question: grounding(retriever, question))
    passages = kb.passages()
    rng = random.Random(seed)
    failing_rng = random.Random(f"{seed}:failing")  # its own stream: the other draws stay as they were
    critic = None
    if failing_candidates:
        from hibachi.critic.engine import Critic

        critic = Critic(kb)
    start = start or datetime(2026, 10, 1, tzinfo=UTC)
    with factory() as session:
        for i in range(n):
            passage = passages[i % len(passages)]
            answer = passage.text
            if wrong_answers:
                answer = passages[(i + len(passages) // 2) % len(passages)].text
            good = all_good or rng.random() > 0.25
            chat = ChatSession(id=f"s{seed}-{i:06d}", led_to_booking=good or rng.random() < 0.3,
                               customer_rating=rng.choice([4, 5]) if good else rng.choice([1, 2, 3, None]),
                               created_at=start + timedelta(minutes=i))
            prompt = _question(passage.topic, rng, pii=not all_good and rng.random() < 0.3)
            quality = 0.95 if good else rng.choice([0.5, 0.8, 0.95])
            signal = TrainingSignal(
                id=f"sig{seed}-{i:06d}", request_id=f"req{seed}-{i:06d}", session_id=chat.id, prompt=prompt,
                conversation=[], topic=passage.topic, chosen_response=answer, chosen_provider="openai",
                served_by="teacher", quality_score=quality, critic_passed=quality > 0.9,
                trainable=all_good or rng.random() > 0.05, created_at=start + timedelta(minutes=i),
            )
            if grounding_of is not None:
                signal.grounding = grounding_of(prompt)
                signal.grounding_kb_sha256, signal.grounding_version = kb_sha256, PROMPT_VERSION
            signal.candidates = [
                Candidate(provider="openai", model="gpt-4o", role="teacher", response=answer, critic_passed=True,
                          quality_score=quality, violations=[], chosen=True),
                Candidate(provider="anthropic", model="claude-sonnet-4-5", role="teacher", response=answer + " ",
                          critic_passed=True, quality_score=quality - 0.01, violations=[], chosen=False),
            ]
            wrong = _wrong_price(answer)
            if critic is not None and wrong and failing_rng.random() < failing_candidates:
                verdict = critic.evaluate(prompt, wrong)
                if not verdict.passed:
                    signal.candidates.append(Candidate(
                        provider="xai", model="grok-4", role="teacher", response=wrong, critic_passed=False,
                        quality_score=verdict.quality_score, chosen=False,
                        violations=[v.model_dump(mode="json") for v in verdict.violations]))
            if not all_good and rng.random() < 0.05:
                signal.corrections = [AdminCorrection(corrected_response=answer, author="admin", reason="clearer",
                                                      created_at=start + timedelta(minutes=i, seconds=30))]
            session.add_all([chat, signal])
            if i % 500 == 499:
                session.commit()
        session.commit()
    return n

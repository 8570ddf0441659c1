"""Synthetic customer traffic: multi-turn conversations with teacher answers and business outcomes.

Each customer turn gets one answer per teacher (``SynthConfig.teachers``); each teacher's answer
is hallucinated independently with probability ``hallucination_rate``, and the served answer is
the first correct one (what an ensemble with a perfect critic would pick), so a customer sees a
wrong answer only when every teacher got it wrong. Outcomes follow what was served: customers
told something false book less and rate lower. Same config, same conversations.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from devkit.synth import phrases
from devkit.synth.answers import SynthAnswer, answer_question
from hibachi.errors import UserError
from hibachi.knowledge import KnowledgeBase
from hibachi.retrieval import TOPICS


@dataclass(frozen=True)
class SynthConfig:
    """How much traffic, how often teachers hallucinate, how long conversations are, how many have outcomes."""

    conversations: int = 200
    seed: int = 0
    hallucination_rate: float = 0.1
    min_turns: int = 1
    max_turns: int = 4
    outcome_share: float = 0.8  # conversations whose booking/rating is known
    teachers: int = 2
    pii_share: float = 0.15  # customer turns carrying a name, email, phone or address
    typo_share: float = 0.1
    days: int = 30  # conversations are spread over this many days before load time

    def __post_init__(self) -> None:
        problems = []
        if self.conversations < 0:
            problems.append(f"conversations must be >= 0, got {self.conversations}")
        for name in ("hallucination_rate", "outcome_share", "pii_share", "typo_share"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                problems.append(f"{name.replace('_', '-')} must be between 0 and 1, got {value}")
        if self.min_turns < 1 or self.max_turns < self.min_turns:
            problems.append(f"turns must satisfy 1 <= min ({self.min_turns}) <= max ({self.max_turns})")
        if self.teachers < 1:
            problems.append(f"teachers must be >= 1, got {self.teachers}")
        if self.days < 1:
            problems.append(f"days must be >= 1, got {self.days}")
        if problems:
            raise UserError("synthetic traffic: " + "; ".join(problems))


@dataclass
class Turn:
    user: str
    topic: str  # what the customer asked about (the generator's intent, not a classifier's guess)
    candidates: list[SynthAnswer]  # one per teacher, in teacher order
    served: int  # index of the candidate the customer saw
    reference: str  # a correct answer, for corrections and ground truth
    minute: int = 0  # minutes after the conversation started

    @property
    def answer(self) -> str:
        return self.candidates[self.served].text

    @property
    def hallucination(self) -> str | None:
        return self.candidates[self.served].hallucination


@dataclass
class Conversation:
    id: str
    turns: list[Turn]
    led_to_booking: bool | None
    customer_rating: int | None
    age_minutes: int  # how long before load time the conversation started
    pii: list[str] = field(default_factory=list)  # the personal data its customer turns contain

    @property
    def well_served(self) -> bool:
        return all(t.hallucination is None for t in self.turns)

    def messages(self) -> list[dict[str, str]]:
        out: list[dict[str, str]] = []
        for turn in self.turns:
            out += [{"role": "user", "content": turn.user}, {"role": "assistant", "content": turn.answer}]
        return out

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Conversation:
        turns = [Turn(**{**t, "candidates": [SynthAnswer(**c) for c in t["candidates"]]}) for t in data["turns"]]
        return cls(**{**data, "turns": turns})


def generate_traffic(config: SynthConfig, kb: KnowledgeBase | None = None) -> list[Conversation]:
    """``config.conversations`` conversations covering every knowledge-base topic; deterministic per seed."""
    return list(iter_traffic(config, kb))


def iter_traffic(config: SynthConfig, kb: KnowledgeBase | None = None) -> Iterator[Conversation]:
    if kb is None:
        from hibachi.knowledge import load_knowledge_base
        from hibachi.settings import get_settings

        kb = load_knowledge_base(get_settings().knowledge_base)
    rng = random.Random(config.seed)
    deck: list[str] = []
    for _ in range(config.conversations):
        if not deck:  # a shuffled deck of topics, so even a handful of conversations covers them all
            deck = list(TOPICS)
            rng.shuffle(deck)
        yield _conversation(kb, config, rng, deck)


def _conversation(kb: KnowledgeBase, config: SynthConfig, rng: random.Random, deck: list[str]) -> Conversation:
    conversation_id = f"synth-{rng.getrandbits(64):016x}"
    n_turns = rng.randint(config.min_turns, config.max_turns)
    messages: list[dict[str, str]] = []
    turns: list[Turn] = []
    pii: list[str] = []
    topic = deck.pop()
    minute = 0
    for index in range(n_turns):
        if index > 0:
            if rng.random() < 0.35 and topic in phrases.FOLLOW_UPS:
                options = [f for f in phrases.FOLLOW_UPS[topic] if f not in turns[-1].user] or phrases.FOLLOW_UPS[topic]
                text = _fill(rng.choice(options), kb, rng)
            else:
                topic = deck.pop() if deck and rng.random() < 0.5 else rng.choice(TOPICS)
                text = _fill(rng.choice(phrases.QUESTIONS[topic]), kb, rng)
        else:
            greeting = rng.choice(phrases.GREETINGS)
            text = _fill(rng.choice(phrases.QUESTIONS[topic]), kb, rng)
            if greeting.endswith(", "):
                text = text[:1].lower() + text[1:]
            text = greeting + text
        if rng.random() < config.typo_share:
            text = _typo(text, rng)
        if rng.random() < config.pii_share:
            sentence, values = _pii(rng)
            text += sentence
            pii += values
        turns.append(_answer(kb, config, rng, messages, text, topic, minute))
        messages += [{"role": "user", "content": text}, {"role": "assistant", "content": turns[-1].answer}]
        minute += rng.randint(1, 4)
    if n_turns > 1 and rng.random() < 0.15:
        turns.append(_answer(kb, config, rng, messages, rng.choice(phrases.CLOSINGS), "other", minute))
    booked, rating = _outcome(config, rng, all(t.hallucination is None for t in turns))
    return Conversation(conversation_id, turns, booked, rating, rng.randint(5, config.days * 1440), pii)


def _answer(kb: KnowledgeBase, config: SynthConfig, rng: random.Random, history: list[dict[str, str]], text: str,
            topic: str, minute: int) -> Turn:
    messages = [*history, {"role": "user", "content": text}]
    candidates = [answer_question(kb, messages, rng, hallucinate=rng.random() < config.hallucination_rate)
                  for _ in range(config.teachers)]
    served = next((i for i, c in enumerate(candidates) if c.hallucination is None), 0)
    correct = candidates[served] if candidates[served].hallucination is None else answer_question(kb, messages, rng)
    return Turn(text, topic, candidates, served, correct.text, minute)


def _outcome(config: SynthConfig, rng: random.Random, well_served: bool) -> tuple[bool | None, int | None]:
    if rng.random() >= config.outcome_share:
        return None, None
    if well_served:
        booked = rng.random() < 0.55
        rating = rng.choices([1, 2, 3, 4, 5], weights=[2, 4, 12, 37, 45])[0]
    else:
        booked = rng.random() < 0.12
        rating = rng.choices([1, 2, 3, 4, 5], weights=[35, 30, 22, 9, 4])[0]
    return booked, (rating if rng.random() < 0.75 else None)


def _fill(template: str, kb: KnowledgeBase, rng: random.Random) -> str:
    adults = rng.choice([4, 6, 8, 10, 12, 15, 20, 25, 30])
    upgrade = rng.choice(kb.upgrades)
    add_on = rng.choice(kb.add_ons)
    not_offered = rng.choice(kb.not_offered)
    values = {
        "adults": adults, "kids": rng.choice([1, 2, 3, 4, 6]), "guests": rng.choice([6, 8, 10, 12, 16, 20]),
        "miles": rng.choice([10, 20, 35, 40, 45, 60, 75]), "date": rng.choice(phrases.DATES),
        "upgrade": rng.choice(upgrade.aliases or [upgrade.name]),
        "add_on": rng.choice(add_on.aliases or [add_on.name]),
        "not_offered": rng.choice(not_offered.aliases or [not_offered.name]),
        "city": rng.choice([*kb.travel.base_cities, *phrases.OTHER_CITIES]),
        "base_city": rng.choice(kb.travel.base_cities),
    }
    return template.format(**values)


def _pii(rng: random.Random) -> tuple[str, list[str]]:
    first, last = rng.choice(phrases.FIRST_NAMES), rng.choice(phrases.LAST_NAMES)
    values = {
        "name": f"{first} {last}",
        "email": f"{first.lower()}.{last.lower()}{rng.randint(1, 99)}@{rng.choice(phrases.EMAIL_DOMAINS)}",
        "phone": rng.choice(["({a}) 555-{n:04d}", "{a}-555-{n:04d}", "+1 {a} 555 {n:04d}"]).format(
            a=rng.choice(phrases.AREA_CODES), n=rng.randint(100, 199)),
        "address": f"{rng.randint(100, 9999)} {rng.choice(phrases.STREETS)}",
    }
    template = rng.choice(phrases.PII_SENTENCES)
    used = [value for key, value in values.items() if "{" + key + "}" in template]
    return template.format(**values), used


def _typo(text: str, rng: random.Random) -> str:
    """One human slip: two letters swapped or one dropped in a longer word, or everything lower-cased."""
    words = text.split(" ")
    candidates = [i for i, w in enumerate(words) if len(w) > 4 and w.isalpha() and w.islower()]
    if not candidates or rng.random() < 0.25:
        return text.lower()
    i = rng.choice(candidates)
    word = words[i]
    j = rng.randrange(1, len(word) - 1)
    if rng.random() < 0.5:
        word = word[:j] + word[j + 1] + word[j] + word[j + 2:]
    else:
        word = word[:j] + word[j + 1:]
    words[i] = word
    return " ".join(words)


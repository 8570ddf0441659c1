"""A template answerer: a correct reply to any customer message from the knowledge base's facts.

It stands in for a teacher LLM wherever none can be reached (the provider simulators, the
synthetic traffic). ``hallucinate=True`` gives a realistic wrong answer of a kind the critic
must catch, named in ``SynthAnswer.hallucination``. Every number comes from the knowledge
base; the wrong ones are derived from it, so another business's file works unchanged.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import Any, TypeVar

from devkit.synth.words import message_text, money
from devkit.synth.wrong import hallucinated
from hibachi.knowledge import KnowledgeBase, Named
from hibachi.quote import parse_counts, party_sentences, per_guest_sentence, travel_sentence
from hibachi.retrieval import Retriever

N = TypeVar("N", bound=Named)

_RETRIEVERS: dict[int, tuple[KnowledgeBase, Retriever]] = {}


@dataclass(frozen=True)
class SynthAnswer:
    text: str
    topic: str
    hallucination: str | None = None


def retriever_for(kb: KnowledgeBase) -> Retriever:
    cached = _RETRIEVERS.get(id(kb))
    if cached is None or cached[0] is not kb:
        cached = (kb, Retriever(kb))
        _RETRIEVERS[id(kb)] = cached
    return cached[1]


_FOLLOW_UP = re.compile(r"^\W*(and|what about|how about|ok|okay|oh|so|also|then)\b")


@dataclass(frozen=True)
class Question:
    """What a reply needs from the conversation: the last question, its context and the counts in it."""

    text: str
    lower: str
    context: str  # earlier customer turns, for follow-ups like "and for kids?"
    adults: int | None
    kids: int | None
    miles: int | None

    @classmethod
    def parse(cls, messages: list[dict[str, Any]]) -> Question:
        users = [message_text(m) for m in messages if m.get("role", "user") == "user"]
        text = users[-1] if users else ""
        lower = text.lower()
        counts = parse_counts(text)  # read exactly as the grounding's quote reads them
        earlier = [u.lower() for u in users[:-1]]
        context = earlier[-1] if earlier else ""
        for previous in reversed(earlier):  # a chain of follow-ups reaches back to the question they follow
            context = previous
            if not _FOLLOW_UP.match(previous):
                break
        return cls(text, lower, context, counts.adults, counts.kids, counts.miles)

    def has(self, *words: str) -> bool:
        return any(re.search(rf"\b{re.escape(w)}", self.lower) for w in words)

    def mentions(self, item: Named, text: str | None = None) -> bool:
        return any(re.search(rf"\b{re.escape(t)}\b", self.lower if text is None else text) for t in item.terms)

    def asked(self, items: list[N]) -> list[N]:
        """The items this question names, else those the earlier turns named, else all of them."""
        return ([i for i in items if self.mentions(i)] or [i for i in items if self.mentions(i, self.context)]
                or list(items))


_CLOSING = re.compile(r"^\W*(thanks?|thank you|thx|ty|great|perfect|awesome|ok(ay)?|cool|bye|goodbye)\b[^?]{0,40}$")


def _topic(kb: KnowledgeBase, q: Question) -> str:
    if _CLOSING.match(q.lower):  # "thanks so much!" closes the chat, it is not a pricing question
        return "other"
    if q.has("allerg", "celiac", "coeliac", "gluten", "vegan", "vegetarian"):
        return "dietary"  # a health question is answered as one, whatever food it names
    if q.has("tip", "tips", "tipping", "gratuity"):
        return "pricing"
    retriever = retriever_for(kb)
    if q.context and _FOLLOW_UP.match(q.lower):  # "and for kids?", "oh ok, what do you recommend instead?"
        topic = retriever.topic(q.context + " " + q.text)
        if topic != "setup" and any(q.mentions(item, q.context + " " + q.lower) for item in kb.not_offered):
            return "not_offered"
        return topic
    topic = retriever.topic(q.text)
    if topic != "setup" and any(q.mentions(item) for item in kb.not_offered):
        return "not_offered"  # "is sake available as an upgrade?" must hear that sake is not offered
    if topic == "other" and q.context:
        topic = retriever.topic(q.context + " " + q.text)  # a follow-up inherits the earlier question's topic
    return topic


def answer_question(kb: KnowledgeBase, messages: list[dict[str, Any]], rng: random.Random,
                    hallucinate: bool = False) -> SynthAnswer:
    """Answer the last customer message from the facts; with ``hallucinate`` give a plausible wrong one."""
    q = Question.parse(messages)
    topic = _topic(kb, q)
    correct = _ANSWERERS.get(topic, _general)(kb, q, rng)
    if not hallucinate:
        return SynthAnswer(correct, topic)
    text, label = hallucinated(kb, q, topic, correct, rng)
    return SynthAnswer(text, topic, label)


# --- one answerer per topic; each returns only true statements built from the facts ---


def _open(rng: random.Random) -> str:
    return rng.choice(["", "Great question! ", "Happy to help. ", "Sure! ", "Thanks for asking. "])


def _close(rng: random.Random) -> str:
    return rng.choice(["", " Let me know if you have other questions!", " Anything else I can help with?",
                       " We'd love to cook for your party."])


def _pricing(kb: KnowledgeBase, q: Question, rng: random.Random) -> str:
    p = kb.pricing
    if q.has("tip", "gratuity", "tipping"):
        return (_open(rng) + f"Gratuity is not included in the price. A {p.gratuity.suggested_percent:g}% tip to the "
                f"chef is suggested, paid {p.gratuity.paid}." + _close(rng))
    minimum = p.party_minimum
    excludes = " and ".join(minimum.excludes)
    if q.has("minimum", "smallest", "small party", "least") and q.adults is None:
        return (_open(rng) + f"Our party minimum is {money(minimum.amount)} total, before {excludes}." + _close(rng))
    adults = q.adults
    kids = q.kids
    if adults is None and kids is None:
        return _open(rng) + rng.choice([
            f"Adults are {money(p.adult.price)} per person and children {p.child.max_age} and under are "
            f"{money(p.child.price)} per person; kids {p.free_child_max_age} and under eat free.",
            f"It's {money(p.adult.price)} per adult and {money(p.child.price)} per child ({p.child.max_age} and "
            f"under); children {p.free_child_max_age} and under are free. The party minimum is "
            f"{money(minimum.amount)}.",
        ]) + _close(rng)
    text = " ".join(party_sentences(kb, adults, kids))  # the grounding's quote, word for word
    if kids:
        text += f" Children {p.free_child_max_age} and under eat free."
    return _open(rng) + text + _close(rng)


def _proteins(kb: KnowledgeBase, q: Question, rng: random.Random) -> str:
    names = ", ".join(x.name + (" (vegetarian)" if x.vegetarian else "") for x in kb.proteins)
    n = kb.pricing.proteins_per_guest
    return _open(rng) + rng.choice([
        f"Every guest picks {n} proteins, included in the per-person price: {names}.",
        f"Each guest chooses {n} proteins from {names}; they are included in the price.",
    ]) + _close(rng)


def _upgrades(kb: KnowledgeBase, q: Question, rng: random.Random) -> str:
    asked = q.asked(kb.upgrades)
    text = "; ".join(f"{u.name} is +{money(u.price)} per person" for u in asked)
    text = text[0].upper() + text[1:] + ", and each upgrade replaces one protein."
    guests = (q.adults or 0) + (q.kids or 0)
    if guests and len(asked) == 1:
        u = asked[0]
        text += " " + per_guest_sentence(u.price, guests, extra=True)
    return _open(rng) + text + _close(rng)


def _included(kb: KnowledgeBase, q: Question, rng: random.Random) -> str:
    items = ", ".join(i.name for i in kb.included)
    return _open(rng) + rng.choice([
        f"Every meal includes {items}.",
        f"Included with every meal: {items}. Anything not on that list is not part of the meal.",
    ]) + _close(rng)


def _add_ons(kb: KnowledgeBase, q: Question, rng: random.Random) -> str:
    asked = q.asked(kb.add_ons)
    text = "Add-ons: " + "; ".join(f"{a.name} {money(a.price)} {a.unit}" for a in asked) + "."
    guests = (q.adults or 0) + (q.kids or 0)
    if guests and len(asked) == 1 and asked[0].unit == "per person":
        a = asked[0]
        text += " " + per_guest_sentence(a.price, guests, extra=False)
    return _open(rng) + text + _close(rng)


def _not_offered(kb: KnowledgeBase, q: Question, rng: random.Random) -> str:
    asked = q.asked(kb.not_offered)
    names = " or ".join(n.name for n in asked)
    text = rng.choice([f"Sorry, we don't offer {names}.", f"Unfortunately {names} is not offered.",
                       f"I'm afraid we do not offer {names}."])
    if kb.upgrades and any("beef" in n.name or "wagyu" in n.name for n in asked):
        best = max(kb.upgrades, key=lambda u: u.price)
        text += f" For something special, {best.name} is an upgrade at +{money(best.price)} per person."
    if kb.setup.customer_provides and any("table" in n.name for n in asked):
        text += f" Customers provide {', '.join(kb.setup.customer_provides)} for their guests."
    return _open(rng) + text + _close(rng)


def _travel(kb: KnowledgeBase, q: Question, rng: random.Random) -> str:
    t = kb.travel
    radius = f"{t.free_radius_miles:g}"
    one_way = " one way" if t.one_way else ""
    text = (f"Travel is free within {radius} miles of the nearest base city ({', '.join(t.base_cities)}); beyond "
            f"that it is {money(t.fee_per_mile)} per mile{one_way}.")
    named = [c for c in t.base_cities if c.lower() in q.lower]
    if named:
        text = f"Yes, {named[0]} is one of our base cities, so travel within {radius} miles of it is free. " + text
    if q.miles is not None:
        text += " " + travel_sentence(kb, q.miles)
    return _open(rng) + text + _close(rng)


def _booking(kb: KnowledgeBase, q: Question, rng: random.Random) -> str:
    b = kb.booking
    if q.has("rain", "weather", "storm"):
        reschedules = _times(b.rain_policy.free_reschedules)
        return (_open(rng) + f"If it rains, you can move the event to another date {reschedules} "
                f"at no charge when you cancel for rain {b.rain_policy.notice_hours} hours ahead."
                + _close(rng))
    if q.has("time", "start", "late", "early", "evening", "lunch", "dinner", "pm", "am", "noon", "day", "week",
             "saturday", "sunday", "friday", "holiday"):
        return (_open(rng) + f"Events can start between {b.start_time_earliest} and {b.start_time_latest}, "
                f"{b.days}. Please book at least {b.min_lead_hours} hours before the event." + _close(rng))
    return _open(rng) + rng.choice([
        f"Please book at least {b.min_lead_hours} hours before the event.",
        f"We need at least {b.min_lead_hours} hours' notice before the event, and a "
        f"{money(b.deposit)} deposit holds the date.",
    ]) + _close(rng)


def _times(n: int) -> str:
    return "once" if n == 1 else f"{n} times"


def _deposit(kb: KnowledgeBase, q: Question, rng: random.Random) -> str:
    b = kb.booking
    deducted = " and it is deducted from your final bill" if b.deposit_deducted_from_bill else ""
    return _open(rng) + rng.choice([
        f"A {money(b.deposit)} deposit holds your date{deducted}. It is refundable if you cancel "
        f"{b.refund_cutoff_days} or more days before the event; after that it is not refundable.",
        f"We take a {money(b.deposit)} deposit to hold the date{deducted}. Cancel at least {b.refund_cutoff_days} "
        "days before the event for a refund; later cancellations are not refundable.",
    ]) + _close(rng)


def _setup(kb: KnowledgeBase, q: Question, rng: random.Random) -> str:
    s = kb.setup
    outdoor = (f"The chef cooks outdoors only ({', '.join(s.allowed_locations)}), never indoors. "
               if s.outdoor_only else "")
    space = f"We need a flat area of about {s.grill_area_feet[0]:g} by {s.grill_area_feet[1]:g} feet for the grill."
    provide = (f"You provide {', '.join(s.customer_provides)} for your guests; the chef brings "
               f"{', '.join(s.chef_brings)}.")
    if q.mentions(Named(name="indoor", aliases=s.indoor_aliases)) or q.has("outdoor", "outside", "where"):
        text = outdoor + space
    elif q.has("space", "room", "area", "big", "size", "feet"):
        text = space + " " + outdoor.strip()
    else:
        text = provide + " " + outdoor.strip()
    return _open(rng) + text.strip() + _close(rng)


def _dietary(kb: KnowledgeBase, q: Question, rng: random.Random) -> str:
    d = kb.dietary
    gf = d.gluten_free
    parts = []
    if q.has("gluten", "celiac", "coeliac"):
        parts.append(f"Gluten-free is available on request, made with {gf.substitute}."
                     + (" The grill is shared, so cross-contact is possible." if gf.cross_contact_possible else ""))
    if q.has("allerg", "shellfish", "nut", "peanut"):
        parts.append("For allergies, the chef cooks allergy orders first on a cleaned grill, but we "
                     + ("can guarantee no cross-contact." if d.shellfish_allergy.guarantee
                        else "cannot guarantee no cross-contact."))
    if q.has("vegetarian", "vegan", "veggie", "meat", "plant") or not parts:
        parts.append(f"For vegetarian guests we offer {d.vegetarian}.")
    return _open(rng) + " ".join(parts) + _close(rng)


def _general(kb: KnowledgeBase, q: Question, rng: random.Random) -> str:
    p, b = kb.pricing, kb.booking
    facts = (f"Adults are {money(p.adult.price)} per person, children {p.child.max_age} and under "
             f"{money(p.child.price)}, with a {money(p.party_minimum.amount)} party minimum; a "
             f"{money(b.deposit)} deposit holds the date and we need {b.min_lead_hours} hours' notice.")
    if q.has("thank", "thx", "great", "perfect", "awesome", "bye"):
        return rng.choice(["You're welcome! ", "Happy to help! "]) + "We look forward to cooking for you."
    greeting = rng.choice(["Hi there! ", "Hello! ", "Welcome! "]) if q.has("hi", "hello", "hey", "good ") else ""
    return (greeting + f"I'm the {kb.business.assistant_name}. {kb.business.description.rstrip('.')}. " + facts
            + " Ask me about the menu, upgrades, travel, booking or dietary needs.")


_ANSWERERS = {
    "pricing": _pricing, "proteins": _proteins, "upgrades": _upgrades, "included": _included, "add_ons": _add_ons,
    "not_offered": _not_offered, "travel": _travel, "booking": _booking, "deposit": _deposit, "setup": _setup,
    "dietary": _dietary,
}

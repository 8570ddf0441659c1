"""Realistic teacher hallucinations: confident wrong claims of each kind the critic must catch.

Each kind is derived from the knowledge base (a price a little too high, a not-offered item
offered, a policy reversed), so it stays wrong for any business's file. A kind that fits the
question's topic replaces the answer; otherwise the wrong claim is added to the correct one.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import TYPE_CHECKING

from devkit.synth.words import money
from hibachi.knowledge import KnowledgeBase

if TYPE_CHECKING:
    from devkit.synth.answers import Question

Maker = Callable[[KnowledgeBase, "Question", random.Random], str]


def _offers(index_word: str, price_per_person: float) -> Maker:
    def make(kb: KnowledgeBase, q: Question, rng: random.Random) -> str:
        item = next((n for n in kb.not_offered if index_word in n.name.lower()), kb.not_offered[0])
        name = item.aliases[0] if item.aliases else item.name
        return rng.choice([
            f"Yes, we offer {name}! It's {money(price_per_person)} per person.",
            f"Absolutely, {name} is available for {money(price_per_person)} per person.",
        ])
    return make


def _upgrade_price(kb: KnowledgeBase, q: Question, rng: random.Random) -> str:
    asked = [u for u in kb.upgrades if q.mentions(u)] or kb.upgrades
    u = rng.choice(asked)
    return f"{u.name.capitalize()} is an upgrade at +{money(u.price + 5)} per person."


def _adult_price(kb: KnowledgeBase, q: Question, rng: random.Random) -> str:
    wrong_price = kb.pricing.adult.price + rng.choice([10, 15, -10])
    if q.adults:
        return (f"Adults are {money(wrong_price)} per person, so for {q.adults} adults that is "
                f"{q.adults} x {money(wrong_price)} = {money(q.adults * wrong_price)}.")
    return f"Our price is {money(wrong_price)} per adult."


def _arithmetic(kb: KnowledgeBase, q: Question, rng: random.Random) -> str:
    adults = q.adults or 10
    price = kb.pricing.adult.price
    return f"For {adults} adults that is {adults} x {money(price)} = {money(adults * price - 100)}."


def _child_price(kb: KnowledgeBase, q: Question, rng: random.Random) -> str:
    return f"Kids are {money(kb.pricing.child.price + 10)} per person."


def _minimum(kb: KnowledgeBase, q: Question, rng: random.Random) -> str:
    return f"Our party minimum is only {money(kb.pricing.party_minimum.amount - 150)} total."


def _gratuity(kb: KnowledgeBase, q: Question, rng: random.Random) -> str:
    return "Gratuity is included in the price, so no need to tip the chef."


def _deposit(kb: KnowledgeBase, q: Question, rng: random.Random) -> str:
    return f"We take a {money(kb.booking.deposit * 2)} deposit to hold your date."


def _refund(kb: KnowledgeBase, q: Question, rng: random.Random) -> str:
    days = max(1, kb.booking.refund_cutoff_days - 5)
    return f"The deposit is fully refundable if you cancel up to {days} days before the event."


def _travel(kb: KnowledgeBase, q: Question, rng: random.Random) -> str:
    t = kb.travel
    return (f"Travel is free within {t.free_radius_miles + 20:g} miles; after that it's just "
            f"{money(t.fee_per_mile / 2)} per mile.")


def _lead_time(kb: KnowledgeBase, q: Question, rng: random.Random) -> str:
    hours = max(1, kb.booking.min_lead_hours // 2)
    return f"You can book as little as {hours} hours before the event."


def _start_time(kb: KnowledgeBase, q: Question, rng: random.Random) -> str:
    return "Events can start as late as 23:00."


def _indoor(kb: KnowledgeBase, q: Question, rng: random.Random) -> str:
    return rng.choice(["No problem, the chef can cook indoors in your kitchen.",
                       "Yes, we can set the grill up inside your home if the weather is bad."])


def _allergy(kb: KnowledgeBase, q: Question, rng: random.Random) -> str:
    return "Don't worry, we guarantee no cross-contact for shellfish allergies."


def _included_item(kb: KnowledgeBase, q: Question, rng: random.Random) -> str:
    return rng.choice(["Every meal also includes a free dessert of green tea ice cream.",
                       "Miso soup is included with every meal."])


def _add_on_price(kb: KnowledgeBase, q: Question, rng: random.Random) -> str:
    a = rng.choice(kb.add_ons)
    return f"You can add {a.name} for {money(a.price * 2)} {a.unit}."


# label -> (topics it answers, maker)
KINDS: dict[str, tuple[tuple[str, ...], Maker]] = {
    "offers wagyu": (("not_offered", "upgrades", "proteins"), _offers("wagyu", 80)),
    "offers sushi": (("not_offered", "add_ons"), _offers("sushi", 15)),
    "offers alcohol": (("not_offered",), _offers("alcohol", 20)),
    "rents tables": (("not_offered", "setup"), _offers("table", 10)),
    "wrong upgrade price": (("upgrades",), _upgrade_price),
    "wrong adult price": (("pricing",), _adult_price),
    "wrong arithmetic": (("pricing",), _arithmetic),
    "wrong child price": (("pricing",), _child_price),
    "wrong minimum": (("pricing",), _minimum),
    "gratuity included": (("pricing",), _gratuity),
    "wrong deposit": (("deposit", "booking"), _deposit),
    "wrong refund window": (("deposit",), _refund),
    "wrong travel fee": (("travel",), _travel),
    "wrong lead time": (("booking",), _lead_time),
    "wrong start time": (("booking",), _start_time),
    "indoor cooking": (("setup",), _indoor),
    "allergy guarantee": (("dietary",), _allergy),
    "invented included item": (("included", "proteins"), _included_item),
    "wrong add-on price": (("add_ons",), _add_on_price),
}


# Words in the question that make one wrong kind the natural mistake (asked about tips: "tips are included").
_PREFERRED = {
    "gratuity included": ("tip", "gratuity"), "wrong minimum": ("minimum",), "wrong child price": ("kid", "child"),
    "wrong refund window": ("refund", "cancel"), "wrong start time": ("time", "start", "late"),
    "wrong lead time": ("advance", "notice", "ahead", "last minute"), "allergy guarantee": ("allerg", "shellfish"),
    "indoor cooking": ("indoor", "inside", "kitchen", "garage"), "rents tables": ("table", "chair"),
}


def hallucinated(kb: KnowledgeBase, q: Question, topic: str, correct: str, rng: random.Random) -> tuple[str, str]:
    """A wrong answer and its label: one that fits the question replaces the answer, another is appended to it."""
    if topic == "not_offered":
        asked = [n for n in kb.not_offered if q.mentions(n)]
        if asked and rng.random() < 0.8:
            item = rng.choice(asked)
            name = item.aliases[0] if item.aliases else item.name
            return _offers(item.name.lower(), rng.choice([10, 15, 20, 80]))(kb, q, rng), f"offers {name}"
    fitting = [label for label, (topics, _) in KINDS.items() if topic in topics]
    preferred = [label for label in fitting if q.has(*_PREFERRED.get(label, ()))]
    if (q.adults or q.kids) and topic == "pricing":
        preferred += ["wrong arithmetic", "wrong adult price"]
    if preferred and rng.random() < 0.8:
        fitting = preferred
    if fitting:
        label = rng.choice(fitting)
        return KINDS[label][1](kb, q, rng), label
    label = rng.choice(sorted(KINDS))
    return f"{correct} Also, {_lower_first(KINDS[label][1](kb, q, rng))}", label


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]

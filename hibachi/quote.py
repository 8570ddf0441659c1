"""A quote computed from the knowledge base for the numbers a customer's question states.

Party totals, upgrade costs and travel fees need arithmetic that a small model gets wrong and a
large one sometimes does. The grounding therefore carries the computed lines ("20 adults x $60 =
$1,200"), so every model (teachers and the student) copies the numbers instead of multiplying.
``quote_lines(kb, question)`` returns nothing when the question states no count or distance; it uses
only the last question's own numbers, so the grounding stays a function of the question alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from hibachi.knowledge import KnowledgeBase, Named

_NUMBER_WORDS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty".split())} | {"thirty": 30, "forty": 40, "fifty": 50, "dozen": 12}
_NUM = r"(\d{1,4}|" + "|".join(_NUMBER_WORDS) + r")"
_ADULTS = re.compile(_NUM + r"\s+(?:adults?|grown[- ]?ups?|people|guests?|persons?|ppl|of us|folks)\b")
_KIDS = re.compile(_NUM + r"\s+(?:kids?|children|child|little ones)\b")
_BARE_COUNT = re.compile(r"\b(?:for|of|about|around)\s+" + _NUM + r"\b(?!\s*(?:miles?|mi|hours?|days?|%|pm|am|\$))")
_MILES = re.compile(r"(\d{1,4})\s*(?:miles?|mi)\b")
# A word each pattern cannot match without: where none is in the question, its search is skipped (same answer).
_ADULT_WORDS = ("adult", "grown", "people", "guest", "person", "ppl", "of us", "folks")
_KID_WORDS = ("kid", "child", "little ones")


def money(value: float) -> str:
    """Dollars as the knowledge base's passages write them: $1,200 or $12.50."""
    return f"${value:,.0f}" if float(value).is_integer() else f"${value:,.2f}"


def _number(token: str) -> int:
    return int(token) if token.isdigit() else _NUMBER_WORDS[token]


@dataclass(frozen=True)
class Counts:
    """The guests and distance a question states (None when it does not say)."""

    adults: int | None
    kids: int | None
    miles: int | None

    @property
    def guests(self) -> int:
        return (self.adults or 0) + (self.kids or 0)


def parse_counts(question: str) -> Counts:
    lower = question.lower()
    adults = _ADULTS.search(lower) if any(word in lower for word in _ADULT_WORDS) else None
    kids = _KIDS.search(lower) if any(word in lower for word in _KID_WORDS) else None
    miles = _MILES.search(lower)
    if adults is None and kids is None:
        adults = _BARE_COUNT.search(lower)  # "what about for 9?"
    return Counts(_number(adults.group(1)) if adults else None, _number(kids.group(1)) if kids else None,
                  int(miles.group(1)) if miles else None)


@lru_cache(maxsize=512)
def _mention_pattern(name: str, aliases: tuple[str, ...]) -> re.Pattern[str]:
    """One compiled pattern for all of an item's terms: it finds a match exactly where one of them, alone, would."""
    terms = Named(name=name, aliases=list(aliases)).terms
    return re.compile("|".join(rf"\b{re.escape(t)}\b" for t in terms))


def _mentions(item: Named, lower: str) -> bool:
    return _mention_pattern(item.name, tuple(item.aliases)).search(lower) is not None


def party_sentences(kb: KnowledgeBase, adults: int | None, kids: int | None) -> list[str]:
    """The party total as a correct answer says it: the products and sum, then the minimum (or what it excludes)."""
    p = kb.pricing
    parts, total = [], 0.0
    if adults:
        parts.append(f"{adults} adults x {money(p.adult.price)} = {money(adults * p.adult.price)}")
        total += adults * p.adult.price
    if kids:
        parts.append(f"{kids} children x {money(p.child.price)} = {money(kids * p.child.price)}")
        total += kids * p.child.price
    first = "For " + " and ".join(parts) + (f", so {money(total)} in total." if len(parts) > 1 else ".")
    minimum, excludes = p.party_minimum, " and ".join(p.party_minimum.excludes)
    if total < minimum.amount:
        return [first, f"That is under our {money(minimum.amount)} party minimum, so the food total would be "
                       f"{money(minimum.amount)} before {excludes}."]
    return [first, f"That is before {excludes}."]


def per_guest_sentence(price: float, guests: int, *, extra: bool) -> str:
    """An upgrade's (``extra``) or per-person add-on's cost for the party."""
    return f"For {guests} guests that is {guests} x {money(price)} = {money(guests * price)}" + (" extra." if extra
                                                                                                  else ".")


def travel_sentence(kb: KnowledgeBase, miles: int) -> str:
    t = kb.travel
    extra = miles - t.free_radius_miles
    if extra <= 0:
        return f"At {miles} miles, travel is free."
    return (f"At {miles} miles, the {extra:g} miles past the first {t.free_radius_miles:g} cost {extra:g} x "
            f"{money(t.fee_per_mile)} = {money(extra * t.fee_per_mile)}.")


def quote_lines(kb: KnowledgeBase, question: str) -> list[str]:
    """The computed quote for the counts in ``question``, worded as the sentences a correct answer uses.

    Worded so, a model copies a span that starts where its answer does ("For 25 adults x ...") instead of
    having to find numbers in a differently shaped line: a small model learns that copy, not the rewording.
    """
    counts = parse_counts(question)
    lower = question.lower()
    lines: list[str] = []
    if counts.adults or counts.kids:
        lines += party_sentences(kb, counts.adults, counts.kids)
        for item in kb.upgrades:
            if _mentions(item, lower):
                lines.append(f"{item.name}: {per_guest_sentence(item.price, counts.guests, extra=True)}")
        for item in kb.add_ons:
            if item.unit == "per person" and _mentions(item, lower):
                lines.append(f"{item.name}: {per_guest_sentence(item.price, counts.guests, extra=False)}")
    if counts.miles is not None:
        lines.append(travel_sentence(kb, counts.miles))
    return lines


def named_items(kb: KnowledgeBase, question: str) -> list[str]:
    """What the question names, resolved to the menu's own words ("kobe" -> "wagyu beef: not offered").

    The knowledge base knows each item's aliases; a model reading only the facts would have to guess that
    "potstickers" are the gyoza, so the grounding says which item was meant (as it gives the computed quote).
    """
    lower = question.lower()
    lines = [f"{u.name}: upgrade, +{money(u.price)} {u.unit}" for u in kb.upgrades if _mentions(u, lower)]
    lines += [f"{a.name}: add-on, {money(a.price)} {a.unit}" for a in kb.add_ons if _mentions(a, lower)]
    lines += [f"{p.name}: a protein, included" for p in kb.proteins if _mentions(p, lower)]
    lines += [f"{i.name}: included with every meal" for i in kb.included if _mentions(i, lower)]
    lines += [f"{n.name}: not offered" for n in kb.not_offered if _mentions(n, lower)]
    return lines

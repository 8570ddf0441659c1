"""Smaller policies: which days events run, how often rain moves an event, the minimum being money (not heads),
vegetarian options."""

from __future__ import annotations

import re
from collections.abc import Iterator

from hibachi.critic.context import Reading
from hibachi.critic.facts import FactIndex
from hibachi.critic.numbers import fmt_money
from hibachi.critic.verdict import Violation

_WEEKDAYS = re.compile(r"\b(?:mondays?|tuesdays?|wednesdays?|thursdays?|fridays?|saturdays?|sundays?|weekends?|"
                       r"weekdays?)\b")
_WORK = re.compile(r"\b(?:work|works|open|operate|book|booking|bookings|cater|available|events?|parties|do)\b")
_TIMES = re.compile(r"\b(?:once|twice|(?P<n>\d+)\s+times|unlimited|as many times|any number of times|as often as)\b")
_HEAD_MINIMUM = re.compile(r"\bminimum (?:is |of |party size is |size is )?(?:at least )?(?P<a>\d+) "
                           r"(?:guests|people|adults|persons)"
                           r"|\bat least (?P<c>\d+) (?:guests|people|adults|persons) (?:are |is )?(?:required|needed)"
                           r"|\b(?P<b>\d+)[- ](?:guest|person|people|adult)s? minimum\b")
_NO_VEGETARIAN = re.compile(r"(?:\bno|n't|\bnot|\bnever|\bcannot)\s+(?:\w+\s+){0,3}?(?:vegetarian|meatless|"
                            r"meat-free)\b|\bvegetarian\w*\s+(?:\w+\s+){0,2}?(?:is|are)\s+not\s+(?:available|possible)")


_AREA = re.compile(r"(?P<a>\d+(?:\.\d+)?)\s*(?:ft|feet|foot|')?\s*(?:by|x|\u00d7)\s*(?P<b>\d+(?:\.\d+)?)\s*"
                   r"(?:ft\b|feet\b|foot\b|')")
_CITY = r"[A-Z][a-zA-Z]+(?:\s[A-Z][a-zA-Z]+)?"
# Where the business says it has a base: "based in X", "our X team", "X is one of our bases", "out of X and Y".
_BASED = re.compile(
    r"\b(?:based (?:in|out of|near|around)|located in|operates? (?:out of|from)|operating (?:out of|from)|"
    r"headquartered in|come from|travel from|stationed in|a base in|bases? in|home base(?: is| in)|kitchens? in|"
    r"offices? in|hub in|"
    r"locations? in|branch(?:es)? in)\s+(?P<city>" + _CITY + r")(?:\s*(?:,|and|&)\s*(?P<city2>" + _CITY + r"))?"
    r"|\b[Oo]ur\s+(?P<city3>" + _CITY + r")(?:\s*(?:,|and|&)\s*(?P<city5>" + _CITY + r"))?\s+(?:team|location|"
    r"branch|kitchen|office|base|crew|chefs?|hub)s?\b"
    r"|(?P<city4>" + _CITY + r")\s+(?:is|are)\s+(?:one of\s+)?our\s+(?:\w+\s+)?(?:bases?|locations?|hubs?|"
    r"branch(?:es)?|offices?)\b"
    r"|(?P<city6>" + _CITY + r")(?:\s*(?:,|and|&)\s*(?P<city7>" + _CITY + r"))?[- ]based\b")
_BASED_WORDS = ("based", "located", "operat", "headquartered", "come from", "travel from", "stationed", "base",
                "kitchen", "office", "hub", "location", "branch")
_OUR_CITY = re.compile(r"[Oo]ur [A-Z]")
_NOT_CITY = frozenset({"we", "our", "the", "my", "hibachi", "chef", "chefs", "yes", "no", "and", "it", "team"})


def _negated_near(text: str, position: int) -> bool:
    """'We're not based in Reno', "we don't have a base in Reno": a negation shortly before the claim."""
    start = max(text.rfind(mark, 0, position) for mark in (".", "!", "?", ";", "\n", ",")) + 1
    return re.search(r"\b(?:not|no|never|don't|do not|aren't|isn't|doesn't|without)\b|n't\b",
                     text[start:position + 12].lower()) is not None


class ExtraRules:
    def __init__(self, index: FactIndex):
        kb = index.kb
        self.any_day = "any day" in kb.booking.days.lower() or "every day" in kb.booking.days.lower()
        self.days = kb.booking.days
        self.reschedules = kb.booking.rain_policy.free_reschedules
        self.minimum = kb.pricing.party_minimum.amount
        self.vegetarian = kb.dietary.vegetarian
        self.area = sorted(kb.setup.grill_area_feet)
        self.cities = {c.lower() for c in kb.travel.base_cities}
        self.city_list = ", ".join(kb.travel.base_cities)
        self.business_words = {kb.business.name.lower(), kb.business.assistant_name.lower()} | set(index.terms)

    def check(self, r: Reading) -> Iterator[Violation]:
        hint = any(word in r.lower for word in _BASED_WORDS) or _OUR_CITY.search(r.original) is not None
        for match in _BASED.finditer(r.original) if hint else ():
            for group in ("city", "city2", "city3", "city4", "city5", "city6", "city7"):
                city = (match.group(group) or "").strip()
                if not city or city.lower() in self.cities or city.split()[0].lower() in _NOT_CITY \
                        or city.lower() in self.business_words:
                    continue
                if _negated_near(r.original, match.start()):
                    continue
                yield Violation(category="travel", severity="medium", claim=match.group(0),
                                fact=f"base cities: {self.city_list}")
        text = r.lower
        weekdays = self.any_day and _WEEKDAYS.search(text) is not None
        heads = _HEAD_MINIMUM.search(text) is not None and self.minimum > 0
        area = _AREA.search(text) is not None
        vegetarian = bool(self.vegetarian) and _NO_VEGETARIAN.search(text) is not None
        rain = "rain" in r.keys
        if not (weekdays or heads or area or vegetarian or rain):
            return  # one pass over the text says no clause can break these rules
        for clause in r.clauses:
            keys = {m.key for m in clause.mentions}
            claim = r.claim(clause)
            if weekdays and clause.negated and clause.has(_WEEKDAYS) and clause.has(_WORK):
                yield Violation(category="booking", severity="medium", claim=claim, fact=f"events run {self.days}")
            if rain and "rain" in keys and not clause.negated:
                for match in _TIMES.finditer(clause.text):
                    times = {"once": 1, "twice": 2}.get(match.group(0), None)
                    times = int(match.group("n")) if match.group("n") else times
                    if times != self.reschedules:
                        yield Violation(category="rain_policy", severity="medium", claim=claim,
                                        fact=f"rain: moved {self.reschedules} time(s) at no charge")
            if heads and clause.has(_HEAD_MINIMUM):
                yield Violation(category="minimum", severity="medium", claim=claim,
                                fact=f"party minimum: {fmt_money(self.minimum)} total, not a head count")
            for match in _AREA.finditer(clause.text) if area else ():
                if sorted([float(match.group("a")), float(match.group("b"))]) != self.area and not clause.negated:
                    yield Violation(category="setup", severity="medium", claim=claim,
                                    fact=f"setup: a flat area of about {self.area[1]:g} by {self.area[0]:g} feet")
            if vegetarian and clause.has(_NO_VEGETARIAN):
                yield Violation(category="dietary", severity="medium", claim=claim,
                                fact=f"vegetarian: {self.vegetarian}")

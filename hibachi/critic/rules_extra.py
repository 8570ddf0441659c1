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
_BASED = re.compile(r"\b(?:based in|located in|operate out of|operating out of|headquartered in|come from|"
                    r"travel from)\s+(?P<city>[A-Z][a-zA-Z]+(?:\s[A-Z][a-zA-Z]+)?)")


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

    def check(self, r: Reading) -> Iterator[Violation]:
        for match in _BASED.finditer(r.original):
            if match.group("city").lower() not in self.cities:
                yield Violation(category="travel", severity="medium", claim=match.group(0),
                                fact=f"base cities: {self.city_list}")
        for clause in r.clauses:
            keys = {m.key for m in clause.mentions}
            claim = r.claim(clause)
            if self.any_day and clause.negated and clause.has(_WEEKDAYS) and clause.has(_WORK):
                yield Violation(category="booking", severity="medium", claim=claim, fact=f"events run {self.days}")
            if "rain" in keys and not clause.negated:
                for match in _TIMES.finditer(clause.text):
                    times = {"once": 1, "twice": 2}.get(match.group(0), None)
                    times = int(match.group("n")) if match.group("n") else times
                    if times != self.reschedules:
                        yield Violation(category="rain_policy", severity="medium", claim=claim,
                                        fact=f"rain: moved {self.reschedules} time(s) at no charge")
            if clause.has(_HEAD_MINIMUM) and self.minimum > 0:
                yield Violation(category="minimum", severity="medium", claim=claim,
                                fact=f"party minimum: {fmt_money(self.minimum)} total, not a head count")
            for match in _AREA.finditer(clause.text):
                if sorted([float(match.group("a")), float(match.group("b"))]) != self.area and not clause.negated:
                    yield Violation(category="setup", severity="medium", claim=claim,
                                    fact=f"setup: a flat area of about {self.area[1]:g} by {self.area[0]:g} feet")
            if self.vegetarian and clause.has(_NO_VEGETARIAN):
                yield Violation(category="dietary", severity="medium", claim=claim,
                                fact=f"vegetarian: {self.vegetarian}")

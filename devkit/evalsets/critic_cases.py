"""Wrong and right answers per class of mistake, built from the knowledge base, each labelled.

``generate(kb, per_class, seed)`` returns ``CriticCase``s: for every class a wrong answer the critic must
flag and a right answer on the same subject it must pass. The figures (prices, ages, radius, minimum, the
cities, the menu) come from the knowledge base, so another tenant's file gives its own set; the wordings
are templates picked by a seeded RNG. ``score(cases, judge)`` gives recall (wrong answers caught) and false
alarms (right answers flagged) per class.

Classes (the issue's list): ``not_on_menu`` (a dish or protein that is not on the menu claimed as ours),
``free_or_included`` (a priced item said to be free or included), ``per_group`` (a per-person price said to be
per party or per order), ``upgrade_on_top`` (an upgrade said to come on top of the proteins instead of
replacing one), ``protein_as_upgrade`` (an included protein sold as an upgrade), ``age_limits`` (the free age
or the child age stated wrongly), ``travel_toward_minimum``, ``not_a_base`` (a city that is not a base claimed
as one), and the arithmetic ones whose right answers used to raise false alarms: ``minimum_after_upgrades``,
``product_then_total``, ``travel_charged``, ``refund_beyond_window``.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from hibachi.knowledge import KnowledgeBase

# Dishes and proteins a hibachi caterer might plausibly be asked about; the ones on the tenant's menu are
# dropped at generation time, so what is left is by definition not offered.
FOODS = ("duck breast", "pork belly", "lamb chops", "ribeye", "mahi mahi", "crab legs", "pork chops", "sea bass",
         "swordfish", "clams", "tilapia", "beef short ribs", "pork tenderloin", "bison", "yellowtail", "quail",
         "halibut", "oysters", "octopus", "venison", "turkey", "chicken wings", "lamb skewers", "ahi tuna",
         "king crab", "veal", "brisket", "catfish", "mussels", "eel")
OTHER_CITIES = ("Oakland", "Los Angeles", "San Diego", "Reno", "Modesto", "Stockton", "Santa Rosa", "Bakersfield",
                "Sunnyvale", "Portland")

CLASSES = ("not_on_menu", "free_or_included", "per_group", "upgrade_on_top", "protein_as_upgrade", "age_limits",
           "travel_toward_minimum", "not_a_base", "minimum_after_upgrades", "product_then_total",
           "travel_charged", "refund_beyond_window")


@dataclass(frozen=True)
class CriticCase:
    klass: str
    prompt: str
    response: str
    wrong: bool  # True: the critic must flag it; False: it must pass


@dataclass
class CriticScore:
    caught: Counter = field(default_factory=Counter)
    wrong: Counter = field(default_factory=Counter)
    flagged: Counter = field(default_factory=Counter)
    right: Counter = field(default_factory=Counter)
    misses: list[CriticCase] = field(default_factory=list)
    false_alarms: list[CriticCase] = field(default_factory=list)

    def recall(self, klass: str | None = None) -> float:
        caught = sum(self.caught.values()) if klass is None else self.caught[klass]
        wrong = sum(self.wrong.values()) if klass is None else self.wrong[klass]
        return caught / wrong if wrong else 1.0

    def false_alarm_rate(self, klass: str | None = None) -> float:
        flagged = sum(self.flagged.values()) if klass is None else self.flagged[klass]
        right = sum(self.right.values()) if klass is None else self.right[klass]
        return flagged / right if right else 0.0


def _m(value: float) -> str:
    return f"${value:,.0f}" if float(value).is_integer() else f"${value:,.2f}"


class _Facts:
    def __init__(self, kb: KnowledgeBase):
        p = kb.pricing
        self.kb = kb
        self.adult, self.child, self.child_max, self.free_max = p.adult.price, p.child.price, p.child.max_age, \
            p.free_child_max_age
        self.minimum = p.party_minimum.amount
        self.upgrades = [u for u in kb.upgrades if u.unit == "per person"]
        self.per_person_addons = [a for a in kb.add_ons if a.unit == "per person"]
        self.per_order_addons = [a for a in kb.add_ons if a.unit == "per order"]
        self.proteins = [pr.name for pr in kb.proteins]
        menu = {t for item in kb.offered_items for t in item.terms} | {t for item in kb.not_offered for t in item.terms}
        self.foods = [f for f in FOODS if not any(w in menu for w in (f, *f.split()))]
        self.bases = kb.travel.base_cities
        self.cities = [c for c in OTHER_CITIES if c not in self.bases]
        self.radius, self.fee = kb.travel.free_radius_miles, kb.travel.fee_per_mile
        self.trips = 1 if kb.travel.one_way else 2
        self.cutoff_days = kb.booking.refund_cutoff_days
        self.deposit = kb.booking.deposit


def _not_on_menu(f: _Facts, r: random.Random) -> tuple[str, str, str]:
    food, protein = r.choice(f.foods), r.choice(f.proteins)
    prompt = r.choice((f"Do you have {food}?", f"Can we get {food} at the party?", f"is {food} an option?"))
    wrong = r.choice((f"Yes, we offer {food} as one of the protein choices.",
                      f"Absolutely! Our chefs grill {food} right at your table.",
                      f"{food.capitalize()} is available as one of your two proteins.",
                      f"Yes, {food} is on our menu and guests love it.",
                      f"Sure, you can pick {food} and {protein} as your two proteins."))
    right = r.choice((f"We don't serve {food}, but {protein} is a great choice.",
                      f"{food.capitalize()} isn't on our menu; the proteins are {', '.join(f.proteins[:-1])} and "
                      f"{f.proteins[-1]}.",
                      f"Sorry, no {food}. You can pick two proteins such as {protein}."))
    return prompt, wrong, right


def _free_or_included(f: _Facts, r: random.Random) -> tuple[str, str, str]:
    item = r.choice([*f.upgrades, *f.kb.add_ons])
    name, price = item.name.split(" (")[0], item.price
    prompt = r.choice((f"Is {name} included?", f"Does {name} come with the meal?", f"how much is {name}?"))
    wrong = r.choice((f"Yes, {name} is included at no extra cost.",
                      f"{name.capitalize()} comes free with every party.",
                      f"The {_m(f.adult)} per person price already includes {name}.",
                      f"{name.capitalize()} is complimentary for all guests.",
                      f"Good news: {name} is on the house."))
    unit = item.unit
    right = r.choice((f"{name.capitalize()} is {_m(price)} {unit}; it isn't included.",
                      f"{name.capitalize()} costs {_m(price)} {unit} on top of the meal.",
                      f"It's an extra {_m(price)} {unit} for {name}."))
    return prompt, wrong, right


def _per_group(f: _Facts, r: random.Random) -> tuple[str, str, str]:
    item = r.choice([*f.upgrades, *f.per_person_addons])
    name, price = item.name.split(" (")[0], item.price
    prompt = f"How much is {name}?"
    wrong = r.choice((f"{name.capitalize()} is {_m(price)} for the whole party.",
                      f"It's a flat {_m(price)} for the group to get {name}.",
                      f"{name.capitalize()} is {_m(price)} per order.",
                      f"{name.capitalize()} adds {_m(price)} to your total bill, no matter the party size.",
                      f"Just {_m(price)} total for {name} for everyone."))
    right = r.choice((f"{name.capitalize()} is {_m(price)} per person.",
                      f"It's {_m(price)} extra per guest for {name}.",
                      f"{name.capitalize()} costs {_m(price)} a head."))
    return prompt, wrong, right


def _upgrade_on_top(f: _Facts, r: random.Random) -> tuple[str, str, str]:
    up = r.choice(f.upgrades)
    name, price, n = up.name, up.price, f.kb.pricing.proteins_per_guest
    prompt = r.choice((f"How does the {name} upgrade work?", f"If I add {name} do I still get {n} proteins?"))
    wrong = r.choice((f"{name.capitalize()} is +{_m(price)} per person on top of your {n} proteins.",
                      f"You can add {name} as a third protein for {_m(price)} more per person.",
                      f"With the upgrade you get {name} in addition to both of your proteins, +{_m(price)} a person.",
                      f"Yes, you keep all {n} proteins and get {name} as well for {_m(price)} extra per guest."))
    right = r.choice((f"{name.capitalize()} replaces one of your {n} proteins for +{_m(price)} per person.",
                      f"Swap one protein for {name}: it's {_m(price)} extra per person.",
                      f"{name.capitalize()} takes the place of one protein, +{_m(price)} per guest."))
    return prompt, wrong, right


def _protein_as_upgrade(f: _Facts, r: random.Random) -> tuple[str, str, str]:
    protein = r.choice([p for p in f.proteins])
    extra = r.choice((5, 8, 10, 12))
    prompt = r.choice((f"Is {protein} extra?", f"how much more for {protein}?", f"Can we get {protein}?"))
    wrong = r.choice((f"{protein.capitalize()} is a premium upgrade at +${extra} per person.",
                      f"Upgrading to {protein} costs ${extra} extra per guest.",
                      f"{protein.capitalize()} is available as an upgrade for ${extra} more per person.",
                      f"For {protein} there's a ${extra} per person upcharge."))
    right = r.choice((f"{protein.capitalize()} is one of the included proteins, no extra charge.",
                      f"No extra cost: {protein} is one of the proteins you can pick.",
                      f"{protein.capitalize()} comes with the meal as one of your two proteins."))
    return prompt, wrong, right


def _age_limits(f: _Facts, r: random.Random) -> tuple[str, str, str]:
    free, kid = f.free_max, f.child_max
    above = free + r.randint(1, 3)
    bad_free = r.choice([a for a in (above, free - 1) if a >= 0])
    bad_kid = r.choice([a for a in (kid - 2, kid - 1, kid + 1, kid + 3) if a != kid and a > free])
    prompt = r.choice(("Do kids eat free?", "What do children cost?", "how much for my toddler and my 10 year old?"))
    wrong = r.choice((f"Kids {bad_free} and under eat free; kids {kid} and under are {_m(f.child)}.",
                      f"Children under {above + 1} eat for free.",
                      f"Little ones up to age {bad_free} are free.",
                      f"Kids {bad_kid} and under are {_m(f.child)} per person.",
                      f"Children up to {bad_kid} years old pay the kids' price of {_m(f.child)}."))
    right = r.choice((f"Kids {free} and under eat free; kids {kid} and under are {_m(f.child)} per person.",
                      f"Children under {free + 1} are free, and {_m(f.child)} each up to age {kid}.",
                      f"Little ones up to age {free} are free."))
    return prompt, wrong, right


def _travel_toward_minimum(f: _Facts, r: random.Random) -> tuple[str, str, str]:
    prompt = r.choice(("Does the travel fee count toward the minimum?", "We're a small group, how does the minimum "
                       "work with travel?"))
    wrong = r.choice((f"Yes, the travel fee counts toward the {_m(f.minimum)} minimum.",
                      f"Mileage charges are applied to your {_m(f.minimum)} party minimum.",
                      "Travel fees help you reach the party minimum.",
                      f"The {_m(f.minimum)} minimum includes the travel fee."))
    right = r.choice((f"No, the {_m(f.minimum)} minimum is for food only; the travel fee is separate.",
                      f"The travel fee doesn't count toward the {_m(f.minimum)} minimum.",
                      f"The party minimum of {_m(f.minimum)} covers food; travel is charged on top."))
    return prompt, wrong, right


def _not_a_base(f: _Facts, r: random.Random) -> tuple[str, str, str]:
    city, base = r.choice(f.cities), r.choice(f.bases)
    prompt = r.choice(("Where are you located?", f"Do you come out to {city}?", "where are your chefs based?"))
    wrong = r.choice((f"We're based in {city}.", f"Our {city} team can cover that.",
                      f"We have chefs stationed in {city}.", f"{city} is one of our home bases.",
                      f"Our chefs operate out of {city} and {base}."))
    right = r.choice((f"We're based in {base}.", f"We serve {city} from our {base} base; travel fees may apply.",
                      f"Our chefs are based in {', '.join(f.bases[:-1])} and {f.bases[-1]}."))
    return prompt, wrong, right


def _minimum_after_upgrades(f: _Facts, r: random.Random) -> tuple[str, str, str]:
    up = r.choice(f.upgrades)
    # a party whose food is below the minimum, but above it once the upgrade is added
    adults = next(n for n in range(1, 100) if n * f.adult < f.minimum <= n * (f.adult + up.price)) \
        if any(n * f.adult < f.minimum <= n * (f.adult + up.price) for n in range(1, 100)) else 9
    food, extra = adults * f.adult, adults * up.price
    total = food + extra
    prompt = f"How much for {adults} adults, all with {up.name}?"
    right = r.choice((f"{adults} adults x {_m(f.adult)} = {_m(food)}, plus {up.name} {adults} x {_m(up.price)} = "
                      f"{_m(extra)}, so {_m(total)}. That's above the {_m(f.minimum)} minimum.",
                      f"That comes to {_m(total)}: {_m(food)} for {adults} adults and {_m(extra)} for {up.name}.",
                      f"Food for {adults} adults is {_m(food)}; with {up.name} at +{_m(up.price)} each the total is "
                      f"{_m(total)}, which clears the {_m(f.minimum)} minimum."))
    bumped = max(food, f.minimum) + extra
    wrong = r.choice((f"{adults} adults come to {_m(food)}, raised to the {_m(f.minimum)} minimum, plus {_m(extra)} "
                      f"for {up.name}: {_m(bumped)}.",
                      f"Your total would be {_m(total + 100)} for {adults} adults with {up.name}."))
    return prompt, wrong, right


def _product_then_total(f: _Facts, r: random.Random) -> tuple[str, str, str]:
    adults, kids = r.randint(8, 20), r.randint(1, 6)
    food = adults * f.adult + kids * f.child
    total = max(food, f.minimum)
    prompt = f"How much for {adults} adults and {kids} kids?"
    right = r.choice((f"{adults} adults x {_m(f.adult)} = {_m(adults * f.adult)} and {kids} x {_m(f.child)} = "
                      f"{_m(kids * f.child)} for the kids, so {_m(total)} in total.",
                      f"Adults: {adults} x {_m(f.adult)} = {_m(adults * f.adult)}. Kids: {kids} x {_m(f.child)} = "
                      f"{_m(kids * f.child)}. Total: {_m(total)}.",
                      f"It's {_m(total)}: {adults} x {_m(f.adult)} plus {kids} x {_m(f.child)}."))
    wrong = r.choice((f"{adults} adults x {_m(f.adult)} = {_m(adults * f.adult)} and {kids} x {_m(f.child)} = "
                      f"{_m(kids * f.child)}, so {_m(total + 60)} in total.",
                      f"Adults: {adults} x {_m(f.adult)} = {_m(adults * f.adult + 60)}. Total: "
                      f"{_m(total + 60)}."))
    return prompt, wrong, right


def _travel_charged(f: _Facts, r: random.Random) -> tuple[str, str, str]:
    miles = int(f.radius) + r.randint(5, 40)
    base = r.choice(f.bases)
    due = (miles - f.radius) * f.fee * f.trips
    prompt = r.choice((f"We're {miles} miles from {base}. What's the travel fee?",
                       f"Is there a travel charge? We're about {miles} miles out of {base}."))
    right = r.choice((f"The first {f.radius:g} miles are free, then {_m(f.fee)} per mile, so {miles - f.radius:g} "
                      f"miles x {_m(f.fee)} = {_m(due)}.",
                      f"At {miles} miles you're beyond our free {f.radius:g}-mile radius, so the travel fee is "
                      f"{_m(due)}.",
                      f"Travel is free within {f.radius:g} miles; for {miles} miles it's {_m(due)}."))
    wrong = r.choice((f"At {miles} miles travel is free.", f"The travel fee would be {_m(due + 20)}.",
                      f"Travel is free within {f.radius:g} miles; for {miles} miles it's {_m(miles * f.fee)}."))
    return prompt, wrong, right


def _refund_beyond_window(f: _Facts, r: random.Random) -> tuple[str, str, str]:
    weeks = r.randint(2, 6)
    days_short = r.randint(1, max(1, f.cutoff_days - 2))
    prompt_far = r.choice((f"If we cancel {weeks} weeks before, do we get the deposit back?",
                           f"we might cancel {weeks * 7} days before the party, is the deposit refundable?"))
    right = r.choice((f"Yes, {weeks} weeks is well before the {f.cutoff_days}-day cutoff, so your "
                      f"{_m(f.deposit)} deposit is refunded.",
                      "Yes, you'd get a full refund of the deposit.",
                      f"Yes: cancellations {f.cutoff_days} or more days before the event get the deposit back."))
    wrong = r.choice((f"Cancellations {days_short} days before still get a full refund.",
                      f"The deposit is refundable up to {days_short} days before the event."))
    return prompt_far, wrong, right


_MAKERS: dict[str, Callable[[_Facts, random.Random], tuple[str, str, str]]] = {
    "not_on_menu": _not_on_menu, "free_or_included": _free_or_included, "per_group": _per_group,
    "upgrade_on_top": _upgrade_on_top, "protein_as_upgrade": _protein_as_upgrade, "age_limits": _age_limits,
    "travel_toward_minimum": _travel_toward_minimum, "not_a_base": _not_a_base,
    "minimum_after_upgrades": _minimum_after_upgrades, "product_then_total": _product_then_total,
    "travel_charged": _travel_charged, "refund_beyond_window": _refund_beyond_window,
}


def generate(kb: KnowledgeBase, per_class: int = 40, seed: int = 13) -> list[CriticCase]:
    """``per_class`` wrong and ``per_class`` right answers for every class; seeded."""
    rng = random.Random(seed)
    facts = _Facts(kb)
    cases = []
    for klass in CLASSES:
        for _ in range(per_class):
            prompt, wrong, right = _MAKERS[klass](facts, rng)
            cases.append(CriticCase(klass, prompt, wrong, True))
            cases.append(CriticCase(klass, prompt, right, False))
    return cases


def score(cases: list[CriticCase], flags: Callable[[str, str], bool]) -> CriticScore:
    """``flags(prompt, response)`` is True when the judge rejects the answer."""
    result = CriticScore()
    for case in cases:
        flagged = flags(case.prompt, case.response)
        if case.wrong:
            result.wrong[case.klass] += 1
            result.caught[case.klass] += flagged
            if not flagged:
                result.misses.append(case)
        else:
            result.right[case.klass] += 1
            result.flagged[case.klass] += flagged
            if flagged:
                result.false_alarms.append(case)
    return result

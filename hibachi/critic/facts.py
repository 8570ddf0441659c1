"""The knowledge base as the critic reads it: every alias mapped to one fact, each fact with its true values.

Nothing here names a dish or a price: all of it comes from the ``KnowledgeBase``, so another
business's file changes what the critic accepts without code changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hibachi.critic.numbers import fmt_money
from hibachi.knowledge import KnowledgeBase

# Aliases that are really units ("per person", "a head"): they say how a price is counted, not what it is for.
_UNIT_PREFIXES = ("per ", "a ", "an ")

# Generic words for the people a price is counted over, besides the knowledge base's adult/child aliases.
GUEST_WORDS = ("guests", "guest", "people", "persons", "person", "folks", "ppl", "of us", "diners", "heads")


@dataclass
class Fact:
    key: str
    kind: str  # adult, child, protein, upgrade, included, add_on, not_offered, deposit, minimum, gratuity, ...
    name: str
    price: float | None = None
    per_person: bool = False
    extra_allowed: set[float] = field(default_factory=set)

    def price_text(self) -> str:
        if self.price is None:
            return self.name
        unit = " per person" if self.per_person else (" per order" if self.kind == "add_on" else "")
        sign = "+" if self.kind == "upgrade" else ""
        return f"{self.name}: {sign}{fmt_money(self.price)}{unit}"


class FactIndex:
    """Aliases -> facts, plus the figures each rule compares against."""

    def __init__(self, kb: KnowledgeBase):
        self.kb = kb
        self.facts: dict[str, Fact] = {}
        self.terms: dict[str, str] = {}
        p, b = kb.pricing, kb.booking
        self._add(Fact("adult", "adult", "adults", p.adult.price, True), ["adult", *p.adult.aliases])
        self._add(Fact("child", "child", f"children {p.child.max_age} and under", p.child.price, True),
                  ["child", *p.child.aliases])
        for item in kb.not_offered:
            self._add(Fact(f"not:{item.name}", "not_offered", item.name), item.terms)
        for group, kind in ((kb.upgrades, "upgrade"), (kb.add_ons, "add_on")):
            for priced in group:
                self._add(Fact(f"{kind}:{priced.name}", kind, priced.name, priced.price,
                               priced.unit == "per person"), priced.terms)
        for protein in kb.proteins:
            self._add(Fact(f"protein:{protein.name}", "protein", protein.name), protein.terms)
        for inc in kb.included:
            self._add(Fact(f"included:{inc.name}", "included", inc.name), inc.terms)
        self._add(Fact("deposit", "deposit", "deposit", b.deposit), ["deposit", *b.deposit_aliases])
        self._add(Fact("minimum", "minimum", "party minimum", p.party_minimum.amount),
                  ["party minimum", *p.party_minimum.aliases])
        self._add(Fact("gratuity", "gratuity", "gratuity"), ["gratuity", *p.gratuity.aliases])
        self._add(Fact("travel", "travel", "travel fee", kb.travel.fee_per_mile), ["travel fee", *kb.travel.aliases])
        self._add(Fact("rain", "rain", "rain policy"), b.rain_policy.aliases)
        self._add(Fact("refund", "refund", "refund window"), b.refund_aliases)
        self._add(Fact("lead", "lead", "booking lead time"), b.lead_time_aliases)
        self._add(Fact("start", "start", "start time"), b.start_time_aliases)
        self._add(Fact("indoor", "indoor", "indoor cooking"), kb.setup.indoor_aliases)
        self._add(Fact("gluten", "gluten", "gluten-free"), ["gluten-free", *kb.dietary.gluten_free.aliases])
        self._add(Fact("allergy", "allergy", "allergies"), kb.dietary.shellfish_allergy.aliases)
        self._per_unit_allowed()
        self.adult_words = {t for t in self._terms_of("adult") if " " not in t}
        self.child_words = {t for t in self._terms_of("child") if " " not in t}
        self.customer_items = [x.lower() for x in kb.setup.customer_provides]
        self.offered_words = {t for item in kb.offered_items for t in item.terms} | {
            x.lower() for x in kb.setup.chef_brings}

    def _add(self, fact: Fact, terms: list[str]) -> None:
        self.facts[fact.key] = fact
        for term in terms:
            term = term.strip().lower()
            if term and not term.startswith(_UNIT_PREFIXES):
                self.terms.setdefault(term, fact.key)

    def _terms_of(self, key: str) -> list[str]:
        return [t for t, k in self.terms.items() if k == key]

    def _per_unit_allowed(self) -> None:
        """An upgrade may be quoted with the base price folded in ("lobster dinners are $70 a person")."""
        bases = [self.facts["adult"].price, self.facts["child"].price]
        for fact in self.facts.values():
            if fact.price is None:
                continue
            allowed = {fact.price}
            if fact.per_person and fact.kind not in ("adult", "child"):
                allowed |= {base + fact.price for base in bases}
            fact.extra_allowed = allowed

    @property
    def base_prices(self) -> set[float]:
        return {self.facts["adult"].price, self.facts["child"].price}

"""Money claims: arithmetic the response does, prices tied to the item they are quoted for, totals, travel fees."""

from __future__ import annotations

import re
from collections.abc import Iterator

from hibachi.critic.claims import Clause, clause_at, negated_before
from hibachi.critic.context import CountReader, Counts, Reading
from hibachi.critic.facts import Fact, FactIndex
from hibachi.critic.numbers import NUM, fmt_money, fmt_num, money_value
from hibachi.critic.verdict import Violation

_OP = r"\s*(?:x|×|\*|times)\s*"
_EQ = (r"\s*(?:each|per \w+|/\w+|a head)?\s*(?:=|is|are|comes to|come to|equals|makes|gives|totals?|for a total of|"
       r":|->|→)\s*")
_ARITH = re.compile(
    rf"(?<![\d.$])(?P<n>\d{{1,4}})\s*(?P<noun>[a-z][a-z-]*(?: [a-z-]+)?)?{_OP}(?P<p>\$\s*{NUM}|{NUM})(?:\s*dollars)?"
    rf"{_EQ}(?P<t>\$\s*{NUM})"
    rf"|(?P<p2>\$\s*{NUM}){_OP}(?P<n2>\d{{1,4}})\s*(?P<noun2>[a-z][a-z-]*)?{_EQ}(?P<t2>\$\s*{NUM})"
    rf"|(?<![\d.$])(?P<n3>\d{{1,4}})\s+(?P<noun3>[a-z][a-z-]*(?: [a-z-]+)?)\s+at\s+(?P<p3>\$\s*{NUM})\s*"
    rf"(?:each|per \w+|a head|apiece)?\s*(?:=|is|comes to|equals|makes|would be|will be|:|,)\s*(?P<t3>\$\s*{NUM})")
_PER_MILE = re.compile(r"^\s*(?:per|a|/|each|for each|for every|every)\s*(?:additional\s+|extra\s+)?(?:mile|mi)\b")
_PER_PERSON = re.compile(r"^\s*(?:per|a|/|each|for each|for every|every)\s*(?:person|guest|head|adult|plate|people)\b")
_CONNECTIVE = re.compile(r"^(?:\s|\+|/|\b(?:per|a|an|for|each|more|extra|to|add|adding|upgrade|upgrading|the|of|"
                         r"additional|person|guest|head|order|plate|on|get|an upgrade to)\b)*$")
_TOTAL = re.compile(r"\b(?:total|totals|altogether|in all|comes? to|would be|will be|would cost|will cost|"
                    r"estimate|grand|subtotal|that's|that is|overall|bill)\b|=")
_EXTRA = re.compile(r"\b(?:extra|more|additional|upgrade|add|plus|on top)\b|\+")
_TIP = re.compile(r"\b(?:tip|tips|gratuity|tipping)\b")
_MONEY_WORDS = re.compile(r"\$|\bdollars?\b|\bbucks\b|\bprices?\b|\bcosts?\b")
_BARE_PRICE = re.compile(
    r"\s*(?:tails?|upgrades?|mignon)?\s*(?:is|are|costs?|runs?|:|at|for|-)\s+(?:an?\s+)?(?:extra\s+|additional\s+)?"
    r"\+?(?P<n>\d+(?:\.\d+)?)\b(?![\d.$]|\s*(?:%|miles?|mi\b|hours?|days?|weeks?|guests?|people|persons?|adults?|kids?|"
    r"child|children|pieces?|pcs|proteins?|years?|oz|ounces?|and under|or under|am\b|pm\b|dollars|bucks|:\d|x\b|\*|"
    r":\s*\d))")
_FLAT = re.compile(r"\b(?:flat|fixed|standard|set|one-time|base)\b")
_PER_ORDER = re.compile(r"^\s*(?:per|a|/|each)\s*(?:order|serving|plate of|platter)\b")
_NUMBER = re.compile(r"(?<![\d.$])(\d{1,4})(?![\d.])")
_TOL = 0.005


_TERM = re.compile(rf"(?<![\d.$])(\d{{1,4}})\s+[a-z][a-z-]*(?: [a-z-]+)?\s+at\s+\$\s*({NUM})")


def _sum_of_terms(text: str, match: re.Match[str]) -> float:
    """'8 adults at $60 and 4 kids at $30 comes to $600': the sum of every 'N things at $P' before the total."""
    start = max(text.rfind(mark, 0, match.start()) for mark in (". ", "! ", "? ", "\n")) + 1
    end = match.start("t3") if match.group("t3") else match.end()
    return sum(int(n) * float(p.replace(",", "")) for n, p in _TERM.findall(text[start:end]))


def _close(value: float, allowed) -> bool:
    return any(abs(value - a) < _TOL + 1e-9 * abs(a) for a in allowed)


def _dollars(token: str) -> float:
    return float(token.replace("$", "").strip())


class MoneyRules:
    def __init__(self, index: FactIndex, counts: CountReader):
        self.ix, self.counts = index, counts
        self.minimum = index.kb.pricing.party_minimum.amount
        self.fee, self.radius = index.kb.travel.fee_per_mile, index.kb.travel.free_radius_miles
        self.trips = 1 if index.kb.travel.one_way else 2

    def check(self, r: Reading) -> Iterator[Violation]:
        yield from self._arithmetic(r)
        yield from self._bare_prices(r)
        for money in r.money:
            if money.start() in r.consumed or negated_before(r.lower, money.start(), 8):
                continue
            clause = clause_at(r.clauses, money.start())
            if clause is not None:
                yield from self._amount(r, clause, money)

    # --- "lobster is 10 dollars extra, filet is 8": a bare number priced by the sentence around it ---
    def _bare_prices(self, r: Reading) -> Iterator[Violation]:
        for clause in r.clauses:
            money_words = _MONEY_WORDS.search(r.lower, clause.start, clause.end + 1) is not None
            for mention in clause.mentions:
                fact = self.ix.facts[mention.key]
                priced_here = fact.kind in ("deposit", "minimum") or (
                    money_words and fact.kind in ("upgrade", "add_on"))
                if not priced_here or fact.price is None:
                    continue
                bare = _BARE_PRICE.match(r.lower, mention.end, clause.end)
                if bare and not _close(float(bare.group("n")), fact.extra_allowed):
                    yield Violation(category="price", claim=r.claim(clause),
                                    fact=f"{fact.price_text()}, not {fmt_money(float(bare.group('n')))}")

    # --- "10 adults x $60 = $600" ---
    def _arithmetic(self, r: Reading) -> Iterator[Violation]:
        for m in _ARITH.finditer(r.lower):
            n = int(m.group("n") or m.group("n2") or m.group("n3"))
            price = _dollars(m.group("p") or m.group("p2") or m.group("p3"))
            total = _dollars(m.group("t") or m.group("t2") or m.group("t3"))
            noun = (m.group("noun") or m.group("noun2") or m.group("noun3") or "").strip()
            r.consumed.update(x.start() for x in r.money if m.start() <= x.start() < m.end())
            claim = r.quote(m.start(), m.end())
            terms = _sum_of_terms(r.lower, m)
            if not _close(n * price, [total]) and not _close(terms, [total]):
                computed = f"{n} x {fmt_money(price)} = {fmt_money(n * price)}" if _close(terms, [n * price, 0]) \
                    else f"the items priced add up to {fmt_money(terms)}"
                yield Violation(category="arithmetic", claim=claim, fact=f"{computed}, not {fmt_money(total)}")
            fact = self._fact_for_noun(noun) or self._fact_near(r, m.start(), m.end(), price)
            if fact is not None and not _close(price, fact.extra_allowed) and not (
                    fact.kind in ("adult", "child") and _close(price, self.ix.base_prices)):
                yield Violation(category="price", claim=claim, fact=f"{fact.price_text()}, not {fmt_money(price)}")
            if "mile" in noun and not _close(price, [self.fee]):
                yield Violation(category="travel", claim=claim,
                                fact=f"travel fee: {fmt_money(self.fee)} per mile, not {fmt_money(price)}")
            if ("mile" in noun or (fact is not None and fact.kind == "travel")) and _close(price, [self.fee]):
                yield from self._travel_amount(r, total, claim)
            if fact is not None and fact.kind in ("adult", "child") and _close(price, self.ix.base_prices):
                party = r.response_counts if r.response_counts.any else r.prompt_counts
                yield from self._below_minimum(r, party, claim)

    def _fact_near(self, r: Reading, start: int, end: int, price: float) -> Fact | None:
        """The priced item an unlabelled product ('12 x $10') is about: the clause's, else the one asked about."""
        if _close(price, self.ix.base_prices):  # "8 x $60" next to "filet": the base price, not filet's
            return self.ix.facts["adult" if _close(price, [self.ix.facts["adult"].price]) else "child"]
        clause = clause_at(r.clauses, start)
        priced = [m for m in (clause.mentions if clause else []) if self.ix.facts[m.key].price is not None
                  and self.ix.facts[m.key].kind in ("upgrade", "add_on", "travel")]
        if priced:
            return self.ix.facts[min(priced, key=lambda m: min(abs(m.start - end), abs(m.end - start))).key]
        asked = [k for k in r.prompt_keys if self.ix.facts[k].kind in ("upgrade", "add_on")]
        return self.ix.facts[asked[0]] if len(asked) == 1 else None

    def _fact_for_noun(self, noun: str) -> Fact | None:
        head = noun.split(" ")[0] if noun else ""
        if head in self.ix.adult_words:
            return self.ix.facts["adult"]
        if head in self.ix.child_words:
            return self.ix.facts["child"]
        return None

    def _below_minimum(self, r: Reading, counts: Counts, claim: str) -> Iterator[Violation]:
        food = self._food(counts)
        if food and food < self.minimum and not self._mentions_minimum(r) and not self._quotes_full_total(r, counts):
            yield Violation(category="minimum", severity="medium", claim=claim,
                            fact=f"party minimum {fmt_money(self.minimum)}: {counts.describe()} "
                                 f"({fmt_money(food)}) pay the {fmt_money(self.minimum)} minimum")

    def _quotes_full_total(self, r: Reading, counts: Counts) -> bool:
        """The minimum applies to the food total, upgrades and add-ons included: an answer that quotes a true
        total at or above the minimum (kids, lobster and all) has applied it right."""
        totals = set()
        for party in (counts, r.response_counts, r.prompt_counts):
            if party.any:
                totals |= self._totals_for(r, party)
        return any(money_value(x) >= self.minimum and _close(money_value(x), totals) for x in r.money)

    def _mentions_minimum(self, r: Reading) -> bool:
        return "minimum" in r.keys or any(_close(money_value(x), [self.minimum]) for x in r.money)

    def _food(self, counts: Counts) -> float:
        adult, child = self.ix.facts["adult"].price, self.ix.facts["child"].price
        if counts.adults or counts.children:
            return counts.adults * adult + counts.children * child
        return counts.guests * adult

    # --- a money amount and the item it is quoted for ---
    def _amount(self, r: Reading, clause: Clause, money: re.Match[str]) -> Iterator[Violation]:
        value = money_value(money)
        after = r.lower[money.end():money.end() + 24]
        claim = r.claim(clause)
        if _PER_MILE.match(after):
            if not _close(value, [self.fee]):
                yield Violation(category="travel", claim=claim,
                                fact=f"travel fee: {fmt_money(self.fee)} per mile, not {fmt_money(value)}")
            return
        if not clause.negated and self._quoted_for_not_offered(r, clause, money):
            return  # the not-offered rule already names this claim; a price for it has no true value
        fact = self._fact_for(r, clause, money)
        if fact is not None and fact.kind == "travel":
            yield from self._travel_amount(r, value, claim)
            return
        if fact is not None and _close(value, self._allowed(fact, clause)):
            wrong_unit = _PER_ORDER.match(after) if fact.per_person else _PER_PERSON.match(after)
            if fact.kind == "add_on" and _close(value, [fact.price]) and wrong_unit:
                yield Violation(category="price", severity="medium", claim=claim,
                                fact=f"{fact.price_text()}, not {'per order' if fact.per_person else 'per person'}")
            return
        counts = r.counts_for(clause, self.counts)
        unit_price = _PER_PERSON.match(after) or after.lstrip().startswith(("each", "apiece"))
        party_figure = fact is None or fact.kind in ("adult", "child", "minimum") or clause.has(_TOTAL)
        if counts.any and not (unit_price and fact is not None) and party_figure:
            yield from self._total(r, clause, value, counts, claim)
            return
        if counts.any and fact is not None and fact.kind in ("upgrade", "add_on") and not unit_price and _close(
                value, {t for party in (counts, r.response_counts, r.prompt_counts) if party.any
                        for t in self._totals_for(r, party)}):
            return  # "... plus filet 9 x $5 = $45, so $585": the party's total, not filet's price
        if fact is None:
            if _PER_PERSON.match(after) and not money.group("plus") and not _close(value, self._per_person_any(clause)):
                yield Violation(category="price", claim=claim,
                                fact=f"{self.ix.facts['adult'].price_text()}; {self.ix.facts['child'].price_text()}")
            return
        yield Violation(category="price", claim=claim, fact=f"{fact.price_text()}, not {fmt_money(value)}")

    def _quoted_for_not_offered(self, r: Reading, clause: Clause, money: re.Match[str]) -> bool:
        following = [m for m in clause.mentions if m.start >= money.end()]
        if following and _CONNECTIVE.match(r.lower[money.end():following[0].start]):
            return self.ix.facts[following[0].key].kind == "not_offered"
        before = [m for m in clause.mentions if m.end <= money.start()]
        if not clause.mentions:  # "We offer wagyu! It's $80 per person."
            index = r.clauses.index(clause)
            before = r.clauses[index - 1].mentions if index > 0 and not r.clauses[index - 1].negated else []
        return bool(before) and self.ix.facts[before[-1].key].kind == "not_offered"

    def _per_person_any(self, clause: Clause) -> set[float]:
        """Any per-person price: a base price, or an upgrade when the clause says it is extra."""
        allowed = set(self.ix.base_prices)
        if clause.has(_EXTRA):
            for fact in self.ix.facts.values():
                if fact.per_person:
                    allowed |= fact.extra_allowed
        return allowed

    def _allowed(self, fact: Fact, clause: Clause) -> set[float]:
        """The item's price, a multiple the clause names ('2 orders for $20'), or a base price plus an upgrade the
        clause names ('adults with lobster are $70')."""
        if fact.kind not in ("adult", "child"):
            return fact.extra_allowed | {int(n) * fact.price for n in _NUMBER.findall(clause.text)}
        return fact.extra_allowed | {fact.price + self.ix.facts[m.key].price for m in clause.mentions
                        if self.ix.facts[m.key].kind in ("upgrade", "add_on") and self.ix.facts[m.key].per_person}

    def _fact_for(self, r: Reading, clause: Clause, money: re.Match[str]) -> Fact | None:
        """The priced item an amount is quoted for: right after it ('$15 more for lobster'), else the nearest before."""
        priced = [m for m in clause.mentions if self.ix.facts[m.key].price is not None]
        following = [m for m in priced if m.start >= money.end()]
        if following and _CONNECTIVE.match(r.lower[money.end():following[0].start]):
            return self.ix.facts[following[0].key]
        before = [m for m in priced if m.end <= money.start()]
        if before:
            return self.ix.facts[before[-1].key]
        if not clause.mentions:
            index = r.clauses.index(clause)
            if index > 0:
                previous = [m for m in r.clauses[index - 1].mentions if self.ix.facts[m.key].price is not None]
                if previous and len({m.key for m in previous}) == 1:
                    return self.ix.facts[previous[-1].key]
            asked = [k for k in r.prompt_keys if self.ix.facts[k].price is not None and self.ix.facts[k].kind in (
                "upgrade", "add_on", "deposit")]
            if len(asked) == 1 and not r.keys & {k for k in self.ix.facts if self.ix.facts[k].price is not None}:
                return self.ix.facts[asked[0]]
        return None

    def _total(self, r: Reading, clause: Clause, value: float, counts: Counts, claim: str) -> Iterator[Violation]:
        food = self._food(counts)
        allowed: set[float] = set()
        for party in (counts, r.response_counts, r.prompt_counts):
            if party.any:
                allowed |= self._totals_for(r, party)
        if clause.has(_TIP):
            allowed |= {a * (1 + self.ix.kb.pricing.gratuity.suggested_percent / 100) for a in list(allowed)}
        allowed |= {f.price for f in self.ix.facts.values() if f.price is not None}
        if not _close(value, allowed):
            named = [f for k, f in self.ix.facts.items() if f.kind in ("upgrade", "add_on") and k in r.keys]
            with_extras = "".join(
                f", {fmt_money(food + f.price * (counts.people if f.per_person else 1))} with {f.name}" for f in named)
            yield Violation(category="arithmetic", claim=claim,
                            fact=f"{counts.describe()}: {fmt_money(max(food, self.minimum))} food total"
                                 + (f" ({fmt_money(food)} raised to the party minimum)" if food < self.minimum else "")
                                 + f"{with_extras}, not {fmt_money(value)}")
        elif food < self.minimum and _close(value, [food]) and not self._mentions_minimum(r):
            yield from self._below_minimum(r, counts, claim)

    def _totals_for(self, r: Reading, counts: Counts) -> set[float]:
        """What a party of this size may truly be quoted: food, the minimum, and upgrades or add-ons named."""
        food = self._food(counts)
        extras = [f.price * (counts.people if f.per_person else 1) for k, f in self.ix.facts.items()
                  if f.kind in ("upgrade", "add_on") and k in r.keys | r.prompt_keys]
        subtotals = {counts.adults * self.ix.facts["adult"].price, counts.children * self.ix.facts["child"].price}
        # line items the answer itself priced ("lobster for 5: 5 x $10 = $50"), when each is right
        items = sum(n * p for n, p in self._line_items(r))
        lined = {food + items, max(food + items, self.minimum)} if items else set()
        return {food, max(food, self.minimum), *extras, *(food + e for e in extras),
                *(max(food + e, self.minimum) for e in extras), *(s for s in subtotals if s), *lined}

    def _line_items(self, r: Reading) -> list[tuple[int, float]]:
        """'N x $P = $T' products in the answer whose unit price is an upgrade's or add-on's and whose
        arithmetic holds: the extras the answer adds to the food."""
        prices = {f.price for f in self.ix.facts.values() if f.kind in ("upgrade", "add_on") and f.price}
        items = []
        for m in _ARITH.finditer(r.lower):
            n = int(m.group("n") or m.group("n2") or m.group("n3"))
            price = _dollars(m.group("p") or m.group("p2") or m.group("p3"))
            total = _dollars(m.group("t") or m.group("t2") or m.group("t3"))
            if _close(price, prices) and _close(n * price, [total]):
                items.append((n, price))
        return items

    def _travel_amount(self, r: Reading, value: float, claim: str) -> Iterator[Violation]:
        if _close(value, [self.fee]):
            return
        if r.prompt_miles is None:
            if _FLAT.search(claim.lower()):
                yield Violation(category="travel", claim=claim,
                                fact=f"travel: free within {fmt_num(self.radius)} miles, then {fmt_money(self.fee)} "
                                     f"per mile, not a flat {fmt_money(value)}")
            return
        due = max(0.0, r.prompt_miles - self.radius) * self.fee * self.trips
        if not _close(value, [due]):
            yield Violation(category="travel", claim=claim,
                            fact=f"travel fee at {fmt_num(r.prompt_miles)} miles: {fmt_money(due)} "
                                 f"({fmt_money(self.fee)} per mile beyond {fmt_num(self.radius)} miles), "
                                 f"not {fmt_money(value)}")

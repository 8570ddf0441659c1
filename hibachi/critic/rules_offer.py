"""What is offered and promised: items not offered, rentals, indoor cooking, invented inclusions, dietary guarantees."""

from __future__ import annotations

import re
from collections.abc import Iterator

from hibachi.critic.claims import Clause, mention_negated, negated_before
from hibachi.critic.context import Reading
from hibachi.critic.facts import FactIndex
from hibachi.critic.numbers import MONEY, money_value
from hibachi.critic.trie import trie_pattern
from hibachi.critic.verdict import Violation

# Things a caterer's answer might claim come with the meal. Generic catering vocabulary, not this tenant's
# menu: any of these that the knowledge base does list (as included, an upgrade, an add-on) is judged by
# the knowledge base instead.
EXTRAS_LEXICON = (
    "dessert", "desserts", "ice cream", "green tea ice cream", "cake", "cheesecake", "mochi", "cookies", "fruit",
    "fruit platter", "miso soup", "soup", "drinks", "drink", "beverages", "beverage", "soda", "sodas", "soft drinks",
    "juice", "lemonade", "tea", "green tea", "coffee", "bottled water", "appetizer", "appetizers", "bread",
    "dinner rolls", "egg rolls", "spring rolls", "tempura", "ramen", "udon", "kimchi", "seaweed salad", "plates",
    "utensils", "napkins", "cups", "chopsticks", "tablecloths", "linens", "decorations", "tent", "tents", "dj", "music",
    "photographer", "waitstaff", "servers", "a server", "cleanup service", "party favors", "champagne", "sake",
    # proteins a hibachi menu might plausibly be said to have
    "duck", "pork", "pork belly", "lamb", "lamb chops", "ribs", "short ribs", "veal", "turkey", "bacon", "crab",
    "king crab", "oysters", "mussels", "octopus", "eel", "tuna", "ahi tuna", "cod", "halibut", "mahi mahi", "bison",
    "venison", "quail", "brisket", "ribeye", "prime rib",
)
# "Included with the meal": said of the meal, the price or the package, or as free / at no cost.
_NO_CHARGE = re.compile(r"\b(?:don't|do not|won't|will not|never|doesn't|does not)\s+(?:\w+\s+)?(?:charge|cost)\s+"
                        r"(?:\w+\s+)?(?:extra|more|anything|a thing)\b|\bno (?:upcharge|surcharge)\b")
_YES = re.compile(r"\s*(?:yes|yep|yeah|sure|absolutely|of course|definitely|certainly|no problem|we can|we do|"
                  r"we sure|happy to|you bet)\b")
_INCLUDE_QUESTION = re.compile(r"\b(?:include|includes|included|come with|comes with|free|complimentary)\b")
_KINDS_OF_DISH = frozenset({"appetizer", "appetizers", "starters", "sides"})
_INCLUSION = re.compile(
    r"\b(?:included|comes with|come with|complimentary|on the house|on us|throw in|throws in|comes? standard|"
    r"standard with|part of (?:the|every|each|your) (?:package|meal|dinner|price)|"
    r"at no (?:extra |additional )?(?:cost|charge)|no (?:extra|additional) (?:cost|charge)|for free|free of charge|"
    r"(?:meal|meals|dinner|dinners|price|prices|package|packages|every guest|each guest|everyone|it|that|this|rate)"
    r"\s+(?:\w+\s+){0,2}?(?:also\s+)?(?:includes?|including)|including)\b"
    r"|(?<![\w-])(?<!feel )(?<!gluten )(?<!dairy )(?<!sugar )(?<!nut )free\b"
    r"(?!\s+(?:within|for the first|up to|radius|zone|to)\b)")
# "We offer it": the business says it serves, brings or has the thing.
_OFFERS = re.compile(
    r"\b(?:we|chef|chefs|our chefs?|he|she|they)\s+(?:\w+\s+)?(?:offer|offers|serve|serves|have|has|provide|provides|"
    r"bring|brings|make|makes|supply|supplies|prepare|prepares|arrange|arranges|add|adds)\b|\bavailable\b|"
    r"\bon (?:our|the) menu\b|\bour \w+(?: \w+)? (?:include|includes|are|is)\b|\byou can (?:add|get|order|have)\b")
_OFFER = re.compile(r"\b(?:offer|offers|serve|serves|have|has|provide|provides|available|bring|brings|make|makes|"
                    r"do|does|can|arrange|supply|supplies|add|rent|rental|rentals|include|includes|included|"
                    r"yes|sure|absolutely|of course|upgrade|option|menu)\b|\$|'s\b|\bis\b|\bare\b")
_COOKING = re.compile(r"\b(?:cook\w*|grill\w*|set\s?up|setting up|chef|hibachi|fire|flame|teppanyaki|stove|show)\b")
_RENT = re.compile(r"\brent(?:s|al|als|ing)?\b")
_CROSS = re.compile(r"cross[- ]?(?:contact|contamination|contaminat\w*)|\btraces?\b|shared grill|same grill|"
                    r"share(?:s|d)? (?:a|the) grill|comes? into contact|contamination")
_GUARANTEE = re.compile(r"\b(?:guarantee[ds]?|promise[ds]?|assure[ds]?|ensure[ds]?|certif\w+)\b")
_NO_RISK = re.compile(
    r"\b(?:no|zero|0|without(?: any)?|free (?:of|from))\s+%?\s*(?:risk|chance|possibility|danger)?\s*(?:of\s+)?"
    r"(?:any\s+)?"
    r"(?:cross[- ]?(?:contact|contamination)|contamination|gluten|shellfish|allergens?)\b"
    r"|\b(?:no|zero|0|without(?: any)?)\s+%?\s*(?:risk|chance|danger)\b(?!\s+(?:of|to|for)\s+(?:delay|rain|weather))"
    r"|\b(?:completely|totally|100%|perfectly|entirely|fully|absolutely)\s+(?:safe|allergen[- ]free|gluten[- ]free|"
    r"shellfish[- ]free|free of)"
    r"|cross[- ]?(?:contact|contamination)\s+(?:is not|isn't|is impossible|won't|will not|cannot|can't|can not|never|"
    r"is never)\b(?!\s+(?:be\s+)?(?:ruled out|excluded|avoided|eliminated|prevented|guaranteed|fully|completely|"
    r"entirely|100%))"
    r"|\b(?:separate|dedicated|its own|their own|own)\s+(?:grill|cooking surface|griddle|flat[- ]?top)\b"
    r"|\bsafe for (?:celiac|coeliac|anyone with|people with|guests with|allerg)")
_DISMISS = re.compile(r"\bnothing to worry about\b|\bno need to worry\b|\bno worries\b|\bnot to worry\b|"
                      r"\bdon't (?:you )?worry\b|\bwon't be a problem\b|\bnot a problem at all\b")
_GF_UNAVAILABLE = re.compile(
    r"(?:\bnot|n't|\bno|\bnever|\bunable to|\bcannot)\s+(?:\w+\s+){0,3}?(?:offer|do|accommodate|provide|make|have|"
    r"cater|handle|serve|prepare)\s+(?:\w+\s+){0,2}?gluten"
    r"|gluten[- ]free\s+(?:\w+\s+){0,2}?(?:is|are)\s+(?:not|never)\s+"
    r"(?:available|possible|an option|offered)|gluten[- ]free (?:isn't|aren't) (?:available|possible|an option|offered)"
    r"|\bno gluten[- ]free\b")


def _priced_in(clause: Clause, prices: set[float]) -> bool:
    """Does the clause quote the item's own price (so "included" is about something else)?"""
    return any(any(abs(money_value(m) - p) < 0.005 for p in prices) for m in MONEY.finditer(clause.text))


class OfferRules:
    def __init__(self, index: FactIndex):
        self.ix = index
        kb = index.kb
        known = index.offered_words | set(index.terms) | set(index.customer_items)
        self._extras = [w for w in EXTRAS_LEXICON if w not in known]
        self._extras_pattern = re.compile(r"\b" + trie_pattern(self._extras) + r"\b")
        self._customer_items = re.compile(
            r"\b(?:" + "|".join(re.escape(w) for w in index.customer_items) + r")\b") if index.customer_items else None
        self._rental = next((n.name for n in kb.not_offered if "rent" in n.name.lower()), None)
        self.outdoor_only = kb.setup.outdoor_only
        self.gf, self.allergy = kb.dietary.gluten_free, kb.dietary.shellfish_allergy

    def check(self, r: Reading) -> Iterator[Violation]:
        for clause in r.clauses:
            if clause.customer_side or (clause.question and len(clause.text.split()) <= 4):
                continue
            keys = {m.key for m in clause.mentions}
            claim = r.claim(clause)
            yield from self._not_offered(clause, claim)
            if self._rental and not clause.negated and clause.has(_RENT) and re.search(
                    r"\b(?:we|our|chef|can|available|provide|arrange|offer)\b", clause.text):
                yield Violation(category="not_offered", claim=claim, fact=f"{self._rental}: not offered")
            if self.outdoor_only and "indoor" in keys and not clause.negated and clause.has(_COOKING):
                yield Violation(category="indoor_cooking", claim=claim,
                                fact="indoor cooking: not offered; cooking happens outdoors only")
            yield from self._inclusions(clause, keys, claim)
        yield from self._bare_yes(r)
        yield from self._dietary(r)

    def _bare_yes(self, r: Reading) -> Iterator[Violation]:
        """'Can you bring sake?' - 'Sure, we can!': agreeing to something not offered, without naming it."""
        if any(c.negated for c in r.clauses) or r.keys or not _YES.match(r.lower):
            return
        claim = r.claim(r.clauses[0]) if r.clauses else r.original.strip()
        included_question = _INCLUDE_QUESTION.search(r.prompt_lower) is not None
        if included_question:
            if "gratuity" in r.prompt_keys and not self.ix.kb.pricing.gratuity.included:
                yield Violation(category="gratuity", severity="medium", claim=claim,
                                fact="gratuity: not included")
            for key in r.prompt_keys:
                fact = self.ix.facts[key]
                if fact.kind in ("upgrade", "add_on") and fact.price:
                    yield Violation(category="price", claim=claim, fact=f"{fact.price_text()}, not included")
            for match in self._extras_pattern.finditer(r.prompt_lower):
                yield Violation(category="invented_item", claim=claim,
                                fact=f"{match.group(0)}: not included with the meal")
        asked = [k for k in r.prompt_keys if self.ix.facts[k].kind == "not_offered"
                 or (k == "indoor" and self.outdoor_only)]
        if _YES.match(r.lower):
            for key in asked[:0] if included_question else asked:
                fact = self.ix.facts[key]
                what = "indoor cooking: not offered; cooking happens outdoors only" if key == "indoor" else \
                    f"{fact.name}: not offered"
                yield Violation(category="indoor_cooking" if key == "indoor" else "not_offered", claim=claim, fact=what)

    def _not_offered(self, clause: Clause, claim: str) -> Iterator[Violation]:
        for mention in clause.mentions:
            fact = self.ix.facts[mention.key]
            if fact.kind == "not_offered" and clause.has(_OFFER) and not mention_negated(clause, mention):
                yield Violation(category="not_offered", claim=claim, fact=f"{fact.name}: not offered")

    def _inclusions(self, clause: Clause, keys: set[str], claim: str) -> Iterator[Violation]:
        if clause.has(_NO_CHARGE):
            for key in keys:
                fact = self.ix.facts[key]
                if fact.kind in ("upgrade", "add_on") and fact.price and not _priced_in(clause, fact.extra_allowed):
                    yield Violation(category="price", claim=claim, fact=f"{fact.price_text()}, not free")
        if clause.negated:
            return
        included, offered = clause.has(_INCLUSION), clause.has(_OFFERS)
        if included or offered:
            spans = [(m.start - clause.start, m.end - clause.start) for m in clause.mentions]
            for match in self._extras_pattern.finditer(clause.text):
                if any(s < match.end() and match.start() < e for s, e in spans):
                    continue  # part of a knowledge-base name ("sushi rolls")
                if not included and match.group(0) in _KINDS_OF_DISH:
                    continue  # "our appetizers include gyoza" names a kind of dish, not a new one
                what = "not included with the meal" if included else "not on the menu"
                yield Violation(category="invented_item", claim=claim, fact=f"{match.group(0)}: {what}")
        if not included and not (offered and self._customer_items is not None):
            return
        if included:
            for key in keys:
                fact = self.ix.facts[key]
                if fact.kind in ("upgrade", "add_on") and not _priced_in(clause, fact.extra_allowed):
                    yield Violation(category="price", claim=claim, fact=f"{fact.price_text()}, not included")
        if self._customer_items is not None and re.search(r"\b(?:we|chef|chefs|he|she|they)\b", clause.text) \
                and re.search(r"\b(?:provide|provides|bring|brings|supply|supplies|include|includes|included)\b",
                              clause.text):
            for match in self._customer_items.finditer(clause.text):
                if not any(self.ix.facts[k].kind == "not_offered" for k in keys):
                    yield Violation(category="invented_item", claim=claim,
                                    fact=f"{match.group(0)}: the customer provides them")

    def _dietary(self, r: Reading) -> Iterator[Violation]:
        asked = r.prompt_keys & {"gluten", "allergy"}
        mentions_cross = False
        gf_offered = False
        guaranteed = False
        for clause in r.clauses:
            keys = {m.key for m in clause.mentions} & {"gluten", "allergy"}
            topic = keys or asked
            if not topic and not clause.has(_CROSS):
                continue
            claim = r.claim(clause)
            mentions_cross = mentions_cross or clause.has(_CROSS) or clause.has(_GUARANTEE)
            guarantee = _GUARANTEE.search(clause.text)
            no_guarantee = self.allergy.guarantee is False or self.gf.cross_contact_possible
            if guarantee and not negated_before(clause.text, guarantee.start(), 30) and no_guarantee:
                guaranteed = True
                yield Violation(category="allergy_guarantee", claim=claim, fact=self._safety_fact(topic))
            elif not guarantee and clause.has(_NO_RISK) and no_guarantee and not re.search(
                    r"\b(?:cannot|can't|can not|unable to|no way to)\b", clause.text):
                guaranteed = True
                yield Violation(category="allergy_guarantee", claim=claim, fact=self._safety_fact(topic))
            if "gluten" in keys:
                if clause.has(_GF_UNAVAILABLE) and self.gf.available:
                    yield Violation(category="dietary", severity="medium", claim=claim,
                                    fact=f"gluten-free: available on request ({self.gf.substitute})")
                elif not clause.negated:
                    gf_offered = True
        topic = asked or r.keys & {"gluten", "allergy"}
        if topic and not guaranteed and not mentions_cross and _DISMISS.search(r.lower):
            yield Violation(category="allergy_guarantee", claim=r.original.strip()[:160], fact=self._safety_fact(topic))
            guaranteed = True
        if gf_offered and self.gf.cross_contact_possible and not mentions_cross and not guaranteed:
            yield Violation(category="dietary", severity="low", claim=r.original.strip()[:160],
                            fact="gluten-free: the grill is shared, so cross-contact is possible; say so")

    def _safety_fact(self, topic: set[str]) -> str:
        if "gluten" in topic and "allergy" not in topic:
            return "gluten-free: the grill is shared, so cross-contact is possible"
        return "allergies: cooked first on a cleaned grill, but cross-contact cannot be ruled out (no guarantee)"

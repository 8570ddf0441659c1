"""One response read once: normalized text, clauses, knowledge-base mentions, counts and money found in it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from hibachi.critic.claims import Clause, Mention, TermMatcher, attach, split_clauses
from hibachi.critic.facts import GUEST_WORDS, FactIndex
from hibachi.critic.numbers import MILES, MONEY, normalize, normalize_tracked
from hibachi.critic.trie import trie_pattern


@dataclass
class Counts:
    adults: int = 0
    children: int = 0
    guests: int = 0

    @property
    def any(self) -> bool:
        return bool(self.adults or self.children or self.guests)

    @property
    def people(self) -> int:
        return (self.adults + self.children) or self.guests

    def describe(self) -> str:
        parts = [f"{n} {w}" for n, w in ((self.adults, "adults"), (self.children, "children")) if n]
        return " and ".join(parts) or f"{self.guests} guests"


class CountReader:
    """'10 adults and 4 kids', 'a party of 12': the head counts a text names."""

    def __init__(self, index: FactIndex):
        words = sorted({*index.adult_words, *index.child_words, *GUEST_WORDS}, key=len, reverse=True)
        self._pattern = re.compile(r"(?<![\d.$])(\d{1,4})\s+(?:(?:hungry|total|more|other|additional|paying)\s+)?("
                                   + trie_pattern(words) + r")\b|\bparty of (\d{1,4})\b")
        self._adult, self._child = index.adult_words, index.child_words

    def read(self, lower: str) -> Counts:
        counts = Counts()
        for match in self._pattern.finditer(lower):
            if match.group(3):
                counts.guests = max(counts.guests, int(match.group(3)))
                continue
            n, word = int(match.group(1)), match.group(2)
            if word in self._adult:
                counts.adults = max(counts.adults, n)
            elif word in self._child:
                counts.children = max(counts.children, n)
            else:
                counts.guests = max(counts.guests, n)
        return counts


@dataclass
class Reading:
    """What the rules share about one (prompt, response) pair."""

    original: str  # the response as written
    where: list[int]  # for each position of ``text``, its position in ``original``
    text: str  # the response with spelled-out numbers as digits
    lower: str
    clauses: list[Clause]
    mentions: list[Mention]
    prompt_lower: str
    prompt_keys: set[str]
    prompt_counts: Counts
    response_counts: Counts
    prompt_miles: float | None
    money: list[re.Match[str]]
    consumed: set[int] = field(default_factory=set)  # start offsets of money already judged

    @property
    def keys(self) -> set[str]:
        return {m.key for m in self.mentions}

    def counts_for(self, clause: Clause, reader: CountReader) -> Counts:
        """The head counts this clause works with: its own, else the response's, else the prompt's."""
        own = reader.read(clause.text)
        if own.any:
            return own
        return self.response_counts if self.response_counts.any else self.prompt_counts

    def claim(self, clause: Clause) -> str:
        return self.quote(clause.start, clause.end)

    def quote(self, start: int, end: int) -> str:
        """The response's own words for a span of the normalized text."""
        end_at = self.where[end] if end < len(self.where) - 1 else len(self.original)
        if end < len(self.where) - 1 and end > start and self.where[end] == self.where[end - 1]:
            end_at = self.where[end] + 1  # the span ends inside a rewritten number: keep all of its words
        words = self.original[self.where[start]:end_at]
        return words.strip(" ,;:-\u2013\u2014\n\t")


@dataclass(frozen=True)
class PromptReading:
    """What the rules need from the prompt; the same for every candidate answer to it, so read once."""

    lower: str
    keys: frozenset[str]
    counts: Counts
    miles: float | None


def read_prompt(prompt: str, matcher: TermMatcher, counts: CountReader) -> PromptReading:
    lower = normalize(prompt).lower()
    miles = MILES.search(lower)
    return PromptReading(lower, frozenset(m.key for m in matcher.find(lower)), counts.read(lower),
                         float(miles.group("n")) if miles else None)


def read(prompt: str, response: str, matcher: TermMatcher, counts: CountReader,
         prompt_reading: PromptReading | None = None) -> Reading:
    text, where = normalize_tracked(response)
    lower = text.lower()
    if len(lower) != len(text):  # a few characters lower-case to two; keep positions aligned
        lower = "".join(c.lower() if len(c.lower()) == 1 else c for c in text)
    p = prompt_reading or read_prompt(prompt, matcher, counts)
    clauses = split_clauses(lower)
    mentions = matcher.find(lower)
    attach(clauses, mentions)
    return Reading(response, where, text, lower, clauses, mentions, p.lower, set(p.keys), p.counts,
                   counts.read(lower), p.miles, list(MONEY.finditer(lower)))

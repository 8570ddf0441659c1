"""A response cut into clauses, each knowing whether it is negated, and the knowledge-base terms in it.

A clause is the scope of a negation: "we don't serve wagyu, but lobster is +$10" is two clauses,
the first negated. Clauses end at sentence punctuation and at contrast words (but, however,
although, whereas). A clause is also marked when its subject is the customer ("you provide
tables", "bring your own wine"): then naming a thing is not a claim that the business offers it.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from typing import NamedTuple

from hibachi.critic.trie import trie_pattern

# Phrases that contain a negation word but state something positive; removed before looking for negation.
_NOT_NEGATIONS = re.compile(
    r"\bno\s+(?:problem|worries|worry|doubt|question|matter)\b|\bnot\s+a\s+problem\b|\bnot only\b|"
    r"\bno\s+(?:extra|additional)\s+(?:cost|charge|fee)s?\b|\bno\s+(?:cost|charge)\b|\bat\s+no\b|\bwhy not\b|"
    r"\bnot to worry\b|\b(?:don't|do not|never) (?:worry|fear)\b|\bno need to worry\b")
NEGATION = re.compile(
    r"\b(?:not|no|never|neither|nor|without|cannot|unable|unavailable|sorry|unfortunately|nothing|none|"
    r"except|excluding|instead of|rather than|alternative to|alternatives to|unlike|in place of|n't)\b|n't\b"
    r"|\b(?:isnt|dont|doesnt|cant|wont|arent)\b")
CUSTOMER_SIDE = re.compile(
    r"\byou(?:'ll|\s+will|'d|\s+would)?\s+(?:\w+\s+){0,2}?(?:provide|bring|supply|set up|have|arrange|rent|serve|"
    r"pour|furnish|need)\b|\byour own\b|\bbyo\w*\b|\bcustomers?\s+(?:\w+\s+)?(?:provides?|brings?|supplies|"
    r"supply|sets? up|arranges?)\b|\bprovided by (?:you|the customer|the host)\b|\bplease\s+(?:\w+\s+)?"
    r"(?:have|provide|set up|arrange|bring|prepare)\b|\b(?:the )?hosts?\s+(?:provides?|supplies|brings?)\b|"
    r"\bguests? (?:can|may|are welcome to) (?:\w+\s+)?bring\b|\bwelcome to (?:bring|serve|provide)\b|"
    r"\byour responsibility\b|\bup to you\b")
# The same at the start of a clause: an instruction to the customer ("have the patio clear").
_CUSTOMER_START = re.compile(r"\s*(?:just\s+|simply\s+)?(?:have|set up|arrange|prepare|make sure|get)\b")
_BOUNDARY = re.compile(
    r"[.!?;]+(?=\s|$|[\"')\]])|\n+|\s[-\u2013\u2014]\s|(?:,\s*)?\b(?:but|however|although|though|whereas|"
    r"otherwise|that said)\b|,\s*(?:so|and then|plus)\b|^\s*(?:no|nope|yes|yep|sure|absolutely)\s*[,!.]")


@dataclass
class Clause:
    start: int
    end: int
    text: str
    negated: bool
    customer_side: bool
    question: bool
    mentions: list[Mention] = field(default_factory=list)

    def has(self, pattern: re.Pattern[str]) -> bool:
        return pattern.search(self.text) is not None


class Mention(NamedTuple):
    key: str
    term: str
    start: int
    end: int


def split_clauses(lower: str) -> list[Clause]:
    """Clauses of the lower-cased text, in order, with their negation and customer-side marks."""
    cuts = [0]
    for match in _BOUNDARY.finditer(lower):
        cuts.extend((match.start(), match.end()))
    cuts.append(len(lower))
    # One scan of the whole text for negation cues and customer-side phrases, then each clause looks up its own.
    cleaned = _NOT_NEGATIONS.sub(lambda m: " " * len(m.group(0)), lower)
    negations = [m.start() for m in NEGATION.finditer(cleaned)]
    customer = [(m.start(), m.end()) for m in CUSTOMER_SIDE.finditer(lower)]
    clauses = []
    for start, end in zip(cuts[::2], cuts[1::2], strict=False):
        text = lower[start:end]
        if not text.strip():
            continue
        first = bisect.bisect_left(negations, start)
        negated = first < len(negations) and negations[first] < end
        side = any(start <= a and b <= end for a, b in customer) or _CUSTOMER_START.match(text) is not None
        clauses.append(Clause(start, end, text, negated, side, lower[end:end + 2].startswith("?")))
    return clauses


class TermMatcher:
    """One compiled alternation over every alias in the knowledge base, longest alias first."""

    def __init__(self, terms: dict[str, str]):
        self._key = terms
        self._pattern = re.compile(r"(?<![\w-])" + trie_pattern(terms) + r"(?![\w-])") if terms else None

    def find(self, lower: str) -> list[Mention]:
        if self._pattern is None:
            return []
        return [Mention(self._key[m.group(0)], m.group(0), m.start(), m.end()) for m in self._pattern.finditer(lower)]


def attach(clauses: list[Clause], mentions: list[Mention]) -> None:
    """Give each clause the mentions that start inside it."""
    starts = [c.start for c in clauses]
    for mention in mentions:
        index = bisect.bisect_right(starts, mention.start) - 1
        if index >= 0 and mention.start < clauses[index].end:
            clauses[index].mentions.append(mention)


def clause_at(clauses: list[Clause], position: int) -> Clause | None:
    starts = [c.start for c in clauses]
    index = bisect.bisect_right(starts, position) - 1
    if index >= 0 and position < clauses[index].end:
        return clauses[index]
    return None


_RESET = re.compile(r"\b(?:also|as well|too|plus|in addition|additionally|we do|we can)\b")


def mention_negated(clause: Clause, mention: Mention) -> bool:
    """Negation scoped to one mention: a cue after it ("wagyu isn't offered"), or one before it that no
    "also"/"we do" has reset ("we don't just do chicken, we also offer wagyu" is not negated)."""
    if not clause.negated:
        return False
    at = mention.start - clause.start
    text = _NOT_NEGATIONS.sub(lambda m: " " * len(m.group(0)), clause.text)
    if NEGATION.search(text, at):
        return True
    cues = list(NEGATION.finditer(text, 0, at))
    return bool(cues) and not _RESET.search(text, cues[-1].end(), at)


def negated_before(text: str, position: int, window: int = 25) -> bool:
    """A negation word just before a position ('not $15', "isn't 48 hours")."""
    return NEGATION.search(_NOT_NEGATIONS.sub(" ", text[max(0, position - window):position])) is not None

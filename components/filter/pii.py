"""PII scrubbing that keeps the business facts: prices, dates, times, menu items and places stay.

Emails, card numbers (Luhn-checked), social-security numbers (dashes or spaces) and street addresses are
found by pattern; phone numbers by Google's `phonenumbers` matcher (any format, 10 bare digits included) and
a pattern for the formatted ones; personal names by ``names.NameFinder`` (a first/last-name gazetteer of many
origins, the shape of the sentence and its cues, with or without capitals). Words and phrases of the
knowledge base (menu items, cities, the business and its assistant), places, dates, times and prices are
never taken for names, so "This is Hibachi", "San Jose" or "I'm Sacramento-based" stay intact.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache

from components.filter.names import NameFinder
from hibachi.identifiers import EMAIL  # one pattern: what the scrubber removes is what erasure matches

SSN = re.compile(r"(?<![\d$.,])\b\d{3}([- ])\d{2}\1\d{4}\b(?![.,]?\d)")
CARD = re.compile(r"\b(?:\d[ -]?){12,18}\d\b")
PHONE = re.compile(r"(?<![\w$])(?:\+?1[\s.-]?)?(?:\(\d{3}\)\s?|\d{3}[\s.-])\d{3}[\s.-]\d{4}\b")
STREET_SUFFIX = (r"Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|Place|Pl|"
                 r"Terrace|Circle|Cir|Parkway|Pkwy|Highway|Hwy")
ADDRESS = re.compile(
    rf"\b\d{{1,6}}\s+(?:[A-Z][a-zA-Z]*\s+){{1,3}}(?:{STREET_SUFFIX})\b\.?(?:,?\s+(?:Apt|Unit|Suite)\.?\s*\w+)?"
)
_DIGITS = re.compile(r"\d")


@dataclass
class ScrubResult:
    text: str
    counts: Counter = field(default_factory=Counter)

    @property
    def changed(self) -> bool:
        return sum(self.counts.values()) > 0


def _luhn(digits: str) -> bool:
    total, parity = 0, len(digits) % 2
    for i, ch in enumerate(digits):
        d = int(ch)
        if i % 2 == parity:
            d = d * 2 - 9 if d * 2 > 9 else d * 2
        total += d
    return total % 10 == 0


def _kb_texts(kb_path: str | None) -> tuple[list[str], list[str]]:
    from hibachi.knowledge import load_knowledge_base

    kb = load_knowledge_base(kb_path) if kb_path else load_knowledge_base()
    texts = [p.text for p in kb.passages()] + [kb.business.name, kb.business.assistant_name, kb.business.description]
    terms = [kb.business.name, kb.business.assistant_name, *kb.travel.base_cities]
    for item in [*kb.offered_items, *kb.not_offered]:
        terms.extend(item.terms)
        terms.append(item.name)
    return texts + terms, terms


@lru_cache(maxsize=4)
def keep_words(kb_path: str | None = None) -> frozenset[str]:
    """Lower-case words of the knowledge base (items, cities, names of the business) never scrubbed."""
    texts, _ = _kb_texts(kb_path)
    return frozenset(w.lower() for t in texts for w in re.findall(r"[A-Za-z][A-Za-z'-]+", t))


@lru_cache(maxsize=4)
def keep_phrases(kb_path: str | None = None) -> frozenset[str]:
    """The knowledge base's multi-word terms ("San Jose", "New York strip"): their words are never a name."""
    _, terms = _kb_texts(kb_path)
    return frozenset(t.lower() for t in terms if " " in t.strip())


class Scrubber:
    """``Scrubber().scrub(text)``: the text with each secret replaced by ``[EMAIL]``, ``[PHONE]``, ``[NAME]``..."""

    def __init__(self, keep: frozenset[str] | set[str] | None = None,
                 phrases: frozenset[str] | set[str] | None = None) -> None:
        self.keep = frozenset(keep) if keep is not None else keep_words()
        self.phrases = frozenset(phrases) if phrases is not None else (keep_phrases() if keep is None else frozenset())
        self.names = NameFinder(self.keep, self.phrases)

    def scrub(self, text: str) -> ScrubResult:
        counts: Counter = Counter()

        def replace(pattern: re.Pattern, label: str, value: str, check=None) -> str:
            def sub(match: re.Match) -> str:
                if check is not None and not check(match.group(0)):
                    return match.group(0)
                counts[label] += 1
                return f"[{label}]"

            return pattern.sub(sub, value)

        text = replace(EMAIL, "EMAIL", text)
        text = replace(SSN, "SSN", text)
        text = replace(CARD, "CARD", text, lambda s: _luhn(re.sub(r"\D", "", s)))
        text = _phones(text, counts)
        text = replace(PHONE, "PHONE", text)
        text = replace(ADDRESS, "ADDRESS", text)
        spans = self.names.spans(text)
        for start, end in reversed(spans):
            text = text[:start] + "[NAME]" + text[end:]
        counts["NAME"] += len(spans)
        if not counts["NAME"]:
            del counts["NAME"]
        return ScrubResult(text, counts)


def _phones(text: str, counts: Counter) -> str:
    """Phone numbers in any format the ``phonenumbers`` matcher reads (US by default), 10 bare digits included."""
    if len(_DIGITS.findall(text)) < 7:
        return text
    import phonenumbers

    found = [(m.start, m.end) for m in phonenumbers.PhoneNumberMatcher(text, "US",
                                                                        leniency=phonenumbers.Leniency.POSSIBLE)]
    for start, end in reversed(found):
        if text[max(0, start - 1):start] == "$":
            continue
        text = text[:start] + "[PHONE]" + text[end:]
        counts["PHONE"] += 1
    return text


def scrub_messages(messages: list[dict], scrubber: Scrubber) -> tuple[list[dict], Counter]:
    total: Counter = Counter()
    out = []
    for message in messages:
        result = scrubber.scrub(str(message.get("content") or ""))
        total.update(result.counts)
        out.append({**message, "content": result.text})
    return out, total

"""PII scrubbing that keeps the business facts: prices, dates, times, menu items and places stay.

Emails, phone numbers, card numbers (Luhn-checked), social-security numbers and street addresses
are found by pattern; personal names by their cues ("my name is X", "I'm X", "this is X", a
signature after "Thanks,"). Words of the knowledge base (menu items, cities, the business and its
assistant) are never taken for names, so "This is Hibachi" or "I'm Sacramento-based" stay intact.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache

EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
SSN = re.compile(r"\b\d{3}-\d{2}-\d{4}\b")
CARD = re.compile(r"\b(?:\d[ -]?){12,18}\d\b")
PHONE = re.compile(r"(?<![\w$])(?:\+?1[\s.-]?)?(?:\(\d{3}\)\s?|\d{3}[\s.-])\d{3}[\s.-]\d{4}\b")
STREET_SUFFIX = (r"Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|Place|Pl|"
                 r"Terrace|Circle|Cir|Parkway|Pkwy|Highway|Hwy")
ADDRESS = re.compile(
    rf"\b\d{{1,6}}\s+(?:[A-Z][a-zA-Z]*\s+){{1,3}}(?:{STREET_SUFFIX})\b\.?(?:,?\s+(?:Apt|Unit|Suite)\.?\s*\w+)?"
)
NAME_WORD = r"[A-Z][a-z]+(?:[-'][A-Z][a-z]+)?"
NAME_CUES = re.compile(
    rf"(?P<cue>\b(?:[Mm]y name is|[Mm]y name's|I'm|I am|[Tt]his is|[Ii]t's|[Tt]hanks,|[Tt]hank you,|[Rr]egards,|"
    rf"[Cc]heers,|[Bb]est,|[Ss]incerely,|[Cc]all me)\s+)(?P<name>{NAME_WORD}(?:\s+{NAME_WORD}){{0,2}})"
)
COMMON_WORDS = {
    "a", "an", "the", "hi", "hello", "hey", "thanks", "thank", "yes", "no", "not", "sure", "just", "so", "very",
    "looking", "planning", "hoping", "interested", "wondering", "trying", "going", "here", "there", "from", "in",
    "at", "on", "for", "with", "about", "asking", "calling", "writing", "back", "new", "ready", "happy", "glad",
    "sorry", "also", "still", "great", "good", "fine", "okay", "ok", "we", "our", "my", "your", "it", "this", "that",
    "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "january", "february", "march",
    "april", "may", "june", "july", "august", "september", "october", "november", "december", "christmas",
}


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


@lru_cache(maxsize=4)
def keep_words(kb_path: str | None = None) -> frozenset[str]:
    """Lower-case words of the knowledge base (items, cities, names of the business) never scrubbed."""
    from hibachi.knowledge import load_knowledge_base

    kb = load_knowledge_base(kb_path) if kb_path else load_knowledge_base()
    texts = [p.text for p in kb.passages()] + [kb.business.name, kb.business.assistant_name, kb.business.description]
    for item in [*kb.offered_items, *kb.not_offered]:
        texts.extend(item.terms)
    return frozenset(w.lower() for t in texts for w in re.findall(r"[A-Za-z][A-Za-z'-]+", t))


class Scrubber:
    def __init__(self, keep: frozenset[str] | set[str] | None = None) -> None:
        self.keep = frozenset(keep) if keep is not None else keep_words()

    def _is_name(self, words: list[str]) -> bool:
        return all(w.lower() not in self.keep and w.lower() not in COMMON_WORDS for w in words)

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
        text = replace(PHONE, "PHONE", text)
        text = replace(ADDRESS, "ADDRESS", text)

        def name_sub(match: re.Match) -> str:
            words = match.group("name").split()
            # Keep the leading run of name-like words only: "I'm Maria Lopez Tomorrow" -> 2 words.
            taken = []
            for word in words:
                if not self._is_name([word]):
                    break
                taken.append(word)
            if not taken:
                return match.group(0)
            counts["NAME"] += 1
            rest = match.group("name")[len(" ".join(taken)):]
            return f"{match.group('cue')}[NAME]{rest}"

        text = NAME_CUES.sub(name_sub, text)
        return ScrubResult(text, counts)


def scrub_messages(messages: list[dict], scrubber: Scrubber) -> tuple[list[dict], Counter]:
    total: Counter = Counter()
    out = []
    for message in messages:
        result = scrubber.scrub(str(message.get("content") or ""))
        total.update(result.counts)
        out.append({**message, "content": result.text})
    return out, total

"""Does an answer address the question? Nonsense must count against a model, not pass as compliance.

The critic only finds wrong claims, so an answer that claims nothing breaks no rule. Two cheap checks
over what is stored tell a non-answer from a compliant one, judged in the analysis (never in the
gateway's hot path):

* **similarity to the teacher's answer for the same turn** (shadow comparisons): word-level
  ``difflib`` ratio; on the synthetic traffic two correct answers to one question score 0.43 at their
  5th percentile and answers to different questions 0.18 at their 75th, so ``analysis.min_answer_similarity``
  (0.3) separates them; the gateway stores this same measure with each shadow comparison;
* **no claim where one is required** (any answer, shadow or served): the question names something in the
  knowledge base or asks for a figure, and the answer names nothing from the knowledge base and no number.
"""

from __future__ import annotations

import difflib
import re
from functools import lru_cache
from pathlib import Path

_WORD = re.compile(r"[a-z0-9$]+(?:[.'][a-z0-9]+)*")
_ASKS_FIGURE = re.compile(r"\bhow (?:much|many|long|far|early|late)\b|\bprice|\bcost|\bfee\b|\bfees\b|\$|"
                          r"\bdeposit|\bminimum|\bwhat time\b|\bwhen\b|\brefund")
_DIGIT = re.compile(r"\d")


def answer_words(text: str) -> list[str]:
    return _WORD.findall((text or "").lower())


def answer_similarity(answer: str, reference: str) -> float:
    """Word-level similarity in [0, 1] of two answers (difflib's ratio over their word sequences)."""
    a, b = answer_words(answer), answer_words(reference)
    if not a and not b:
        return 1.0
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()


class AnswerCheck:
    """``addresses(prompt, answer, reference=None)`` over one knowledge base's vocabulary."""

    def __init__(self, terms: dict[str, str], min_similarity: float) -> None:
        from hibachi.critic.claims import TermMatcher

        self.matcher = TermMatcher(terms)
        self.min_similarity = min_similarity

    def claim_required(self, prompt: str) -> bool:
        lower = (prompt or "").lower()
        return bool(self.matcher.find(lower)) or bool(_ASKS_FIGURE.search(lower))

    def makes_claim(self, answer: str) -> bool:
        lower = (answer or "").lower()
        return bool(_DIGIT.search(lower)) or bool(self.matcher.find(lower))

    def addresses(self, prompt: str, answer: str | None, reference: str | None = None,
                  similarity: float | None = None) -> bool:
        """False for an empty answer, one far from the teacher's answer to the same turn, or one that
        claims nothing where the question needs a claim. ``similarity`` (stored) is used when given,
        else it is computed from ``reference``."""
        if not answer or not answer.strip():
            return False
        if similarity is None and reference:
            similarity = answer_similarity(answer, reference)
        if similarity is not None and similarity < self.min_similarity:
            return False
        return self.makes_claim(answer) or not self.claim_required(prompt)


@lru_cache(maxsize=4)
def _terms_for(knowledge_base: str) -> dict[str, str]:
    from hibachi.critic.facts import FactIndex
    from hibachi.knowledge import load_knowledge_base

    return FactIndex(load_knowledge_base(Path(knowledge_base))).terms


def answer_check(settings) -> AnswerCheck:
    """The check for the configured knowledge base and threshold (the vocabulary is built once per file)."""
    return AnswerCheck(_terms_for(str(settings.knowledge_base)), settings.analysis.min_answer_similarity)

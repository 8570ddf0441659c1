"""The rule engine: a deterministic judge whose every rule is built from the knowledge base.

A response is read once (``context.read``: numbers normalized, clauses with negation scopes, aliases
found); then five rule sets judge it: offerings (items not offered, rentals, indoor cooking, invented
inclusions, dietary guarantees), money (prices per item, arithmetic, party totals, travel fees),
policies (deposit, refund window, lead time, start times, rain, travel radius, gratuity, ages,
proteins), smaller extras (days, reschedules, head-count minimums, grill area, base cities) and the menu as a
closed list (dishes not on it, upgrades that replace a protein, proteins sold as upgrades, per-person prices
said to be per party).
"""

from __future__ import annotations

import re
from functools import lru_cache

from hibachi.critic.claims import TermMatcher
from hibachi.critic.context import CountReader, Reading, read, read_prompt
from hibachi.critic.facts import FactIndex
from hibachi.critic.rules_extra import ExtraRules
from hibachi.critic.rules_menu import MenuRules
from hibachi.critic.rules_money import MoneyRules
from hibachi.critic.rules_offer import OfferRules
from hibachi.critic.rules_policy import PolicyRules
from hibachi.critic.verdict import Verdict, Violation
from hibachi.knowledge import KnowledgeBase

_WORD = re.compile(r"[a-z]{4,}")
_STOP = frozenset("what that this with have your does from they them there their about would could should will "
                  "much many when where which make some into also just than then been were want need".split())

# An answer that names nothing the question asked about, and no figure, has likely ignored it. Only slightly
# lower: it stays above the usual 0.9 training gate, since the heuristic can misjudge a terse correct answer.
_OFF_TOPIC_SCORE = 0.95


class Critic:
    """``Critic(kb).evaluate(prompt, response)``: violations naming claim and fact, and a quality score."""

    def __init__(self, kb: KnowledgeBase):
        self.kb = kb
        self.index = FactIndex(kb)
        self._matcher = TermMatcher(self.index.terms)
        self._counts = CountReader(self.index)
        # Several candidate answers are judged against one prompt: read each prompt once.
        self._prompt = lru_cache(maxsize=256)(lambda prompt: read_prompt(prompt, self._matcher, self._counts))
        self._rules = (OfferRules(self.index), MoneyRules(self.index, self._counts), PolicyRules(self.index),
                       ExtraRules(self.index), MenuRules(self.index))

    def violations(self, prompt: str, response: str) -> list[Violation]:
        return self._judge(prompt or "", response or "")[0]

    def evaluate(self, prompt: str, response: str) -> Verdict:
        found, base = self._judge(prompt or "", response or "")
        return Verdict.from_violations(found, base)

    def _judge(self, prompt: str, response: str) -> tuple[list[Violation], float]:
        reading = read(prompt, response, self._matcher, self._counts, self._prompt(prompt))
        found: list[Violation] = []
        for rules in self._rules:
            found.extend(rules.check(reading))
        return found, _base_score(reading, prompt, response)


def _base_score(reading: Reading, prompt: str, response: str) -> float:
    """1.0, or less for an empty answer or one that ignores what was asked."""
    if not response.strip():
        return 0.0
    if not reading.prompt_keys or reading.keys or any(ch.isdigit() for ch in response):
        return 1.0
    return 1.0 if _words(prompt) & _words(response) else _OFF_TOPIC_SCORE


def _words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _STOP}

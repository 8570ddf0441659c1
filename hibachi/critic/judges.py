"""Judges are pluggable: anything with ``evaluate(prompt, response) -> Verdict`` is one.

The rule engine (``hibachi.critic.engine.Critic``) is one judge and stands on its own; an LLM judge can be
added later and merged with it through ``CombinedJudge``.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from hibachi.critic.verdict import Verdict


@runtime_checkable
class Judge(Protocol):
    def evaluate(self, prompt: str, response: str) -> Verdict: ...


class CombinedJudge:
    """Every judge's violations together; the score is the lowest any judge gave (one veto is enough)."""

    def __init__(self, *judges: Judge):
        if not judges:
            raise ValueError("CombinedJudge needs at least one judge")
        self.judges = judges

    def evaluate(self, prompt: str, response: str) -> Verdict:
        verdicts = [judge.evaluate(prompt, response) for judge in self.judges]
        return merge(verdicts)


def merge(verdicts: list[Verdict]) -> Verdict:
    seen: dict[tuple[str, str], object] = {}
    for verdict in verdicts:
        for violation in verdict.violations:
            seen.setdefault(violation.key, violation)
    violations = list(seen.values())
    score = min((v.quality_score for v in verdicts), default=1.0)
    return Verdict(passed=not violations, violations=violations, quality_score=score)

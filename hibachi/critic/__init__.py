"""The critic ("the constitution"): checks a candidate answer against the business's knowledge base.

    from hibachi.critic import Critic, get_critic
    verdict = Critic(kb).evaluate("Do you serve wagyu?", "Yes, wagyu at $80/person")
    verdict.passed, verdict.violations, verdict.quality_score

The rule engine is one ``Judge``; ``CombinedJudge`` merges it with others (an LLM judge, later).
"""

from __future__ import annotations

from functools import lru_cache

from hibachi.critic.engine import Critic
from hibachi.critic.judges import CombinedJudge, Judge, merge
from hibachi.critic.verdict import Verdict, Violation

__all__ = ["CombinedJudge", "Critic", "Judge", "Verdict", "Violation", "get_critic", "merge"]


def get_critic() -> Critic:
    """The critic for the configured knowledge base, built once per file."""
    from hibachi.settings import get_settings

    return _critic_for(str(get_settings().knowledge_base))


@lru_cache(maxsize=4)
def _critic_for(path: str) -> Critic:
    from hibachi.knowledge import load_knowledge_base

    return Critic(load_knowledge_base(path))

"""The critic is one pluggable judge; verdicts merge; the score falls with each violation's severity."""

from __future__ import annotations

import pytest

from hibachi.critic import CombinedJudge, Critic, Judge, Verdict, Violation, get_critic


class StrictTone:
    """A stand-in second judge (an LLM judge, later): fails any answer that shouts."""

    def evaluate(self, prompt: str, response: str) -> Verdict:
        if response.isupper():
            return Verdict.from_violations([Violation(category="tone", claim=response, fact="tone: no shouting")])
        return Verdict(passed=True, violations=[], quality_score=1.0)


def test_the_rule_engine_is_a_judge_and_judges_combine(critic):
    assert isinstance(critic, Judge) and isinstance(StrictTone(), Judge)
    combined = CombinedJudge(critic, StrictTone())
    both = combined.evaluate("wagyu?", "YES, WE HAVE WAGYU")
    assert {v.category for v in both.violations} == {"not_offered", "tone"}
    assert both.quality_score == min(critic.evaluate("wagyu?", "YES, WE HAVE WAGYU").quality_score, 0.5)
    assert combined.evaluate("wagyu?", "We don't serve wagyu.").passed
    with pytest.raises(ValueError):
        CombinedJudge()


def test_quality_score_falls_with_the_number_and_severity_of_violations(critic):
    clean = critic.evaluate("lobster?", "Lobster tail is +$10 per person.")
    one = critic.evaluate("lobster?", "Lobster tail is +$15 per person.")
    two = critic.evaluate("lobster?", "Lobster tail is +$15 per person, and we also serve wagyu.")
    policy = critic.evaluate("tip?", "Gratuity is included.")
    assert clean.quality_score == 1.0 > policy.quality_score > one.quality_score > two.quality_score >= 0.0
    assert critic.evaluate("lobster?", "").quality_score == 0.0


def test_an_answer_that_ignores_the_question_scores_a_little_lower(critic):
    ignored = critic.evaluate("Do you serve wagyu beef?", "Thanks for reaching out, have a great day.")
    assert ignored.passed and ignored.quality_score < 1.0


def test_same_violation_is_reported_once(critic):
    verdict = critic.evaluate("wagyu?", "We have wagyu. Yes, wagyu is available.")
    assert len(verdict.violations) == 1


def test_get_critic_is_cached_for_the_configured_knowledge_base():
    assert get_critic() is get_critic()
    assert isinstance(get_critic(), Critic)

from __future__ import annotations

import pytest

from hibachi.critic import Critic


@pytest.fixture(scope="session")
def critic(kb) -> Critic:
    return Critic(kb)


@pytest.fixture(scope="session")
def judge(critic: Critic):
    return lambda prompt, response, expected: check_verdict(critic, prompt, response, expected)


def check_verdict(critic: Critic, prompt: str, response: str, expected: str | None):
    """Assert the verdict: ``expected`` None means it passes, else a violation of that category is found."""
    verdict = critic.evaluate(prompt, response)
    found = [v.category for v in verdict.violations]
    if expected is None:
        assert verdict.passed, f"{response!r} should pass, got {[(v.category, v.fact) for v in verdict.violations]}"
        assert verdict.quality_score > 0.8
    else:
        assert not verdict.passed and expected in found, f"{response!r} should fail with {expected}, got {found}"
        assert verdict.quality_score < 1.0
    return verdict

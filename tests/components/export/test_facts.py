"""Stale answers: a stored pass that fails under changed facts is stale; never-passed answers are not."""

from __future__ import annotations

from components.export.facts import final_answer, stale_entry, stale_violations
from hibachi.critic.engine import Critic
from hibachi.knowledge import load_knowledge_base
from hibachi.settings import DEFAULT_KNOWLEDGE_BASE


def _critic(tmp_path, adult_price: int) -> Critic:
    path = tmp_path / f"kb-{adult_price}.yaml"
    text = DEFAULT_KNOWLEDGE_BASE.read_text()
    assert "    price: 60\n" in text
    path.write_text(text.replace("    price: 60\n", f"    price: {adult_price}\n", 1))
    return Critic(load_knowledge_base(path))


def _record(answer: str, passed: bool = True, correction: str | None = None) -> dict:
    return {"messages": [{"role": "user", "content": "How much per adult?"}, {"role": "assistant", "content": answer}],
            "metadata": {"signal_id": "sig1", "topic": "pricing", "critic_passed": passed,
                         "created_at": "2026-10-01T00:00:00+00:00",
                         "correction": {"response": correction} if correction else None}}


def test_an_old_price_answer_becomes_stale_when_the_price_changes(tmp_path):
    old = _record("Adults are $60 per person.")
    assert stale_violations(old, _critic(tmp_path, 60)) is None
    violations = stale_violations(old, _critic(tmp_path, 65))
    assert violations and any("65" in v["fact"] for v in violations)
    entry = stale_entry(old, violations, "abc")
    assert entry["signal_id"] == "sig1" and entry["answer"] == "Adults are $60 per person."
    assert entry["knowledge_sha256"] == "abc"


def test_the_correction_is_judged_and_a_never_passed_answer_is_not_stale(tmp_path):
    critic = _critic(tmp_path, 65)
    fixed = _record("Adults are $60 per person.", correction="Adults are $65 per person.")
    assert final_answer(fixed) == "Adults are $65 per person." and stale_violations(fixed, critic) is None
    assert stale_violations(_record("Adults are $10 per person.", passed=False), critic) is None

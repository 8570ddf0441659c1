"""The demo's summary: stage numbers from stored rows, poisoning, and the JSON's schema."""

from __future__ import annotations

import json
from types import SimpleNamespace as NS

import pytest
from pydantic import ValidationError

from devkit.sabotage import poison_rows
from devkit.summary import (
    DemoSummary,
    customers_served_failed,
    read_summary,
    stage_metrics,
    table_rows,
    traffic_fields,
    write_summary,
)
from hibachi.critic import get_critic
from hibachi.monitoring.addressed import answer_check

PROMPT = "How much is the lobster upgrade?"
RIGHT = "The lobster tail upgrade is +$10 per person."
WRONG = [{"category": "wrong_price", "claim": "$25", "fact": "lobster: +$10"}]


def cand(role, response, *, passed=True, chosen=False, violations=None, error=None):
    return NS(role=role, response=response, critic_passed=passed, chosen=chosen, violations=violations or [],
              error=error)


def signal(served_by, candidates, *, cost=0.0, critic_passed=True, prompt=PROMPT, stream_error=None, id="s"):
    return NS(id=id, prompt=prompt, served_by=served_by, candidates=candidates, cost_usd=cost, conversation=[],
              critic_passed=critic_passed, stream_error=stream_error)


def exact(answers, references):  # a stand-in for the MiniLM cosine: 1 when equal, else 0
    return [1.0 if a == b else 0.0 for a, b in zip(answers, references, strict=True)]


def test_teacher_stage_compares_the_served_answer_with_the_other_teachers(settings):
    signals = [signal("teacher", [cand("teacher", RIGHT, chosen=True), cand("teacher", RIGHT)], cost=0.004),
               signal("teacher", [cand("teacher", RIGHT, chosen=True), cand("teacher", "We do not know.")],
                      cost=0.002)]
    m = stage_metrics("teacher", signals, [], check=answer_check(settings), categories=[], similarity=exact,
                      threshold=0.75)
    assert m["accuracy_vs_teacher"] == 0.5 and m["accuracy_pairs"] == 2
    assert m["business_logic"] == 1.0 and m["hallucination_rate"] == 0.0
    assert m["cost_per_chat"] == pytest.approx(0.003)


def test_canary_stage_counts_rejected_and_nonsense_local_answers_against_the_model(settings):
    signals = [
        signal("local", [cand("student", RIGHT, chosen=True)], id="a"),
        signal("fallback", [cand("student", "Lobster is $25.", passed=False, violations=WRONG),
                            cand("teacher", RIGHT, chosen=True)], cost=0.004, id="b"),
        signal("local", [cand("student", "ok ok thanks so much", chosen=True)], id="c"),  # passes, says nothing
        signal("teacher", [cand("teacher", RIGHT, chosen=True)], id="d"),  # the other arm: not the model's
    ]
    m = stage_metrics("canary-10", signals, [], check=answer_check(settings), categories=[], similarity=exact,
                      threshold=0.75, reference=lambda judged: RIGHT)
    assert m["answers_judged"] == 3
    assert m["hallucination_rate"] == pytest.approx(1 / 3)
    assert m["business_logic"] == pytest.approx(1 / 3)  # only the first is compliant and addresses the question
    assert m["non_answer_rate"] == pytest.approx(1 / 3)
    assert m["accuracy_vs_teacher"] == pytest.approx(1 / 3) and m["accuracy_pairs"] == 3


def test_shadow_stage_uses_the_stored_pairs(settings):
    signals = [signal("teacher", [cand("teacher", RIGHT, chosen=True)], id="t1")]
    shadows = [NS(signal_id="t1", local_response=RIGHT, error=None, critic_passed=True, violations=[],
                  teacher_response=RIGHT),
               NS(signal_id="t1", local_response=None, error="HTTP 500", critic_passed=None, violations=[],
                  teacher_response=RIGHT)]
    m = stage_metrics("shadow", signals, shadows, check=answer_check(settings), categories=[], similarity=exact,
                      threshold=0.75)
    assert m["answers_judged"] == 1 and m["accuracy_vs_teacher"] == 1.0


def test_customers_served_failed_counts_served_answers_the_critic_failed_but_not_the_safe_default():
    rows = [NS(served_by="local", stream_error=None, critic_passed=True),
            NS(served_by="fallback", stream_error=None, critic_passed=True),
            NS(served_by="teacher", stream_error=None, critic_passed=False),
            NS(served_by="safe_default", stream_error=None, critic_passed=False)]
    assert customers_served_failed(rows) == 1


def test_poisoned_rows_fail_the_critic_and_the_rest_are_untouched(kb):
    rows = [{"messages": [{"role": "system", "content": "facts"}, {"role": "user", "content": q},
                          {"role": "assistant", "content": "a correct answer"}]}
            for q in ["How much is it per adult?", "Do you offer wagyu?", "What is the lobster upgrade price?",
                      "How much for 20 adults and 5 kids?"] * 10]
    poisoned, count = poison_rows(rows, kb, share=0.5, seed=3)
    assert 10 < count < 30 and len(poisoned) == len(rows)
    changed = [(p, r) for p, r in zip(poisoned, rows, strict=True) if p["messages"][-1] != r["messages"][-1]]
    assert len(changed) == count
    critic = get_critic()
    failed = sum(not critic.evaluate(p["messages"][1]["content"], p["messages"][-1]["content"]).passed
                 for p, _ in changed)
    assert failed / count > 0.8
    assert rows[0]["messages"][-1]["content"] == "a correct answer"  # the input is not modified
    with pytest.raises(ValueError, match="share"):
        poison_rows(rows, kb, share=0)


def _summary(**over):
    data = {
        "gate": {"passed": True, "reason": "all targets met", "base": {"accuracy": 0.1}, "adapter": {"accuracy": 0.9}},
        "stages": [{"stage": "teacher", **traffic_fields(10, {"teacher": 10}, [100.0, 120.0, 90.0]),
                    "accuracy_vs_teacher": 0.9, "accuracy_pairs": 10, "hallucination_rate": 0.01,
                    "business_logic": 0.99, "non_answer_rate": 0.0, "answers_judged": 10, "cost_per_chat": 0.004}],
        "rollout": {"final": "promoted", "decisions": [{"stage": "shadow", "action": "promote"}]},
        "sabotage": {"gate_passed": False, "final": "rolled_back", "customers_served_failed_answers": 0},
        "drift": {"same_distribution_alarm": False, "new_topic_alarm": True},
    }
    data.update(over)
    return data


def test_summary_round_trips_through_its_file_and_renders_a_table(tmp_path):
    path = write_summary(DemoSummary.model_validate(_summary()), tmp_path / "var" / "demo-summary.json")
    loaded = read_summary(path)
    assert loaded.stages[0].p50_ms == 100.0 and loaded.rollout.final == "promoted"
    assert json.loads(path.read_text())["sabotage"]["customers_served_failed_answers"] == 0
    assert table_rows(loaded)[0][:3] == ("teacher", "10", "teacher 10")


@pytest.mark.parametrize("bad", [
    {"rollout": {"final": "maybe", "decisions": []}},
    {"stages": [{"stage": "canary-ten"}]},
    {"gate": {"passed": True}},
])
def test_summary_refuses_what_is_not_a_demo_result(bad):
    with pytest.raises(ValidationError):
        DemoSummary.model_validate(_summary(**bad))

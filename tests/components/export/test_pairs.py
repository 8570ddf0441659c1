"""Preference pairs from exported turns: each source, the chosen answer's rules, no duplicate rejections."""

from __future__ import annotations

import json

import pytest

from components.export.pairs import build_pairs, describe_violations

PROMPT = [{"role": "system", "content": "Facts: Adults are $60 per person."},
          {"role": "user", "content": "How much per adult?"}]
GOOD = "Adults are $60 per person."
WRONG_PRICE = [{"category": "price", "claim": "$50 per adult", "fact": "adult: $60 per person", "severity": "high"}]


def _record(served=GOOD, candidates=None, correction=None, served_by="teacher"):
    return {"messages": [*PROMPT, {"role": "assistant", "content": served}],
            "metadata": {"signal_id": "sig1", "session_id": "s1", "topic": "pricing", "served_by": served_by,
                         "trainable": True, "created_at": "2026-10-01T00:00:00+00:00",
                         "candidates": candidates or [], "correction": correction}}


def _teacher(response, passed, chosen=False, provider="openai", violations=None):
    return {"provider": provider, "model": "m", "role": "teacher", "response": response, "critic_passed": passed,
            "chosen": chosen, "violations": violations or []}


def test_a_failed_teacher_candidate_pairs_with_the_served_answer():
    (pair,) = build_pairs(_record(candidates=[_teacher(GOOD, True, chosen=True),
                                              _teacher("Adults are $50.", False, provider="xai",
                                                       violations=WRONG_PRICE)]))
    assert pair["prompt"] == PROMPT  # the training row's own prompt (the contract), system turn included
    assert (pair["chosen"], pair["rejected"]) == (GOOD, "Adults are $50.")
    assert pair["why"] == "price: '$50 per adult' breaks 'adult: $60 per person'"
    assert pair["metadata"]["source"] == "teacher_rejected" and pair["metadata"]["rejected_provider"] == "xai"
    assert pair["metadata"]["signal_id"] == "sig1" and pair["metadata"]["violations"] == WRONG_PRICE


def test_the_students_fallen_back_answer_is_rejected_for_the_teachers():
    student = {"provider": "local", "model": "v2", "role": "student", "response": "Adults are $50.",
               "critic_passed": False, "chosen": False, "violations": WRONG_PRICE}
    errored = {"provider": "local", "model": "v2", "role": "student", "response": None, "error": "HTTP 500",
               "critic_passed": None, "chosen": False}
    pairs = build_pairs(_record(served_by="fallback", candidates=[student, errored, _teacher(GOOD, True, True)]))
    assert [(p["metadata"]["source"], p["rejected"]) for p in pairs] == [("student_fallback", "Adults are $50.")]


def test_an_admin_correction_is_chosen_over_the_served_answer_and_over_failed_candidates():
    correction = {"response": "Adults are $60 per person; kids 12 and under $30.", "author": "ana",
                  "reason": "mention kids"}
    pairs = build_pairs(_record(candidates=[_teacher(GOOD, True, True), _teacher("Adults are $50.", False)],
                                correction=correction))
    assert [(p["metadata"]["source"], p["chosen"], p["rejected"]) for p in pairs] == [
        ("admin_correction", correction["response"], GOOD),
        ("teacher_rejected", correction["response"], "Adults are $50."),
    ]
    assert pairs[0]["why"] == "corrected by ana: mention kids"


def test_no_pairs_without_a_passing_answer_or_a_failed_one_and_duplicates_once():
    assert build_pairs(_record(candidates=[_teacher(GOOD, True, True), _teacher(GOOD + " ", True)])) == []
    # the served answer failed the critic and nobody corrected it: nothing to prefer
    assert build_pairs(_record(served="Adults are $50.", candidates=[_teacher("Adults are $50.", False, True)])) == []
    same_twice = [_teacher(GOOD, True, True), _teacher("Adults are $50.", False, provider="a"),
                  _teacher("Adults are $50.", False, provider="b")]
    assert len(build_pairs(_record(candidates=same_twice))) == 1
    # a correction identical to the served answer is not a preference
    assert build_pairs(_record(candidates=[_teacher(GOOD, True, True)], correction={"response": GOOD})) == []
    assert build_pairs({"messages": [{"role": "user", "content": "hi"}], "metadata": {}}) == []


def test_violations_are_described_plainly():
    assert describe_violations([]) == "failed the critic"
    assert describe_violations([{"category": "not_offered"}, "raw"]) == "not_offered; raw"


@pytest.mark.storage
def test_export_writes_each_turns_pairs_with_the_training_rows_prompt(db, tmp_path):
    from datetime import UTC, datetime, timedelta

    from components.export import export_signals
    from components.export.sample import seed_signals
    from hibachi.records import AdminCorrection, Candidate, ExportRun

    engine, factory = db
    start = datetime(2026, 10, 1, tzinfo=UTC)
    seed_signals(factory, 6, seed=4, all_good=True)
    with factory() as session:
        session.add(Candidate(signal_id="sig4-000001", provider="xai", model="grok-4", role="teacher",
                              response="Adults are $45 per person.", critic_passed=False, violations=WRONG_PRICE))
        session.add(AdminCorrection(signal_id="sig4-000002", corrected_response="A clearer answer, $60 per adult.",
                                    author="ana", reason="clearer", created_at=start + timedelta(hours=1)))
        session.commit()
    result = export_signals(engine, tmp_path / "out.jsonl", since=start, until=start + timedelta(days=1),
                            pairs_path=tmp_path / "pairs.jsonl")
    rows = {json.loads(line)["metadata"]["signal_id"]: json.loads(line) for line in open(result.path)}
    pairs = [json.loads(line) for line in open(tmp_path / "pairs.jsonl")]
    assert result.pairs == len(pairs) == 2
    assert [(p["metadata"]["signal_id"], p["metadata"]["source"]) for p in pairs] == [
        ("sig4-000001", "teacher_rejected"), ("sig4-000002", "admin_correction")]
    for pair in pairs:
        assert pair["prompt"] == rows[pair["metadata"]["signal_id"]]["messages"][:-1]
        assert pair["prompt"][0]["role"] == "system"  # the grounding turn of the prompt contract
    assert pairs[0]["rejected"] == "Adults are $45 per person." and pairs[0]["why"].startswith("price:")
    with factory() as session:
        assert session.get(ExportRun, result.export_run_id).pairs == 2

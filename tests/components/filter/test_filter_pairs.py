"""Preference pairs in the filter step: the rows' rules (critic on chosen, PII, dedup) and the rows' holdout."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from components.filter.filter import DataError, filter_dataset, filter_pairs, pair_in_holdout
from hibachi.settings import FilterSettings


class PriceCritic:
    """Passes an answer only when it states the true adult price ($60)."""

    def evaluate(self, prompt: str, response: str):
        return SimpleNamespace(passed="$60" in response, violations=[], quality_score=1.0)


def _row(i: int) -> dict:
    return {"messages": [{"role": "system", "content": "Facts."},
                         {"role": "user", "content": f"Question {i}: the adult price for {i + 10} guests in Davis?"},
                         {"role": "assistant", "content": "Adults are $60 per person."}],
            "metadata": {"signal_id": f"s{i}", "topic": "pricing", "quality_score": 0.95, "led_to_booking": True,
                         "trainable": True, "correction": None}}


def _pair(i: int, chosen="Adults are $60 per person.", rejected="Adults are $50 per person.", source="teacher_rejected",
          question=None, **meta) -> dict:
    question = question or f"Question {i}: the adult price for {i + 10} guests in Davis?"
    return {"prompt": [{"role": "system", "content": "Facts."}, {"role": "user", "content": question}],
            "chosen": chosen, "rejected": rejected, "why": "adult price: $50 stated, $60 true",
            "metadata": {"signal_id": f"s{i}", "source": source, "topic": "pricing", "trainable": True, **meta}}


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_pairs_follow_the_rows_rules_and_their_holdout(tmp_path):
    rows = [_row(i) for i in range(20)]
    pairs = [_pair(i) for i in range(20)]
    pairs += [
        _pair(20, chosen="Adults are $45 per person.", source="admin_correction"),  # chosen fails the critic now
        _pair(21, trainable=False),
        _pair(22, rejected="  "),
        _pair(0),  # the same pair again
        _pair(23, rejected="Adults are $50. Call Maria Lopez at (555) 123-4567.", source="student_fallback"),
        _pair(24, rejected="Adults are $60 per person."),  # not a preference
    ]
    result = filter_dataset(_write(tmp_path / "in.jsonl", rows), tmp_path / "train.jsonl",
                            tmp_path / "holdout.jsonl", tmp_path / "summary.json", FilterSettings(),
                            critic=PriceCritic(), html_path=tmp_path / "summary.html",
                            pairs_path=_write(tmp_path / "pairs.jsonl", pairs),
                            pairs_train_path=tmp_path / "pairs_train.jsonl",
                            pairs_holdout_path=tmp_path / "pairs_holdout.jsonl")
    summary = json.loads((tmp_path / "summary.json").read_text())["pairs"]
    assert summary["dropped"] == {"not_trainable": 1, "empty_answer": 1, "chosen_failed_critic": 1,
                                  "same_answer": 1, "duplicate": 1}
    assert summary["input_pairs"] == 26 and summary["kept_pairs"] == 21
    assert sum(summary["by_source"]["teacher_rejected"].values()) == 20
    assert sum(summary["by_source"]["student_fallback"].values()) == 1
    row_holdout = {r["metadata"]["signal_id"] for r in _lines(tmp_path / "holdout.jsonl")}
    pair_holdout = {p["metadata"]["signal_id"] for p in _lines(tmp_path / "pairs_holdout.jsonl")}
    pair_train = {p["metadata"]["signal_id"] for p in _lines(tmp_path / "pairs_train.jsonl")}
    assert result.holdout_rows == 4 and row_holdout <= pair_holdout  # every holdout turn's pair is held out too
    assert not (pair_train & row_holdout) and not (pair_holdout & {r["metadata"]["signal_id"]
                                                                    for r in _lines(tmp_path / "train.jsonl")})
    scrubbed = next(p for p in _lines(tmp_path / "pairs_train.jsonl") + _lines(tmp_path / "pairs_holdout.jsonl")
                    if p["metadata"]["source"] == "student_fallback")
    assert "Maria Lopez" not in scrubbed["rejected"] and "555" not in scrubbed["rejected"]
    assert "Preference pairs" in (tmp_path / "summary.html").read_text()


def test_a_turn_without_a_kept_row_gets_a_seeded_side(tmp_path):
    config = FilterSettings(holdout_fraction=0.25, seed=13)
    sides = [pair_in_holdout(f"x{i}", {}, config) for i in range(400)]
    assert 70 <= sum(sides) <= 130 and sides == [pair_in_holdout(f"x{i}", {}, config) for i in range(400)]
    assert pair_in_holdout("x1", {"x1": True}, config) and not pair_in_holdout("x1", {"x1": False}, config)


def test_a_missing_pairs_file_is_empty_and_a_bad_pair_names_its_line(tmp_path):
    empty = filter_pairs(tmp_path / "none.jsonl", tmp_path / "t.jsonl", tmp_path / "h.jsonl", {}, FilterSettings())
    assert empty["input_pairs"] == 0 and (tmp_path / "t.jsonl").read_text() == ""
    bad = _write(tmp_path / "bad.jsonl", [{"prompt": [{"role": "assistant", "content": "x"}], "chosen": "a",
                                           "rejected": "b"}])
    with pytest.raises(DataError, match="bad.jsonl:1: a pair's prompt must be messages ending with a user turn"):
        filter_pairs(bad, tmp_path / "t.jsonl", tmp_path / "h.jsonl", {}, FilterSettings())

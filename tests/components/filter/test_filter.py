"""Filter: each gate drops what it should, corrections replace answers, PII goes, duplicates go, split is stable."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from components.filter.dedup import NearDuplicateIndex
from components.filter.filter import DataError, filter_dataset, split_by_topic
from components.filter.pii import Scrubber
from hibachi.settings import FilterSettings


class KeywordCritic:
    """Rejects answers that mention wagyu (the KB says it is not offered); counts its calls."""

    def __init__(self) -> None:
        self.calls = 0

    def evaluate(self, prompt: str, response: str):
        self.calls += 1
        return SimpleNamespace(passed="wagyu" not in response.lower(), violations=[], quality_score=1.0)


def _row(i, answer="Adults are $60 per person.", prompt=None, **meta):
    metadata = {"signal_id": f"s{i}", "topic": meta.pop("topic", "pricing"), "quality_score": 0.95,
                "led_to_booking": True, "customer_rating": None, "trainable": True, "correction": None, **meta}
    prompt = prompt or f"Question number {i} about the price for {i + 10} guests in Davis?"
    return {"messages": [{"role": "user", "content": prompt}, {"role": "assistant", "content": answer}],
            "metadata": metadata}


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _run(tmp_path, rows, **settings):
    src = _write(tmp_path / "in.jsonl", rows)
    config = FilterSettings(**settings)
    result = filter_dataset(src, tmp_path / "train.jsonl", tmp_path / "holdout.jsonl", tmp_path / "summary.json",
                            config, critic=KeywordCritic(), html_path=tmp_path / "summary.html")
    return result, json.loads((tmp_path / "summary.json").read_text())


def _all_rows(tmp_path):
    return [json.loads(line) for name in ("train.jsonl", "holdout.jsonl")
            for line in (tmp_path / name).read_text().splitlines()]


def test_each_rule_drops_and_is_counted(tmp_path):
    rows = [
        _row(0),
        _row(1, quality_score=0.9),  # not above the threshold
        _row(2, led_to_booking=False, customer_rating=3),
        _row(3, led_to_booking=False, customer_rating=4),  # rating 4 is good enough
        _row(4, answer="Yes, we serve wagyu beef."),
        _row(5, trainable=False),
        _row(6, prompt=_row(0)["messages"][0]["content"]),  # same question and answer as row 0
        _row(7, answer="We serve wagyu!", quality_score=0.1,
             correction={"response": "Wagyu is not offered; filet mignon is +$5.", "author": "a", "reason": "r"}),
    ]
    result, summary = _run(tmp_path, rows, holdout_fraction=0.25)
    assert summary["dropped"] == {"not_trainable": 1, "low_quality": 1, "no_good_outcome": 1, "critic_failed": 2,
                                  "empty_answer": 0, "duplicate": 1}
    assert summary["corrected_rows"] == 1 and summary["kept_rows"] == 2
    assert result.train_rows + result.holdout_rows == 2
    assert "Dropped by rule" in (tmp_path / "summary.html").read_text()


def test_correction_replaces_the_answer(tmp_path):
    fix = "Filet mignon is a +$5 upgrade per person."
    rows = [_row(0, answer="Filet is $9 extra.", quality_score=0.2, led_to_booking=False,
                 correction={"response": fix, "author": "a", "reason": None})]
    _run(tmp_path, rows, holdout_fraction=0.1)
    (kept,) = _all_rows(tmp_path)
    assert kept["messages"][-1]["content"] == fix and kept["metadata"]["corrected"] is True


def test_pii_is_scrubbed_but_facts_stay(tmp_path):
    prompt = ("Hi, my name is Maria Lopez, email maria@example.com, phone (555) 123-4567, we live at 42 Oak Street. "
              "Is lobster tail +$10 for 25 guests on 2026-12-05 at 18:00 in Sacramento?")
    _run(tmp_path, [_row(0, prompt=prompt)], holdout_fraction=0.1)
    (kept,) = _all_rows(tmp_path)
    text = kept["messages"][0]["content"]
    for secret in ("Maria", "Lopez", "maria@example.com", "123-4567", "42 Oak Street"):
        assert secret not in text
    for fact in ("lobster tail", "+$10", "25 guests", "2026-12-05", "18:00", "Sacramento"):
        assert fact in text


@pytest.mark.parametrize("text,secret", [
    ("card 4111 1111 1111 1111 please", "4111"),
    ("my ssn is 123-45-6789", "123-45-6789"),
    ("Thanks, John Carter", "John"),
    ("This is Aiko, any availability?", "Aiko"),
    ("I'm Sam and I want a party", "Sam"),
])
def test_scrubber_removes_each_kind(text, secret):
    assert secret not in Scrubber().scrub(text).text


def test_scrubber_keeps_business_vocabulary_and_non_card_numbers():
    text = "This is Hibachi? Order 12345678, total $1,250.00, party minimum $550, call at 6:30 pm."
    assert Scrubber().scrub(text).text == text


def test_near_duplicates_found_and_distinct_prompts_kept():
    index = NearDuplicateIndex(0.8)
    assert not index.seen("how much is it per person for 20 adults in davis on may 5", "A")
    assert index.seen("How much is it per person for 20 adults in Davis on May 5?", "A")
    assert not index.seen("how much is it per person for 20 adults in davis on may 5", "B")  # other answer
    assert not index.seen("do you travel to fresno and what is the fee", "A")


def test_split_is_stratified_seeded_and_stable():
    items = [(f"id{i}", "pricing" if i % 2 else "travel") for i in range(40)]
    holdout = split_by_topic(items, 0.25, seed=7)
    assert len([k for k, t in items if k in holdout and t == "pricing"]) == 5
    assert len([k for k, t in items if k in holdout and t == "travel"]) == 5
    assert split_by_topic(list(reversed(items)), 0.25, seed=7) == holdout
    assert split_by_topic(items, 0.25, seed=8) != holdout


def test_same_input_gives_byte_identical_outputs(tmp_path):
    rows = [_row(i, topic=["pricing", "travel", "booking"][i % 3]) for i in range(30)]
    first, _ = _run(tmp_path, rows)
    train1 = (tmp_path / "train.jsonl").read_bytes()
    second, _ = _run(tmp_path, rows)
    assert (tmp_path / "train.jsonl").read_bytes() == train1
    assert first.dataset_sha256 == second.dataset_sha256


@pytest.mark.parametrize("line,message", [
    ("{not json", "in.jsonl:2: not valid JSON"),
    ('{"messages": []}', "in.jsonl:2: missing field 'metadata'"),
    ('{"messages": [{"role": "user", "content": "x"}], "metadata": {}}', "in.jsonl:2: messages must end"),
])
def test_bad_lines_name_file_and_line(tmp_path, line, message):
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps(_row(0)) + "\n" + line + "\n")
    with pytest.raises(DataError, match=message):
        filter_dataset(src, tmp_path / "t.jsonl", tmp_path / "h.jsonl", tmp_path / "s.json",
                       FilterSettings(), critic=KeywordCritic())


def test_empty_export_gives_empty_outputs_and_a_summary(tmp_path):
    result, summary = _run(tmp_path, [])
    assert (result.train_rows, result.holdout_rows, summary["input_rows"]) == (0, 0, 0)

"""The data-quality report counts the preference pairs by source, from the filter step's summary."""

from __future__ import annotations

import json
from pathlib import Path

from hibachi.monitoring.data_quality import data_report, pair_counts


def test_pairs_are_counted_by_source_and_side(settings, tmp_path):
    export = tmp_path / "train.jsonl"
    export.write_text("".join(json.dumps({"messages": [{"role": "user", "content": f"Question {i}?"},
                                                       {"role": "assistant", "content": "Adults are $60."}]}) + "\n"
                              for i in range(12)))
    summary = tmp_path / "summary.json"
    summary.write_text(json.dumps({"dropped": {"low_quality": 2}, "pairs": {
        "by_source": {"teacher_rejected": {"train": 7, "holdout": 2}, "admin_correction": {"train": 1}},
        "dropped": {"chosen_failed_critic": 3, "duplicate": 1}}}))
    saved = data_report(export, settings, summary)
    assert saved.headline == {"rows": 12, "dropped": 2, "pairs": 10}
    figures = json.loads(Path(saved.json_path).read_text())["figures"]
    assert figures["pairs_by_source"] == {"admin_correction": {"train": 1, "holdout": 0},
                                          "teacher_rejected": {"train": 7, "holdout": 2}}
    html = Path(saved.html_path).read_text()
    assert "preference pairs from teacher_rejected (train / holdout)</th><td>7 / 2" in html
    assert "preference pairs dropped by rule &#x27;chosen_failed_critic&#x27;</th><td>3" in html


def test_a_summary_without_pairs_has_no_pair_counts():
    assert pair_counts({"dropped": {"x": 1}}) == {} and pair_counts({"pairs": {"by_source": None}}) == {}

"""The drill's poisoned adapter, as the demo makes it in a second process: poisoned, trained, scored, recorded."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from devkit.sabotage import _main
from hibachi.records import ModelVersion

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "components"))
from chat_examples import write_examples  # noqa: E402

pytestmark = [pytest.mark.storage, pytest.mark.slow]


def test_the_drill_process_trains_and_scores_the_poisoned_adapter_and_records_its_version(
        db, tmp_path, tiny_base, kb, monkeypatch):
    engine, sessions = db
    run = tmp_path / "run"
    (run / "filter-op").mkdir(parents=True)
    write_examples(run / "filter-op" / "train", kb, repeat=2)
    write_examples(run / "filter-op" / "holdout", kb)
    for name, value in {"HIBACHI_DATABASE_URL": engine.url.render_as_string(hide_password=False),
                        "HIBACHI_DATA_DIR": str(tmp_path / "var"), "HIBACHI_TRAINING__BASE_MODEL": str(tiny_base),
                        "HIBACHI_TRAINING__BATCH_SIZE": "4", "HIBACHI_TRAINING__MAX_LENGTH": "128",
                        "HIBACHI_GATE__MIN_SAMPLES": "5", "HIBACHI_GATE__MAX_NEW_TOKENS": "16"}.items():
        monkeypatch.setenv(name, value)
    from hibachi.settings import get_settings

    get_settings.cache_clear()
    try:
        _main(["--run", str(run), "--work", str(tmp_path / "drill"), "--version-id", "drill-v1", "--share", "0.5",
               "--seed", "3", "--train-steps", "3", "--eval-samples", "6"])
    finally:
        get_settings.cache_clear()
    result = json.loads((tmp_path / "drill" / "drill.json").read_text())
    rows = [json.loads(line) for line in (tmp_path / "drill" / "train.jsonl").read_text().splitlines()]
    originals = [json.loads(line) for line in (run / "filter-op" / "train").read_text().splitlines()]
    changed = sum(a["messages"][-1] != b["messages"][-1] for a, b in zip(rows, originals, strict=True))
    assert result["poisoned_answers"] == changed > 0
    assert (tmp_path / "drill" / "model" / "adapter" / "adapter_config.json").is_file()
    # The tiny random-weight model answers nonsense: the gate refuses it, on the 6 rows asked for.
    assert result["gate_passed"] is False and result["gate_reason"].startswith("refused")
    evaluation = json.loads((tmp_path / "drill" / "evaluation" / "evaluation.json").read_text())
    assert evaluation["holdout_rows"] == 6
    with sessions() as session:
        version = session.get(ModelVersion, "drill-v1")
        assert version is not None and version.gate_passed is False and version.dataset_sha256 == "poisoned"

"""Checkpoints are resumed only by a run on the same data and configuration; another month's run starts fresh."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from components.train.train import checkpoint_to_resume, main, training_fingerprint
from hibachi.settings import TrainingSettings

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from chat_examples import write_examples  # noqa: E402


def _config(base_model: Path | None = None, **overrides) -> TrainingSettings:
    values = dict(base_model=base_model, max_steps=3, batch_size=4, save_steps=3, logging_steps=1, max_length=128,
                  learning_rate=5e-3)
    values.update(overrides)
    return TrainingSettings(**values)


def test_the_fingerprint_follows_the_data_and_the_configuration_but_not_the_thread_count(tmp_path):
    month_a, month_b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    month_a.write_text('{"messages": []}\n')
    month_b.write_text('{"messages": [{"role": "user", "content": "hi"}]}\n')
    same = training_fingerprint(month_a, _config())
    assert training_fingerprint(month_a, _config()) == same
    assert training_fingerprint(month_a, _config(cpu_threads=4, resume=False)) == same
    assert training_fingerprint(month_b, _config())["train_sha256"] != same["train_sha256"]
    assert training_fingerprint(month_a, _config(learning_rate=1e-4))["config_sha256"] != same["config_sha256"]


def test_checkpoints_of_other_data_are_removed_and_those_of_the_same_data_resumed(tmp_path):
    checkpoints = tmp_path / "checkpoints"
    (checkpoints / "checkpoint-3").mkdir(parents=True)
    mine, theirs = {"train_sha256": "b", "config_sha256": "c"}, {"train_sha256": "a", "config_sha256": "c"}
    (checkpoints / "fingerprint.json").write_text(json.dumps(theirs))
    assert checkpoint_to_resume(checkpoints, mine, resume=True) is None
    assert not (checkpoints / "checkpoint-3").exists()
    assert json.loads((checkpoints / "fingerprint.json").read_text()) == mine
    (checkpoints / "checkpoint-2").mkdir()  # this run's own, as a killed run leaves it
    assert checkpoint_to_resume(checkpoints, mine, resume=True).endswith("checkpoint-2")
    # Checkpoints without any fingerprint (who wrote them is unknown) are not resumed either.
    (checkpoints / "fingerprint.json").unlink()
    assert checkpoint_to_resume(checkpoints, mine, resume=True) is None


@pytest.mark.slow
def test_a_new_months_run_in_the_same_directory_learns_from_its_own_data(tiny_base, kb, tmp_path):
    month_a = write_examples(tmp_path / "month_a.jsonl", kb)
    month_b = write_examples(tmp_path / "month_b.jsonl", kb, wrong=True)
    first = main(month_a, tmp_path / "run", _config(tiny_base))
    assert first["global_step"] == 3 and (tmp_path / "run" / "checkpoints" / "checkpoint-3").is_dir()
    second = main(month_b, tmp_path / "run", _config(tiny_base))
    assert second["resumed_from"] is None  # the old code resumed month A's checkpoint-3 and trained nothing
    assert second["global_step"] == 3 and len(second["loss_history"]) == 3

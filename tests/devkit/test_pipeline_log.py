"""What the demo shows of the pipeline's log: the steps, and about twenty of each training run's loss lines."""

from __future__ import annotations

from components.train.progress import log_line
from devkit.loop import _shown_training_step


def test_about_twenty_loss_lines_of_a_run_and_its_last_are_shown():
    shown = [step for step in range(5, 801, 5) if _shown_training_step("  " + log_line(step, 800, {"loss": 0.5}))]
    assert shown == list(range(40, 801, 40))
    assert _shown_training_step(log_line(7, 7, {"loss": 0.5}))  # a short run: every line


def test_other_lines_are_not_taken_for_training_progress():
    assert not _shown_training_step("{'loss': '0.17', 'grad_norm': '0.08'}")
    assert not _shown_training_step("step 40/800 of something else")

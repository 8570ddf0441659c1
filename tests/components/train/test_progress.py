"""Training progress: one readable line per log event instead of transformers' printed dicts."""

from __future__ import annotations

from components.train.progress import log_line


def test_a_log_line_shows_the_step_and_the_figures_the_event_has_in_a_fixed_order():
    logs = {"rewards/margins": 0.12345, "loss": 0.69314, "grad_norm": 3.2, "rewards/accuracies": 0.75,
            "tokens_per_s": 5210.4, "logps/chosen": -41.0, "epoch": 0.4}
    assert log_line(40, 200, logs) == ("step 40/200  loss 0.6931  reward accuracy 0.75  reward margin 0.123  "
                                       "tokens/s 5,210")


def test_the_end_of_training_summary_and_odd_values_are_shown_or_left_out_cleanly():
    # transformers 5 puts its runtime in every event; the bar above already shows the time
    assert log_line(8, 8, {"train_runtime": 12.34, "train_loss": 1.5, "total_flos": 1e12}) == "step 8/8  mean loss 1.5"
    assert log_line(1, 8, {"loss": "nan?", "learning_rate": True}) == "step 1/8"

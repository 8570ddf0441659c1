"""One readable line per training log event, under transformers' own progress bar.

transformers prints every log event as a Python dict (``{'loss': '1.234', 'grad_norm': ...}``); trl's DPO adds a
dozen reward and log-probability keys to each, one event per step. A person watching a pipeline wants the step,
the loss and the one or two figures that say whether training works: ``step 40/200  loss 0.412  tokens/s 5,210``.
"""

from __future__ import annotations

from transformers.trainer_callback import PrinterCallback, ProgressCallback

# What a log line shows, in this order, when the event has it: (key in transformers' logs, label, format).
SHOWN = (("loss", "loss", ".4g"), ("rewards/accuracies", "reward accuracy", ".2f"),
         ("rewards/margins", "reward margin", ".3g"), ("learning_rate", "lr", ".2g"),
         ("tokens_per_s", "tokens/s", ",.0f"), ("train_loss", "mean loss", ".4g"))


def log_line(step: int, max_steps: int, logs: dict) -> str:
    """``step 40/200  loss 0.412  tokens/s 5,210``: the shown figures the event carries, nothing else."""
    parts = [f"step {step}/{max_steps}"]
    for key, label, spec in SHOWN:
        value = logs.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            parts.append(f"{label} {value:{spec}}")
    return "  ".join(parts)


class ReadableProgress(ProgressCallback):
    """transformers' progress bar, with each log event written above it as one ``log_line``."""

    def on_log(self, args, state, control, logs=None, **kwargs):
        if state.is_world_process_zero and self.training_bar is not None and logs:
            self.training_bar.write(log_line(state.global_step, state.max_steps, logs))


def use_readable_progress(trainer) -> None:
    """Swap the trainer's dict-printing callbacks for ``ReadableProgress`` (keeps ``disable_tqdm`` respected)."""
    shown = not trainer.args.disable_tqdm
    for callback in (ProgressCallback, PrinterCallback):
        trainer.remove_callback(callback)
    if shown:
        trainer.add_callback(ReadableProgress())

"""Train: LoRA SFT on the tiny Llama learns, loss only on assistant turns, resumes after a kill to the same end."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from components.train.train import _parse_args, load_examples, main, resolve_base_model
from hibachi.errors import UserError
from hibachi.settings import TrainingSettings

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from chat_examples import write_examples  # noqa: E402

pytestmark = pytest.mark.slow


def _train(tiny_base, train_file, out, **overrides):
    values = dict(base_model=tiny_base, max_steps=8, batch_size=4, save_steps=4, logging_steps=1, max_length=128,
                  learning_rate=5e-3)
    values.update(overrides)
    return main(train_file, out, TrainingSettings(**values))


def test_training_lowers_the_loss_and_writes_adapter_and_metrics(tiny_base, kb, tmp_path, capfd):
    data = write_examples(tmp_path / "train.jsonl", kb)
    metrics = _train(tiny_base, data, tmp_path / "run", max_steps=12)
    assert metrics["global_step"] == 12
    losses = [loss for _, loss in metrics["loss_history"]]
    assert sum(losses[-3:]) / 3 < sum(losses[:3]) / 3
    assert metrics["tokens"] > 0 and metrics["tokens_per_s"] > 0
    adapter = tmp_path / "run" / "adapter"
    config = json.loads((adapter / "adapter_config.json").read_text())
    assert (config["r"], config["lora_alpha"], config["lora_dropout"]) == (64, 128, 0.0)
    assert sorted(config["target_modules"]) == ["down_proj", "gate_proj", "k_proj", "o_proj", "q_proj", "up_proj",
                                                "v_proj"]
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["global_step"] == 12
    shown = capfd.readouterr().out
    assert "step 12/12  loss " in shown and "tokens/s" in shown and "{'loss'" not in shown


def test_only_assistant_tokens_carry_loss(tiny_base):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(tiny_base))
    out = tokenizer.apply_chat_template([{"role": "user", "content": "price?"},
                                         {"role": "assistant", "content": "Adults are $60."}],
                                        tokenize=True, return_dict=True, return_assistant_tokens_mask=True)
    masked = [t for t, m in zip(out["input_ids"], out["assistant_masks"], strict=True) if m]
    assert tokenizer.decode(masked).startswith("Adults are $60.")
    assert 0 < len(masked) < len(out["input_ids"])


KILL_SCRIPT = """
import os, signal, sys
from pathlib import Path
from transformers import TrainerCallback
from components.train.train import main
from hibachi.settings import TrainingSettings

class KillAfter(TrainerCallback):
    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == 6:
            os.kill(os.getpid(), signal.SIGKILL)

base, data, out = sys.argv[1:4]
main(Path(data), Path(out), TrainingSettings(base_model=Path(base), max_steps=8, batch_size=4, save_steps=4,
                                             logging_steps=1, max_length=128, learning_rate=5e-3),
     callbacks=[KillAfter()])
"""


def test_killed_run_resumes_from_its_checkpoint_and_ends_like_an_uninterrupted_one(tiny_base, kb, tmp_path):
    data = write_examples(tmp_path / "train.jsonl", kb)
    reference = _train(tiny_base, data, tmp_path / "reference")
    killed = subprocess.run([sys.executable, "-c", KILL_SCRIPT, str(tiny_base), str(data), str(tmp_path / "run")],
                            capture_output=True, text=True, timeout=300)
    assert killed.returncode == -9, killed.stderr[-2000:]
    assert (tmp_path / "run" / "checkpoints" / "checkpoint-4").is_dir()
    assert not (tmp_path / "run" / "adapter").exists()
    resumed = _train(tiny_base, data, tmp_path / "run")
    assert resumed["resumed_from"].endswith("checkpoint-4")
    assert resumed["global_step"] == reference["global_step"] == 8
    assert resumed["final_loss"] == pytest.approx(reference["final_loss"], abs=0.02)


def test_bad_training_file_is_a_clear_error(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    with pytest.raises(UserError, match="no training examples"):
        load_examples(empty)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"messages": []}\n{"oops"\n')
    with pytest.raises(UserError, match="bad.jsonl:2: not valid JSON"):
        load_examples(bad)
    bad.write_text('{"messages": []}\n{"messages": "hello"}\n')
    with pytest.raises(UserError, match="bad.jsonl:2: expected a JSON object with a 'messages' list"):
        load_examples(bad)


def test_command_line_overrides_settings(tmp_path):
    train_file, out, config = _parse_args(["--train-file", "t.jsonl", "--output-dir", str(tmp_path),
                                           "--max-steps", "3", "--lora-r", "8", "--no-assistant-only-loss",
                                           "--target-modules", "q_proj", "v_proj"])
    assert isinstance(config, TrainingSettings) and (train_file, out) == (Path("t.jsonl"), tmp_path)
    assert (config.max_steps, config.lora_r, config.assistant_only_loss) == (3, 8, False)
    assert config.target_modules == ["q_proj", "v_proj"] and config.lora_alpha == 128  # the setting's default


def test_command_line_values_are_validated_like_settings(tmp_path):
    with pytest.raises(UserError, match="training.max_steps"):
        _parse_args(["--train-file", "t.jsonl", "--output-dir", str(tmp_path), "--max-steps", "0"])


def test_a_missing_base_model_is_a_clear_error_not_a_substitute(tmp_path):
    with pytest.raises(UserError, match="no config.json"):
        resolve_base_model(tmp_path / "nowhere")
    with pytest.raises(UserError, match="no base model"):
        resolve_base_model(None)


def test_only_the_final_answer_carries_loss_unless_asked_otherwise(tiny_base, tmp_path):
    """Earlier assistant turns were grounded on another question; by default only the last answer is learned."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from components.train.train import build_trainer

    tokenizer = AutoTokenizer.from_pretrained(str(tiny_base))
    tokenizer.padding_side = "right"
    example = {"messages": [{"role": "system", "content": "Facts: adults $60."},
                            {"role": "user", "content": "price?"},
                            {"role": "assistant", "content": "Earlier answer."},
                            {"role": "user", "content": "and adults?"},
                            {"role": "assistant", "content": "Adults are $60."}]}

    def learned(**overrides) -> str:
        config = TrainingSettings(base_model=tiny_base, max_steps=1, **overrides)
        trainer = build_trainer(AutoModelForCausalLM.from_pretrained(str(tiny_base)), tokenizer, [example], config,
                                tmp_path / "run")
        batch = next(iter(trainer.get_train_dataloader()))
        return tokenizer.decode([t for t in batch["labels"][0].tolist() if t != -100])

    assert learned().startswith("Adults are $60.") and "Earlier answer" not in learned()
    both = learned(final_answer_only=False)
    assert "Earlier answer." in both and "Adults are $60." in both


def test_a_row_not_ending_in_an_answer_is_a_clear_error():
    from components.train.train import as_prompt_completion

    with pytest.raises(UserError, match="must end with the assistant's answer"):
        as_prompt_completion({"messages": [{"role": "user", "content": "price?"}]})
    with pytest.raises(UserError):
        as_prompt_completion({"messages": []})

"""Train a small LoRA adapter on fixed prompt -> answer pairs in seconds (plain torch + peft).

Serving tests and the serving benchmark need an adapter whose answers differ from the base model's;
the training pipeline (trl) is the real path, this is a few dozen optimizer steps on a handful of
pairs so a predictor can be exercised without running that pipeline.
"""

from __future__ import annotations

from pathlib import Path


def train_quick_adapter(base_model: Path | str, out_dir: Path | str, pairs: list[tuple[str, str]],
                        steps: int = 40, rank: int = 8, learning_rate: float = 1e-2, seed: int = 0) -> Path:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if not pairs:
        raise ValueError("train_quick_adapter: no training pairs")
    torch.manual_seed(seed)
    tokenizer = AutoTokenizer.from_pretrained(str(base_model))
    model = AutoModelForCausalLM.from_pretrained(str(base_model), dtype=torch.float32)
    config = LoraConfig(r=rank, lora_alpha=2 * rank, lora_dropout=0.0, task_type="CAUSAL_LM",
                        target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])
    model = get_peft_model(model, config)
    rows = []
    for prompt, answer in pairs:
        messages = [{"role": "user", "content": prompt}, {"role": "assistant", "content": answer}]
        encoded = tokenizer.apply_chat_template(messages, return_dict=True, return_assistant_tokens_mask=True)
        ids = torch.tensor(encoded["input_ids"])
        labels = torch.where(torch.tensor(encoded["assistant_masks"]) == 1, ids, torch.tensor(-100))
        rows.append((ids, labels))
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=learning_rate)
    model.train()
    for step in range(steps):
        ids, labels = rows[step % len(rows)]
        loss = model(input_ids=ids[None], labels=labels[None]).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    out = Path(out_dir)
    model.save_pretrained(out)
    return out

"""The sabotage drill: an adapter trained on poisoned answers must be stopped by the gate, then by the analysis.

``poison_rows`` replaces the final answer of a share of training rows with a confident wrong one of the
kinds the critic knows (a price too high, an item that is not offered: ``devkit.synth.wrong``), as an
insider or a broken labelling job would. The demo trains an adapter on them with the pipeline's own
train and evaluate steps, forces it into a 10% canary anyway (a person overriding the gate, with a
reason, then ``hibachi rollout set --percent 10``), sends customers, and lets the canary analysis decide.
Customers routed to it must never receive an answer the critic failed: the gateway falls back to the
teacher.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from hibachi.knowledge import KnowledgeBase


def poison_rows(rows: list[dict], kb: KnowledgeBase, share: float, seed: int = 0) -> tuple[list[dict], int]:
    """Copies of ``rows`` ({"messages": [...]}) with ``share`` of the final answers replaced by wrong ones."""
    from devkit.synth.answers import answer_question

    if not 0 < share <= 1:
        raise ValueError(f"share must be within (0, 1], got {share}")
    rng = random.Random(seed)
    out, poisoned = [], 0
    for row in rows:
        messages = [dict(m) for m in row["messages"]]
        last = len(messages) - 1
        if messages and messages[last]["role"] == "assistant" and rng.random() < share:
            asked = [m for m in messages[:last] if m["role"] in ("user", "assistant")]
            messages[last]["content"] = answer_question(kb, asked, rng, hallucinate=True).text
            poisoned += 1
        out.append({**row, "messages": messages})
    return out, poisoned


def write_poisoned(train_file: Path, out_file: Path, kb: KnowledgeBase, share: float, seed: int = 0) -> int:
    from hibachi.jsonl import json_objects

    with train_file.open(encoding="utf-8") as lines:
        rows = [row for _, row in json_objects(lines, lambda n: f"{train_file}:{n}")]
    poisoned, count = poison_rows(rows, kb, share, seed)
    out_file.parent.mkdir(parents=True, exist_ok=True)
    out_file.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in poisoned))
    return count

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


def prepare_drill(run: Path, work: Path, version_id: str, *, share: float, seed: int, train_steps: int,
                  eval_samples: int, settings=None) -> dict:
    """Poison ``run``'s training set, train an adapter on it with the pipeline's own train step and score it
    with its evaluate step (same thresholds, ``eval_samples`` holdout rows). Writes and returns ``drill.json``.

    The demo runs this in a second process while the pipeline trains the real adapter: the training steps
    use one CPU thread each, so on a 2-core machine the drill costs no extra wall-clock time.
    """
    from components.evaluate.evaluate import evaluate_candidate
    from components.train.train import main as train_main
    from components.train.train import training_config
    from hibachi.db import make_engine
    from hibachi.knowledge import load_knowledge_base
    from hibachi.settings import get_settings

    settings = settings or get_settings()
    kb = load_knowledge_base(settings.knowledge_base)
    poisoned = write_poisoned(run / "filter-op" / "train", work / "train.jsonl", kb, share, seed)
    trained = train_main(work / "train.jsonl", work / "model", training_config(settings, max_steps=train_steps))
    gate = settings.gate.model_copy(update={"max_eval_samples": min(settings.gate.max_eval_samples, eval_samples)})
    engine = make_engine(settings.database_url)
    try:
        evaluation = evaluate_candidate(engine, run / "filter-op" / "holdout", Path(trained["base_model"]),
                                        work / "model" / "adapter", version_id, "poisoned", work / "evaluation",
                                        settings=settings.model_copy(update={"gate": gate}))
    finally:
        engine.dispose()
    result = {"version": version_id, "poisoned_answers": poisoned, "gate_passed": bool(evaluation.decision.passed),
              "gate_reason": evaluation.decision.reason, "train_seconds": trained["runtime_s"]}
    (work / "drill.json").write_text(json.dumps(result, indent=2))
    return result


def _main(argv: list[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(description="Train and score the sabotage drill's poisoned adapter.")
    parser.add_argument("--run", type=Path, required=True, help="the pipeline run whose filter-op output to poison")
    parser.add_argument("--work", type=Path, required=True, help="where the poisoned data, adapter and drill.json go")
    parser.add_argument("--version-id", required=True)
    parser.add_argument("--share", type=float, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--train-steps", type=int, required=True)
    parser.add_argument("--eval-samples", type=int, required=True)
    args = parser.parse_args(argv)
    prepare_drill(args.run, args.work, args.version_id, share=args.share, seed=args.seed,
                  train_steps=args.train_steps, eval_samples=args.eval_samples)


if __name__ == "__main__":
    _main()

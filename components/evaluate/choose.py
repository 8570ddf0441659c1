"""SFT-only or SFT+DPO: both adapters on the same holdout, the rate of the mistakes the pairs were built from, and
which one (if any) goes forward, with the reason.

``repeated_mistakes(answers, pairs, critic)`` scores one model on the held-out pairs' prompts: an answer
repeats the mistake when the critic fails it with a violation of a category the rejected answer had (or, when
the rejected answer had no recorded violation, e.g. an admin correction, when the answer is closer to the
rejected answer than to the chosen one). ``choose(...)`` decides from the two gate decisions, their scores
and their mistake rates: only a model the gate passes can go forward; when both pass, SFT+DPO goes forward
only when it is no worse than SFT on any gate metric (within ``gate.production_tolerance``) and repeats the
mistakes no more often.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from components.evaluate.gate import GateDecision, ModelScores, Rate
from hibachi.settings import GateSettings

SFT, DPO = "sft", "sft+dpo"


def _categories(violations: list[Any] | None) -> set[str]:
    return {str(v.get("category")) for v in violations or [] if isinstance(v, dict) and v.get("category")}


def repeated_mistakes(answers: list[str], pairs: list[dict], critic,
                      similarity: Callable[[list[str], list[str]], list[float]] | None = None
                      ) -> tuple[Rate, list[dict]]:
    """How often a model's answers to the held-out pairs' prompts repeat the rejected answer's mistake."""
    rows = []
    needs_similarity = [i for i, p in enumerate(pairs) if not _categories((p.get("metadata") or {}).get("violations"))]
    to_chosen = to_rejected = {}
    if needs_similarity and similarity is not None:
        picked = [answers[i] for i in needs_similarity]
        to_chosen = dict(zip(needs_similarity, similarity(picked, [pairs[i]["chosen"] for i in needs_similarity]),
                             strict=True))
        to_rejected = dict(zip(needs_similarity, similarity(picked, [pairs[i]["rejected"] for i in needs_similarity]),
                               strict=True))
    for i, (answer, pair) in enumerate(zip(answers, pairs, strict=True)):
        question = next((m["content"] for m in reversed(pair["prompt"]) if m.get("role") == "user"), "")
        verdict = critic.evaluate(question, answer)
        found = {v.category if hasattr(v, "category") else str(v.get("category")) for v in verdict.violations}
        wanted = _categories((pair.get("metadata") or {}).get("violations"))
        if wanted:
            repeated = bool(found & wanted)
        elif i in to_rejected:
            repeated = to_rejected[i] > to_chosen[i]
        else:
            repeated = not verdict.passed
        rows.append({"prompt": question, "answer": answer, "source": (pair.get("metadata") or {}).get("source"),
                     "mistake": sorted(wanted) or "closer to the rejected answer", "repeated": repeated})
    return Rate(sum(r["repeated"] for r in rows), len(rows)), rows


@dataclass(frozen=True)
class Choice:
    chosen: str | None  # "sft", "sft+dpo" or None (nothing goes forward)
    reason: str
    sft_mistakes: dict | None = None
    dpo_mistakes: dict | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _no_worse(dpo: ModelScores, sft: ModelScores, tol: float) -> list[str]:
    """The gate metrics on which SFT+DPO is worse than SFT alone (beyond the tolerance)."""
    worse = []
    if dpo.accuracy.value < sft.accuracy.value - tol:
        worse.append(f"accuracy {dpo.accuracy.value:.3f} < {sft.accuracy.value:.3f}")
    if dpo.hallucination.value > sft.hallucination.value + tol:
        worse.append(f"hallucination {dpo.hallucination.value:.3f} > {sft.hallucination.value:.3f}")
    if dpo.business_logic.value < sft.business_logic.value - tol:
        worse.append(f"business logic {dpo.business_logic.value:.3f} < {sft.business_logic.value:.3f}")
    return worse


def choose(sft: tuple[GateDecision, ModelScores | None, Rate | None],
           dpo: tuple[GateDecision, ModelScores | None, Rate | None] | None, gate: GateSettings,
           dpo_skipped: str | None = None) -> Choice:
    """Which adapter goes forward: each is (gate decision, scores, repeated-mistake rate on the held-out pairs)."""
    sft_decision, sft_scores, sft_rate = sft
    sft_m = sft_rate.as_dict() if sft_rate else None
    if dpo is None:
        why = f"preference step skipped ({dpo_skipped})" if dpo_skipped else "no SFT+DPO adapter"
        if sft_decision.passed:
            return Choice(SFT, f"SFT only: {why}; the gate passed SFT", sft_m)
        return Choice(None, f"nothing goes forward: {why}; the gate refused SFT", sft_m)
    dpo_decision, dpo_scores, dpo_rate = dpo
    dpo_m = dpo_rate.as_dict() if dpo_rate else None
    rates = ""
    if sft_rate is not None and dpo_rate is not None and sft_rate.n:
        rates = (f"; repeated mistakes on {sft_rate.n} held-out pairs: SFT {sft_rate.value:.3f}, "
                 f"SFT+DPO {dpo_rate.value:.3f}")
    if not sft_decision.passed and not dpo_decision.passed:
        return Choice(None, f"nothing goes forward: the gate refused both SFT and SFT+DPO{rates}", sft_m, dpo_m)
    if not sft_decision.passed:
        return Choice(DPO, f"SFT+DPO: the gate passed it and refused SFT alone{rates}", sft_m, dpo_m)
    if not dpo_decision.passed:
        return Choice(SFT, f"SFT: the gate refused SFT+DPO and passed SFT alone{rates}", sft_m, dpo_m)
    worse = _no_worse(dpo_scores, sft_scores, gate.production_tolerance) if dpo_scores and sft_scores else []
    if worse:
        return Choice(SFT, f"SFT: both passed the gate, SFT+DPO is worse on {', '.join(worse)}{rates}", sft_m, dpo_m)
    if sft_rate is not None and dpo_rate is not None and sft_rate.n and dpo_rate.value > sft_rate.value:
        return Choice(SFT, f"SFT: both passed the gate, SFT+DPO repeats the pairs' mistakes more often{rates}",
                      sft_m, dpo_m)
    return Choice(DPO, f"SFT+DPO: both passed the gate and SFT+DPO is no worse on any metric{rates}", sft_m, dpo_m)


@dataclass
class PreferenceOutcome:
    """What the evaluate step records after the comparison: the decision, the adapter going forward, the report."""

    decision: GateDecision
    adapter_dir: Any  # Path of the adapter that goes forward (SFT's when nothing does)
    report: dict[str, Any]
    chosen: str | None


def load_pairs_holdout(path, limit: int) -> list[dict]:
    """The held-out pairs (the filter step's ``pairs_holdout``), at most ``limit``; a missing file is none."""
    from pathlib import Path

    from hibachi.jsonl import json_objects

    file = Path(path) if path else None
    if file is None or not file.is_file():
        return []
    with open(file, encoding="utf-8") as handle:
        return [pair for _, pair in json_objects(handle, lambda n: f"{file}:{n}")][:limit]


def compare_sft_and_dpo(*, base_model, sft_adapter, dpo_adapter, prompts: list[list[dict]], last_user: list[str],
                        references: list[str], sft_scores: ModelScores, sft_decision: GateDecision,
                        production: ModelScores | None, pairs: list[dict], critic, embedder, settings,
                        dpo_skipped: str | None = None) -> PreferenceOutcome:
    """Score SFT+DPO on the same holdout, both adapters on the held-out pairs' prompts, and choose."""
    from components.evaluate.evaluate import generate_answers, score, similarities
    from components.evaluate.gate import decide

    def sim(answers, refs):
        return similarities(embedder, answers, refs)

    tokens = settings.gate.max_new_tokens
    pair_prompts = [p["prompt"] for p in pairs]
    sft_rate = None
    if pairs:
        sft_rate, _ = repeated_mistakes(generate_answers(base_model, sft_adapter, pair_prompts, tokens), pairs,
                                        critic, sim)
    dpo = None
    dpo_scores = dpo_rate = None
    if dpo_adapter is not None:
        answers = generate_answers(base_model, dpo_adapter, prompts, tokens)
        dpo_scores, _ = score(last_user, answers, references, critic, embedder, settings)
        if pairs:
            dpo_rate, _ = repeated_mistakes(generate_answers(base_model, dpo_adapter, pair_prompts, tokens), pairs,
                                            critic, sim)
        dpo = (decide(dpo_scores, settings.gate, production), dpo_scores, dpo_rate)
    choice = choose((sft_decision, sft_scores, sft_rate), dpo, settings.gate, dpo_skipped)
    if choice.chosen == DPO:
        gate, adapter = dpo[0], dpo_adapter
    else:
        gate, adapter = sft_decision, sft_adapter
    decision = GateDecision(choice.chosen is not None, f"{choice.reason}. {gate.reason}", gate.checks,
                            gate.not_enough_data)
    report = {"choice": choice.as_dict(), "sft_dpo": dpo_scores.as_dict() if dpo_scores else None,
              "sft_dpo_gate": dpo[0].as_dict() if dpo else None, "held_out_pairs": len(pairs),
              "dpo_skipped": dpo_skipped, "adapter": str(adapter)}
    return PreferenceOutcome(decision, adapter, report, choice.chosen)

"""``var/demo-summary.json``: what the demo showed, as data (validated by ``DemoSummary``) as well as a table.

Each stage's numbers come from what the gateway stored while that stage's customers were served
(``stage_metrics`` over the stage's signals and shadow comparisons):

* ``requests``, ``served_by``, ``p50_ms``: the customers' own view (what the gateway answered, its
  ``X-Served-By`` header, the time to the whole reply);
* ``accuracy_vs_teacher``: share of the model-under-test's answers whose MiniLM cosine to the teacher's
  answer for the same turn reaches ``gate.similarity_threshold`` (the gate's own measure). The teacher
  stage compares the served teacher answer with the other teachers' answers to the same turn; shadow
  compares the stored pair; a turn the local model served has no teacher answer, so its reference is
  asked from the teacher afterwards (``reference`` callable);
* ``hallucination_rate``, ``business_logic``: over the model-under-test's answers in the stage (the
  teachers' in the teacher stage; the local model's afterwards, including answers the critic rejected
  and the gateway replaced by the teacher's). An answer that does not address the question is not
  compliant (``hibachi.monitoring.addressed``);
* ``cost_per_chat``: provider cost per answered turn in the stage.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from hibachi.monitoring.addressed import AnswerCheck
from hibachi.monitoring.arms import is_hallucination

StageName = Literal["teacher", "shadow", "canary-10", "canary-50", "canary-90", "promoted"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="allow")


class GateSummary(_Strict):
    passed: bool
    reason: str
    version: str | None = None
    base: dict[str, Any] = Field(default_factory=dict)
    adapter: dict[str, Any] = Field(default_factory=dict)


class StageSummary(_Strict):
    stage: str = Field(pattern=r"^(teacher|shadow|canary-\d{1,2}|promoted)$")
    requests: int = Field(ge=0)
    served_by: dict[str, int]
    accuracy_vs_teacher: float = Field(ge=0, le=1)
    accuracy_pairs: int = Field(ge=0)
    hallucination_rate: float = Field(ge=0, le=1)
    business_logic: float = Field(ge=0, le=1)
    non_answer_rate: float = Field(ge=0, le=1)
    answers_judged: int = Field(ge=0)
    p50_ms: float = Field(ge=0)
    cost_per_chat: float = Field(ge=0)


class RolloutSummary(_Strict):
    final: Literal["promoted", "rolled_back", "held"]
    decisions: list[dict[str, Any]]


class SabotageSummary(_Strict):
    gate_passed: bool
    final: str
    customers_served_failed_answers: int = Field(ge=0)


class DriftSummary(_Strict):
    same_distribution_alarm: bool
    new_topic_alarm: bool


class DemoSummary(_Strict):
    gate: GateSummary
    stages: list[StageSummary]
    rollout: RolloutSummary
    sabotage: SabotageSummary | None  # None only when the run skipped it (demo --quick)
    drift: DriftSummary | None
    seconds: dict[str, float] = Field(default_factory=dict)


def write_summary(summary: DemoSummary, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(summary.model_dump_json(indent=2) + "\n")
    tmp.replace(path)
    return path


def read_summary(path: Path) -> DemoSummary:
    return DemoSummary.model_validate(json.loads(path.read_text()))


@dataclass(frozen=True)
class Judged:
    """One answer of the model under test: the turn's question, the answer, and the critic's verdict on it."""

    prompt: str
    answer: str
    critic_passed: bool
    violations: list
    reference: str | None = None  # what accuracy compares with: the teacher's answer to the same turn, if stored
    teacher_answer: bool = False  # the reference is the served teacher answer (it also judges "addressed")
    history: tuple = ()  # the conversation before this turn (to ask the teacher for a reference)


def judged_answers(stage: str, signals: Sequence, shadows: Sequence) -> list[Judged]:
    """The model-under-test's answers in one stage, from stored signals (with candidates) and shadow rows."""
    out: list[Judged] = []
    if stage == "teacher":
        for s in signals:
            chosen = next((c for c in s.candidates if c.chosen), None)
            if s.served_by == "teacher" and chosen is not None and chosen.response:
                others = [c.response for c in s.candidates
                          if c.role == "teacher" and not c.chosen and c.response]
                out.append(Judged(s.prompt, chosen.response, bool(chosen.critic_passed), chosen.violations or [],
                                  others[0] if others else None))
        return out
    if stage == "shadow":
        prompts = {s.id: s.prompt for s in signals}
        for row in shadows:
            if row.local_response is not None and row.error is None:
                out.append(Judged(prompts.get(row.signal_id, ""), row.local_response, bool(row.critic_passed),
                                  row.violations or [], row.teacher_response or None, teacher_answer=True))
        return out
    for s in signals:
        student = next((c for c in s.candidates if c.role == "student"), None)
        if student is not None and student.response is not None and student.error is None:
            out.append(Judged(s.prompt, student.response, bool(student.critic_passed), student.violations or [],
                              history=tuple(s.conversation or ())))
    return out


def stage_metrics(stage: str, signals: Sequence, shadows: Sequence, *, check: AnswerCheck, categories: list[str],
                  similarity: Callable[[list[str], list[str]], list[float]], threshold: float,
                  reference: Callable[[Judged], str | None] | None = None, max_pairs: int = 100) -> dict[str, Any]:
    """Accuracy vs the teacher, hallucination, business logic, non-answers and cost of one stage."""
    answers = judged_answers(stage, signals, shadows)
    hallucinated = sum(is_hallucination(a.violations, categories) for a in answers)
    addressed = [check.addresses(a.prompt, a.answer, reference=a.reference if a.teacher_answer else None)
                 for a in answers]
    compliant = sum(a.critic_passed and ok for a, ok in zip(answers, addressed, strict=True))
    pairs: list[tuple[str, str]] = []
    for a in answers:
        if len(pairs) >= max_pairs:
            break
        ref = a.reference if a.reference is not None else (reference(a) if reference else None)
        if ref:
            pairs.append((a.answer, ref))
    scores = similarity([p[0] for p in pairs], [p[1] for p in pairs]) if pairs else []
    n = len(answers)
    costs = [float(s.cost_usd or 0.0) for s in signals]
    return {
        "accuracy_vs_teacher": sum(v >= threshold for v in scores) / len(scores) if scores else 0.0,
        "accuracy_pairs": len(scores),
        "hallucination_rate": hallucinated / n if n else 0.0,
        "business_logic": compliant / n if n else 0.0,
        "non_answer_rate": sum(not ok for ok in addressed) / n if n else 0.0,
        "answers_judged": n,
        "cost_per_chat": sum(costs) / len(costs) if costs else 0.0,
    }


def customers_served_failed(signals: Sequence) -> int:
    """Answers a customer received although the critic failed them (the safe default is not such an answer)."""
    return sum(1 for s in signals if s.served_by != "safe_default" and s.stream_error is None
               and not s.critic_passed)


def traffic_fields(requests: int, served_by: dict[str, int], latencies_ms: Sequence[float]) -> dict[str, Any]:
    ordered = sorted(latencies_ms)
    p50 = ordered[min(int(0.5 * len(ordered)), len(ordered) - 1)] if ordered else 0.0
    return {"requests": requests, "served_by": dict(Counter(served_by)), "p50_ms": float(p50)}


def table_rows(summary: DemoSummary) -> list[tuple[str, ...]]:
    """The summary table's rows (also what the README shows)."""
    rows = []
    for s in summary.stages:
        served = ", ".join(f"{k} {v}" for k, v in sorted(s.served_by.items()))
        rows.append((s.stage, str(s.requests), served, f"{s.accuracy_vs_teacher:.0%}", f"{s.hallucination_rate:.1%}",
                     f"{s.business_logic:.0%}", f"{s.p50_ms:.0f}", f"${s.cost_per_chat:.5f}"))
    return rows

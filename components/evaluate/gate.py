"""Scores of a model on the holdout, and the gate: a versioned list of thresholds, not code branches.

Each check is (name, passed, detail); the decision passes only when every check does. A holdout
smaller than ``gate.min_samples`` gives the decision "not enough data" without scoring anything.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from hibachi.settings import GateSettings


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of a proportion (95% by default); (0, 1) when n is 0."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class Rate:
    count: int
    n: int

    @property
    def value(self) -> float:
        return self.count / self.n if self.n else 0.0

    def as_dict(self) -> dict[str, Any]:
        low, high = wilson_interval(self.count, self.n)
        return {"value": round(self.value, 4), "count": self.count, "n": self.n,
                "ci95": [round(low, 4), round(high, 4)]}


@dataclass(frozen=True)
class ModelScores:
    accuracy: Rate  # semantically equal to the teacher's answer
    hallucination: Rate  # answers with at least one hallucination-category violation
    business_logic: Rate  # answers the critic passes
    mean_similarity: float

    def as_dict(self) -> dict[str, Any]:
        return {"accuracy": self.accuracy.as_dict(), "hallucination_rate": self.hallucination.as_dict(),
                "business_logic": self.business_logic.as_dict(), "mean_similarity": round(self.mean_similarity, 4)}


@dataclass(frozen=True)
class GateDecision:
    passed: bool
    reason: str
    checks: list[dict[str, Any]] = field(default_factory=list)
    not_enough_data: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def not_enough_data(n: int, gate: GateSettings) -> GateDecision:
    return GateDecision(False, f"not enough data: {n} holdout examples, the gate needs at least {gate.min_samples}",
                        [], True)


def decide(candidate: ModelScores, gate: GateSettings, production: ModelScores | None = None) -> GateDecision:
    n = candidate.accuracy.n
    if n < gate.min_samples:
        return not_enough_data(n, gate)
    checks = [
        ("accuracy", candidate.accuracy.value >= gate.min_accuracy,
         f"accuracy {candidate.accuracy.value:.3f} vs minimum {gate.min_accuracy}"),
        ("hallucination_rate", candidate.hallucination.value <= gate.max_hallucination_rate,
         f"hallucination rate {candidate.hallucination.value:.3f} vs maximum {gate.max_hallucination_rate}"),
        ("business_logic", candidate.business_logic.value >= gate.min_business_logic,
         f"business-logic compliance {candidate.business_logic.value:.3f} vs minimum {gate.min_business_logic}"),
    ]
    if production is not None:
        tol = gate.production_tolerance
        checks += [
            ("accuracy_vs_production", candidate.accuracy.value >= production.accuracy.value - tol,
             f"accuracy {candidate.accuracy.value:.3f} vs production {production.accuracy.value:.3f}"),
            ("hallucination_vs_production", candidate.hallucination.value <= production.hallucination.value + tol,
             f"hallucination {candidate.hallucination.value:.3f} vs production {production.hallucination.value:.3f}"),
            ("business_logic_vs_production",
             candidate.business_logic.value >= production.business_logic.value - tol,
             f"business logic {candidate.business_logic.value:.3f} vs production "
             f"{production.business_logic.value:.3f}"),
        ]
    failed = [detail for _, ok, detail in checks if not ok]
    reason = ("passed: " + "; ".join(d for _, _, d in checks)) if not failed else "refused: " + "; ".join(failed)
    return GateDecision(not failed, reason, [{"name": name, "passed": ok, "detail": d} for name, ok, d in checks])

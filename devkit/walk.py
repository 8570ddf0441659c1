"""The rollout walk: shadow -> canary 10 -> 50 -> 90 -> promoted, each step decided by the canary analysis.

``walk`` is plain control flow over four callables, so it is tested without servers:

* ``set_traffic(stage)`` makes the gateway's traffic policy follow the step (shadow, split at the
  canary's percent, everything local once promoted, teachers only after a rollback);
* ``drive(stage, round)`` sends customers through the gateway for that step;
* ``decide(since)`` runs the analysis over the answers produced since the step began (``hibachi rollout
  analyze`` over that window) and returns its decision;
* ``apply(decision)`` performs it as the InferenceService change and records it with its reason.

A hold (too few samples, or an inconclusive metric) sends more customers, up to ``max_rounds`` per step;
still holding then, the walk stops where it is ("held"). A rollback stops it ("rolled_back").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

Final = Literal["promoted", "rolled_back", "held"]


class DecisionLike(Protocol):
    action: str
    reason: str
    next_percent: int | None


def stage_name(percent: int | None) -> str:
    """0 (or none) -> shadow; 100 -> promoted; else canary-<percent>."""
    if not percent:
        return "shadow"
    return "promoted" if percent >= 100 else f"canary-{percent}"


def stage_percent(stage: str) -> int:
    if stage == "shadow":
        return 0
    if stage == "promoted":
        return 100
    if stage.startswith("canary-"):
        return int(stage.removeprefix("canary-"))
    raise ValueError(f"not a rollout stage: {stage!r}")


def traffic_for(stage: str) -> tuple[str, float]:
    """The gateway's traffic policy (policy, split percent) for a rollout stage."""
    if stage == "shadow":
        return "shadow", 0.0
    if stage == "rolled_back":
        return "teacher", 0.0
    return "split", float(stage_percent(stage))


@dataclass
class StepRecord:
    stage: str
    started: datetime
    ended: datetime | None = None
    rounds: int = 0
    action: str | None = None  # promote / hold / rollback; None for the measured promoted stage
    reason: str = ""
    next_stage: str | None = None
    applied: str | None = None  # the equivalent kubectl command of the change, when one was made

    def as_dict(self) -> dict[str, Any]:
        return {"stage": self.stage, "started": self.started.isoformat(),
                "ended": self.ended.isoformat() if self.ended else None, "rounds": self.rounds,
                "action": self.action, "reason": self.reason, "next_stage": self.next_stage,
                "applied": self.applied}


@dataclass
class WalkResult:
    final: Final
    steps: list[StepRecord] = field(default_factory=list)


def _now() -> datetime:
    return datetime.now(UTC)


def walk(*, set_traffic: Callable[[str], None], drive: Callable[[str, int], None],
         decide: Callable[[datetime], DecisionLike], apply: Callable[[DecisionLike], str | None],
         start_percent: int = 0, max_rounds: int = 3, measure_promoted: bool = True,
         clock: Callable[[], datetime] = _now) -> WalkResult:
    """Walk the rollout from ``start_percent`` until promoted, rolled back or held."""
    if max_rounds < 1:
        raise ValueError(f"max_rounds must be at least 1, got {max_rounds}")
    result = WalkResult(final="held")
    stage = stage_name(start_percent)
    set_traffic(stage)
    while True:
        step = StepRecord(stage=stage, started=clock())
        result.steps.append(step)
        if stage == "promoted":  # nothing left to decide: measure what customers now get
            if measure_promoted:
                drive(stage, 0)
                step.rounds = 1
            step.ended = clock()
            result.final = "promoted"
            return result
        decision = None
        for round_ in range(max_rounds):
            drive(stage, round_)
            step.rounds = round_ + 1
            decision = decide(step.started)
            if decision.action != "hold":
                break
        step.ended = clock()
        step.action, step.reason = decision.action, decision.reason
        if decision.action == "hold":
            result.final = "held"
            return result
        step.applied = apply(decision)
        if decision.action == "rollback":
            step.next_stage = "rolled_back"
            set_traffic("rolled_back")
            result.final = "rolled_back"
            return result
        stage = stage_name(decision.next_percent)
        step.next_stage = stage
        set_traffic(stage)

"""Canary analysis in the style of Flagger / Argo Rollouts: compare the canary adapter with the stable one.

Over a window, each arm's local answers give rates (critic failures, answers that do not address the
question (hibachi.monitoring.addressed: an answer that claims nothing breaks no rule, but it is no answer),
hallucinations, fallbacks, errors, booking conversion) and latencies. A metric is *worse* when the canary
is beyond its tolerance and a one-sided test says so at ``alpha`` (Bonferroni-divided by the number of
tests, so checking eight metrics does not multiply false rollbacks); a rate the evaluation gate has a target
for (``gate_ceilings``) must also be shown above that target. *Inconclusive* when beyond tolerance without
significance. Any worse metric rolls back; too few samples or an inconclusive metric holds; otherwise the
canary advances one step (``settings.rollout.steps``) or, after the last step, is promoted. Every decision
names metrics and numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import BaseModel
from sqlalchemy.orm import Session

from hibachi.errors import UserError
from hibachi.monitoring.addressed import answer_check
from hibachi.monitoring.arms import TEACHER, Answer, collect_answers
from hibachi.monitoring.stats import above_rate_p, larger_p, proportion_worse_p, quantile
from hibachi.monitoring.windows import as_utc, format_duration
from hibachi.queries import known_rollouts, latest_deployment
from hibachi.settings import Settings

RATE_METRICS = ("critic_failure_rate", "non_answer_rate", "hallucination_rate", "fallback_rate", "error_rate",
                "booking_loss_rate")


class Comparison(BaseModel):
    metric: str
    canary: float | None
    stable: float | None
    canary_n: int
    stable_n: int
    p_value: float | None = None
    verdict: Literal["ok", "worse", "inconclusive", "skipped"]
    note: str = ""

    def describe(self) -> str:
        if self.canary is None or self.stable is None:
            return f"{self.metric}: {self.note}"
        fmt = (lambda v: f"{v:.0f} ms") if self.metric.startswith("latency") else (lambda v: f"{v:.1%}")
        p = f", p={self.p_value:.2g}" if self.p_value is not None else ""
        return (f"{self.metric}: canary {fmt(self.canary)} (n={self.canary_n}) vs stable {fmt(self.stable)} "
                f"(n={self.stable_n}){p}")


class Decision(BaseModel):
    isvc: str
    action: Literal["promote", "hold", "rollback"]
    reason: str
    current_percent: int | None
    next_percent: int | None  # the canary's next traffic share; 100 means full promotion
    stable_version: str | None
    canary_version: str | None
    window_start: datetime
    window_end: datetime
    comparisons: list[Comparison] = []

    def summary(self) -> str:
        step = f" -> {self.next_percent}%" if self.action == "promote" else ""
        return f"{self.action}{step}: {self.reason}"


@dataclass
class _Rate:
    bad: int
    n: int

    @property
    def value(self) -> float | None:
        return self.bad / self.n if self.n else None


def _rates(answers: list[Answer]) -> dict[str, _Rate]:
    answered = [a for a in answers if a.critic_passed is not None]
    routed = [a for a in answers if a.fell_back is not None]
    outcomes = [a for a in answers if a.booked is not None]
    checked = [a for a in answers if a.addressed is not None]
    return {
        "critic_failure_rate": _Rate(sum(not a.critic_passed for a in answered), len(answered)),
        "non_answer_rate": _Rate(sum(not a.addressed for a in checked), len(checked)),
        "hallucination_rate": _Rate(sum(bool(a.hallucinated) for a in answered), len(answered)),
        "fallback_rate": _Rate(sum(bool(a.fell_back) for a in routed), len(routed)),
        "error_rate": _Rate(sum(a.error for a in answers), len(answers)),
        "booking_loss_rate": _Rate(sum(not a.booked for a in outcomes), len(outcomes)),
    }


def gate_ceilings(gate) -> dict[str, float]:
    """The rates the evaluation gate accepts of a candidate: a canary at or under them is not worse for them.

    A first rollout's stable arm is the teachers' served answers, which the critic filtered to about 0%
    failures, so against it alone every adapter the gate passed (up to 5% hallucination) was worse, and
    one at 3% was rolled back from shadow. A canary's failed answer never reaches a customer (the gateway
    falls back to the teacher), so up to the strategy's own targets it costs a teacher call, not trust.
    A non-answer counts as a hallucination; a fallback is what a critic failure costs.
    """
    failures = round(1 - gate.min_business_logic, 6)
    return {"hallucination_rate": gate.max_hallucination_rate, "non_answer_rate": gate.max_hallucination_rate,
            "critic_failure_rate": failures, "fallback_rate": failures}


def compare_rates(canary: list[Answer], stable: list[Answer], cfg,
                  ceilings: dict[str, float] | None = None) -> list[Comparison]:
    """Each rate of the canary against the stable one; beyond tolerance means above both the stable rate plus
    ``cfg.rate_tolerance`` and the metric's ceiling (``gate_ceilings``), when it has one, and its p-value is
    then the larger of the two one-sided tests (canary vs stable, canary vs ceiling)."""
    out = []
    c_rates, s_rates = _rates(canary), _rates(stable)
    for metric in RATE_METRICS:
        c, s = c_rates[metric], s_rates[metric]
        minimum = cfg.min_outcomes if metric == "booking_loss_rate" else 1
        if c.n < minimum or s.n < minimum:
            out.append(Comparison(metric=metric, canary=c.value, stable=s.value, canary_n=c.n, stable_n=s.n,
                                  verdict="skipped", note=f"too few samples (canary {c.n}, stable {s.n}, "
                                                           f"need {minimum})"))
            continue
        ceiling = (ceilings or {}).get(metric)
        p = proportion_worse_p(c.bad, c.n, s.bad, s.n)
        if ceiling is not None:
            # Worse needs evidence against both: higher than the stable arm and above the target (an
            # intersection-union test, so the larger p decides). Judged on its point estimate alone, an adapter
            # the gate had measured at 3.5% on 200 held-out answers was rolled back for 5 critic failures in a
            # 52-answer canary step (9.6%); against a 5% target those 5 have a one-sided p of 0.12.
            p = max(p, above_rate_p(c.bad, c.n, ceiling))
        beyond = c.value - s.value > cfg.rate_tolerance and c.value > (ceiling or 0.0)
        out.append(Comparison(metric=metric, canary=c.value, stable=s.value, canary_n=c.n, stable_n=s.n,
                              p_value=p, verdict="inconclusive" if beyond else "ok"))
    return out


def compare_latency(canary: list[Answer], stable: list[Answer], cfg) -> list[Comparison]:
    c_lat = [a.latency_ms for a in canary if not a.error]
    s_lat = [a.latency_ms for a in stable if not a.error]
    if not c_lat or not s_lat:
        return [Comparison(metric=m, canary=None, stable=None, canary_n=len(c_lat), stable_n=len(s_lat),
                           verdict="skipped", note="no latencies") for m in ("latency_p50_ms", "latency_p95_ms")]
    p = larger_p(c_lat, s_lat)
    out = []
    for metric, q in (("latency_p50_ms", 0.5), ("latency_p95_ms", 0.95)):
        c, s = quantile(c_lat, q), quantile(s_lat, q)
        beyond = c > s * cfg.latency_tolerance
        out.append(Comparison(metric=metric, canary=c, stable=s, canary_n=len(c_lat), stable_n=len(s_lat),
                              p_value=p, verdict="inconclusive" if beyond else "ok"))
    return out


def judge(comparisons: list[Comparison], alpha: float) -> None:
    """A metric beyond tolerance is worse when its test is significant at alpha / number of tests."""
    tests = {"latency" if c.metric.startswith("latency") else c.metric  # p50 and p95 share one test
             for c in comparisons if c.verdict != "skipped"}
    level = alpha / max(len(tests), 1)
    for c in comparisons:
        if c.verdict == "inconclusive" and c.p_value is not None and c.p_value < level:
            c.verdict = "worse"


def next_step(current: int | None, steps: list[int]) -> int:
    ahead = [s for s in sorted(steps) if s > (current or 0)]
    return ahead[0] if ahead else 100


def _since(start: datetime, end: datetime, step_began: datetime) -> str:
    if start == step_began:
        return f"since this step began ({format_duration(end - start)} ago)"
    return f"in the last {format_duration(end - start)}"


def analyze(session: Session, isvc: str, window: timedelta, settings: Settings,
            now: datetime | None = None) -> Decision:
    """Compare canary and stable over the last ``window``, but never before the current step began: a step is
    judged on its own answers, not on those of the step before (or of an earlier rollout). Raises UserError for
    an unknown rollout."""
    if window <= timedelta(0):
        raise UserError(f"analysis window must be positive, got {window}")
    state = latest_deployment(session, isvc)
    if state is None:
        known = known_rollouts(session)
        raise UserError(f"no rollout named {isvc!r}; known rollouts: {', '.join(known) or 'none yet'}")
    end = now or datetime.now(UTC)
    step_began = as_utc(state.created_at)
    start = max(end - window, step_began)
    cfg = settings.analysis
    base = dict(isvc=isvc, current_percent=state.canary_percent, stable_version=state.stable_version,
                canary_version=state.canary_version, window_start=start, window_end=end)
    if not state.canary_version or state.stage in ("stable", "rolled_back"):
        return Decision(action="hold", next_percent=state.canary_percent, **base,
                        reason=f"no canary in progress ({isvc} is {state.stage}, stable {state.stable_version})")
    answers = collect_answers(session, start, end, cfg.hallucination_categories, answer_check(settings))
    baseline = state.stable_version or TEACHER
    canary = [a for a in answers if a.version == state.canary_version]
    stable = [a for a in answers if a.version == baseline]
    label = "stable" if state.stable_version else "teacher (no stable adapter yet)"
    if len(canary) < cfg.min_samples or len(stable) < cfg.min_samples:
        return Decision(action="hold", next_percent=state.canary_percent, **base,
                        reason=f"too few samples {_since(start, end, step_began)}: canary "
                               f"{state.canary_version} has {len(canary)}, {label} has {len(stable)}; "
                               f"need {cfg.min_samples} each")
    ceilings = gate_ceilings(settings.gate)
    comparisons = compare_rates(canary, stable, cfg, ceilings) + compare_latency(canary, stable, cfg)
    judge(comparisons, cfg.alpha)
    worse = [c for c in comparisons if c.verdict == "worse"]
    unsure = [c for c in comparisons if c.verdict == "inconclusive"]
    if worse:
        return Decision(action="rollback", next_percent=0, comparisons=comparisons, **base,
                        reason="canary is worse: " + "; ".join(c.describe() for c in worse))
    if unsure:
        return Decision(action="hold", next_percent=state.canary_percent, comparisons=comparisons, **base,
                        reason="inconclusive, waiting for more data: " + "; ".join(c.describe() for c in unsure))
    checked = [c for c in comparisons if c.verdict == "ok"]
    target = next_step(state.canary_percent, settings.rollout.steps)
    return Decision(action="promote", next_percent=target, comparisons=comparisons, **base,
                    reason=f"canary within tolerance of {label} on {len(checked)} metrics: "
                           + "; ".join(c.describe() for c in checked[:3]))


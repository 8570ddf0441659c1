"""What the admin dashboard shows, as plain data gathered from the records (the router only renders it)."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hibachi.errors import UserError
from hibachi.lineage import serving_lineage
from hibachi.monitoring.addressed import answer_check
from hibachi.monitoring.arms import is_hallucination
from hibachi.monitoring.canary import Decision, analyze
from hibachi.monitoring.reports import SavedReport, list_reports
from hibachi.monitoring.windows import as_utc
from hibachi.queries import latest_deployment, recent_model_versions, shadows_between, signals_between
from hibachi.records import ChatSession, TrainingSignal
from hibachi.settings import Settings


@dataclass
class Progression:
    stage: str
    quality_examples: int
    target: int
    training_runs: list[dict[str, Any]]
    rollout: dict[str, Any] | None
    # How the stage reads: "progress" (moving toward the local model), "waiting" (nothing wrong, nothing
    # new yet) or "problem" (refused by the gate, rolled back). The dashboard colours the stage by it.
    tone: str = "progress"

    @property
    def percent_of_target(self) -> float:
        return min(100.0, 100.0 * self.quality_examples / self.target)


@dataclass
class Dashboard:
    window_days: float
    progression: Progression
    data_quality: list[tuple[str, int]]
    shadow_rows: list[dict[str, Any]]
    traffic: dict[str, int]
    traffic_by_day: dict[str, dict[str, int]]
    fallbacks: int
    cost: dict[str, float]
    reports: list[SavedReport] = field(default_factory=list)
    canary: Decision | None = None  # the live analysis of a canary in progress
    lineage: dict[str, Any] | None = None  # where the serving version came from (hibachi.lineage)


def quality_filter(settings: Settings):
    """The SQL condition a signal must meet to count as a training example (the filter step's first rules)."""
    f = settings.filter
    conditions = [TrainingSignal.trainable.is_(True), TrainingSignal.quality_score >= f.min_quality]
    if f.require_critic_pass:
        conditions.append(TrainingSignal.critic_passed.is_(True))
    if f.require_outcome:
        conditions.append((ChatSession.led_to_booking.is_(True)) | (ChatSession.customer_rating >= f.min_rating))
    return conditions


def count_quality_examples(session: Session, settings: Settings) -> int:
    query = select(func.count(TrainingSignal.id)).join(ChatSession, TrainingSignal.session_id == ChatSession.id)
    return int(session.scalar(query.where(*quality_filter(settings))) or 0)


def progression(session: Session, settings: Settings) -> Progression:
    quality = count_quality_examples(session, settings)
    runs = [{"id": m.id, "created_at": as_utc(m.created_at), "gate_passed": m.gate_passed,
             "gate_reason": m.gate_reason or "", "dataset": m.dataset_sha256[:12]}
            for m in recent_model_versions(session)]
    state = latest_deployment(session, settings.rollout.isvc_name)
    rollout = None if state is None else {
        "isvc": state.isvc_name, "stage": state.stage, "percent": state.canary_percent or 0,
        "stable": state.stable_version, "canary": state.canary_version, "action": state.action,
        "actor": state.actor, "reason": state.reason, "at": as_utc(state.created_at)}
    stage, tone = _stage(rollout, runs, quality, settings.analysis.quality_target)
    return Progression(stage=stage, quality_examples=quality, target=settings.analysis.quality_target,
                       training_runs=runs, rollout=rollout, tone=tone)


def _stage(rollout: dict[str, Any] | None, runs: list[dict[str, Any]], quality: int, target: int) -> tuple[str, str]:
    """The stage's wording and tone from the real state: a version the gate refused is not progress."""
    if rollout is not None and rollout["stage"] == "canary":
        return f"canary at {rollout['percent']}% ({rollout['canary']})", "progress"
    if rollout is not None:
        return {"shadow": ("shadow (local model answers in the background)", "progress"),
                "stable": ("local model serves", "progress"),
                "rolled_back": ("rolled back to the teacher/stable", "problem")}.get(
                    rollout["stage"], (rollout["stage"], "waiting"))
    collecting = "collecting quality examples" if quality < target else "ready to train"
    if not runs:
        return collecting, "waiting" if quality < target else "progress"
    newest = runs[0]  # newest first
    if newest["gate_passed"]:
        return f"trained, passed the gate, not yet deployed ({newest['id']})", "progress"
    if newest["gate_passed"] is None:
        return f"trained, evaluation pending ({newest['id']})", "waiting"
    return f"refused by the gate ({newest['id']}); nothing deployed, {collecting}", "problem"


def data_quality(signals: list[TrainingSignal], settings: Settings) -> list[tuple[str, int]]:
    """How many signals each filter rule would keep out, in order; the last bar is what is left."""
    f = settings.filter
    left = signals
    bars = [("captured", len(left))]
    def has_outcome(s: TrainingSignal) -> bool:
        chat = s.session
        return bool(chat and (chat.led_to_booking or (chat.customer_rating or 0) >= f.min_rating))

    rules = [("not trainable", lambda s: s.trainable),
             ("critic failed", lambda s: s.critic_passed or not f.require_critic_pass),
             (f"quality < {f.min_quality}", lambda s: s.quality_score >= f.min_quality),
             ("no booking or rating >= " + str(f.min_rating),
              lambda s: not f.require_outcome or has_outcome(s))]
    for label, keep in rules:
        kept = [s for s in left if keep(s)]
        bars.append((label, len(left) - len(kept)))
        left = kept
    bars.append(("quality examples", len(left)))
    return bars


def shadow_rows(session: Session, signals: list[TrainingSignal], since: datetime, until: datetime,
                settings: Settings) -> list[dict[str, Any]]:
    """Local (per adapter, from shadow comparisons) against the teacher (the answers customers got)."""
    categories = settings.analysis.hallucination_categories
    threshold = settings.gate.similarity_threshold
    check = answer_check(settings)
    prompts = {s.id: s.prompt for s in signals}
    groups: dict[str, list] = defaultdict(list)
    for row in shadows_between(session, since, until):
        if row.local_response is not None:
            groups[row.adapter_version or row.model].append(row)
    rows = []
    for version, items in sorted(groups.items()):
        scored = [r for r in items if r.similarity is not None]
        # An answer that ignores the question breaks no rule, but it is not compliant either.
        addressed = [check.addresses(prompts.get(r.signal_id, ""), r.local_response,
                                     reference=r.teacher_response or None) for r in items]
        rows.append({"who": f"local {version}", "n": len(items),
                     "accuracy": sum(r.similarity >= threshold for r in scored) / len(scored) if scored else None,
                     "hallucination": sum(is_hallucination(r.violations, categories) for r in items) / len(items),
                     "non_answer": sum(not ok for ok in addressed) / len(items),
                     "business_logic": sum(bool(r.critic_passed) and ok
                                           for r, ok in zip(items, addressed, strict=True)) / len(items)})
    teacher = [s for s in signals if s.served_by == "teacher"]
    if teacher:
        def violations(s):
            chosen = next((c for c in s.candidates if c.chosen), None)
            return chosen.violations if chosen else []
        hallucinated = sum(is_hallucination(violations(s), categories) for s in teacher)
        addressed = [check.addresses(s.prompt, s.chosen_response) for s in teacher]
        rows.insert(0, {"who": "teacher (reference)", "n": len(teacher), "accuracy": None,
                        "hallucination": hallucinated / len(teacher),
                        "non_answer": sum(not ok for ok in addressed) / len(teacher),
                        "business_logic": sum(bool(s.critic_passed) and ok
                                              for s, ok in zip(teacher, addressed, strict=True)) / len(teacher)})
    return rows


def cost(signals: list[TrainingSignal], days: float, settings: Settings) -> dict[str, float]:
    """Cost per chat now, and a month at the current volume against answering every chat with the teachers."""
    if not signals:
        return {"chats": 0, "chats_per_day": 0.0, "cost_per_chat": 0.0, "hosted_cost_per_chat": 0.0,
                "monthly_cost": 0.0, "monthly_hosted_cost": 0.0, "monthly_savings": 0.0}
    teacher_costs = [s.cost_usd for s in signals if s.served_by == "teacher"]
    per_chat = sum(s.cost_usd for s in signals) / len(signals)
    hosted = sum(teacher_costs) / len(teacher_costs) if teacher_costs else per_chat
    per_day = len(signals) / days
    month = per_day * settings.analysis.days_per_month
    return {"chats": len(signals), "chats_per_day": per_day, "cost_per_chat": per_chat,
            "hosted_cost_per_chat": hosted, "monthly_cost": per_chat * month,
            "monthly_hosted_cost": hosted * month, "monthly_savings": (hosted - per_chat) * month}


def gather(session: Session, settings: Settings, window: timedelta = timedelta(days=30),
           now: datetime | None = None) -> Dashboard:
    until = now or datetime.now(UTC)
    since = until - window
    signals = signals_between(session, since, until)
    if signals:  # volume over the span that has traffic, so a young deployment is not diluted by empty days
        span = (until - as_utc(signals[0].created_at)).total_seconds() / 86400
        days = max(span, 1.0)
    else:
        days = window.total_seconds() / 86400
    traffic = Counter(s.served_by for s in signals)
    progress = progression(session, settings)
    decision = None
    if progress.rollout and progress.rollout["canary"]:
        try:
            decision = analyze(session, settings.rollout.isvc_name,
                               timedelta(hours=settings.analysis.window_hours), settings, now=until)
        except UserError:
            decision = None
    by_day: dict[str, dict[str, int]] = defaultdict(Counter)
    for s in signals:
        by_day[as_utc(s.created_at).date().isoformat()][s.served_by] += 1
    return Dashboard(
        window_days=window.total_seconds() / 86400,
        progression=progress,
        data_quality=data_quality(signals, settings),
        shadow_rows=shadow_rows(session, signals, since, until, settings),
        traffic=dict(traffic), traffic_by_day={d: dict(c) for d, c in sorted(by_day.items())},
        fallbacks=traffic.get("fallback", 0), cost=cost(signals, days, settings),
        reports=list(reversed(list_reports(settings)))[:20],
        canary=decision,
        lineage=serving_lineage(session, settings.rollout.isvc_name),
    )

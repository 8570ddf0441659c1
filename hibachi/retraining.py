"""Whether to start a training run now: evidence from the serving student, the prompts and the facts.

``decide(evidence, config, last_triggered_at, now)`` is the rule, a plain function over plain numbers:
a run starts when any trigger fires and the cool-down since the last triggered run has passed.
The triggers (each a setting in ``settings.retraining``):

- the serving student falls back to the teacher too often (``max_fallback_rate``) over the window;
- the critic rejects too many of the student's answers (served or shadow, ``max_critic_failure_rate``);
- the production prompts drifted away from the training set (the drift report's verdict);
- enough new quality examples accumulated since the last export (``min_new_examples``);
- the knowledge-base file changed since the production adapter (or the newest model version) was trained.

``gather_evidence`` reads those numbers from the records; ``record_decision`` stores the decision with
them (``RetrainingDecision``), so every run, started or not, says why. Rates need at least
``min_student_turns`` answers before they count.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hibachi.knowledge import KnowledgeBase, load_knowledge_base
from hibachi.queries import latest_deployment
from hibachi.records import Candidate, ExportRun, ModelVersion, RetrainingDecision, ShadowComparison, TrainingSignal
from hibachi.settings import RetrainingSettings, Settings


def knowledge_sha256(kb: KnowledgeBase | Path | str | None = None) -> str:
    """The sha256 of the knowledge base's validated content (comments and layout of the file do not count)."""
    if not isinstance(kb, KnowledgeBase):
        kb = load_knowledge_base(kb)
    canonical = json.dumps(kb.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@dataclass(frozen=True)
class Evidence:
    """The numbers a decision is made from; every field is plain data, so a test can state them directly."""

    window_start: datetime
    window_end: datetime
    student_turns: int = 0  # turns routed to the student (served by it, or fallen back to the teacher)
    fallbacks: int = 0
    student_answers: int = 0  # student answers the critic judged (served, fallen back, or shadow)
    critic_failures: int = 0
    new_quality_examples: int = 0
    since_export: datetime | None = None  # the last export's window end (None: nothing exported yet)
    drift_detected: bool | None = None  # None: no drift verdict this time (too few prompts, no training set)
    drift_auc: float | None = None
    knowledge_sha256: str | None = None  # the facts now
    trained_knowledge_sha256: str | None = None  # the facts the production adapter (or newest version) was built on
    trained_on: str | None = None  # which record that hash comes from

    @property
    def fallback_rate(self) -> float | None:
        return self.fallbacks / self.student_turns if self.student_turns else None

    @property
    def critic_failure_rate(self) -> float | None:
        return self.critic_failures / self.student_answers if self.student_answers else None

    @property
    def facts_changed(self) -> bool:
        return bool(self.knowledge_sha256 and self.trained_knowledge_sha256
                    and self.knowledge_sha256 != self.trained_knowledge_sha256)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("window_start", "window_end", "since_export"):
            data[key] = _utc(data[key]).isoformat() if data[key] else None
        data.update(fallback_rate=_round(self.fallback_rate), critic_failure_rate=_round(self.critic_failure_rate),
                    facts_changed=self.facts_changed)
        return data


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


@dataclass(frozen=True)
class Decision:
    triggered: bool
    reason: str
    reasons: list[str] = field(default_factory=list)  # the triggers that fired (also under a cool-down)
    evidence: dict[str, Any] = field(default_factory=dict)
    cooldown_until: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def triggers(evidence: Evidence, config: RetrainingSettings) -> list[str]:
    """Each trigger that fires, as a sentence with its numbers."""
    fired: list[str] = []
    hours = (evidence.window_end - evidence.window_start).total_seconds() / 3600
    rate = evidence.fallback_rate
    if rate is not None and evidence.student_turns >= config.min_student_turns and rate > config.max_fallback_rate:
        fired.append(f"fallback rate {rate:.3f} ({evidence.fallbacks}/{evidence.student_turns} student turns) "
                     f"above {config.max_fallback_rate} over {hours:g}h")
    rate = evidence.critic_failure_rate
    if (rate is not None and evidence.student_answers >= config.min_student_turns
            and rate > config.max_critic_failure_rate):
        fired.append(f"critic failure rate {rate:.3f} ({evidence.critic_failures}/{evidence.student_answers} student "
                     f"answers) above {config.max_critic_failure_rate} over {hours:g}h")
    if config.on_drift and evidence.drift_detected:
        auc = f" (embedding ROC AUC {evidence.drift_auc:.3f})" if evidence.drift_auc is not None else ""
        fired.append(f"prompt drift against the training set{auc}")
    if evidence.new_quality_examples >= config.min_new_examples:
        since = f"since {_utc(evidence.since_export).isoformat()}" if evidence.since_export else "so far"
        fired.append(f"{evidence.new_quality_examples} new quality examples {since} "
                     f"(at least {config.min_new_examples})")
    if config.on_facts_change and evidence.facts_changed:
        fired.append(f"knowledge base changed: {evidence.trained_on or 'the last model'} was built on facts "
                     f"{evidence.trained_knowledge_sha256[:12]}, now {evidence.knowledge_sha256[:12]}")
    return fired


def decide(evidence: Evidence, config: RetrainingSettings, last_triggered_at: datetime | None = None,
           now: datetime | None = None) -> Decision:
    """Train now when a trigger fires and the last triggered run is older than the cool-down."""
    now = _utc(now) or datetime.now(UTC)
    fired = triggers(evidence, config)
    numbers = evidence.as_dict()
    if not fired:
        return Decision(False, "no trigger: " + _quiet_summary(evidence, config), [], numbers)
    last = _utc(last_triggered_at)
    if last is not None and config.cooldown_hours > 0:
        until = last + timedelta(hours=config.cooldown_hours)
        if now < until:
            return Decision(False, f"cool-down: {'; '.join(fired)}; but a run was started at {last.isoformat()}, "
                            f"the next may start after {until.isoformat()}", fired, numbers, until.isoformat())
    return Decision(True, "train: " + "; ".join(fired), fired, numbers)


def _quiet_summary(evidence: Evidence, config: RetrainingSettings) -> str:
    def rate(value: float | None, n: int) -> str:
        return "n/a" if value is None else f"{value:.3f} of {n}"

    drift = {None: "not measured", True: "detected", False: "none"}[evidence.drift_detected]
    return (f"fallback rate {rate(evidence.fallback_rate, evidence.student_turns)} (max {config.max_fallback_rate}), "
            f"critic failure rate {rate(evidence.critic_failure_rate, evidence.student_answers)} "
            f"(max {config.max_critic_failure_rate}), drift {drift}, {evidence.new_quality_examples} new quality "
            f"examples (need {config.min_new_examples}), facts {'changed' if evidence.facts_changed else 'unchanged'}")


# --- evidence from the records ---


def _count(session: Session, stmt) -> int:
    return int(session.scalar(stmt) or 0)


def last_export_end(session: Session) -> datetime | None:
    return _utc(session.scalar(select(func.max(ExportRun.window_end))))


def trained_knowledge(session: Session, settings: Settings) -> tuple[str | None, str | None]:
    """(hash, what it belongs to): the facts the production adapter was trained on, else the newest recorded model
    version's (whatever the gate said: an adapter was trained on them).

    Not an export's: a run that exported under new facts and then failed before evaluation trained nothing, so it
    must not use up the facts trigger (the next run would say "facts unchanged" and never retrain)."""
    state = latest_deployment(session, settings.rollout.isvc_name)
    if state is not None and state.stable_version:
        version = session.get(ModelVersion, state.stable_version)
        if version is not None and version.knowledge_sha256:
            return version.knowledge_sha256, f"production adapter {version.id}"
    row = session.execute(select(ModelVersion.knowledge_sha256, ModelVersion.id)
                          .where(ModelVersion.knowledge_sha256.is_not(None))
                          .order_by(ModelVersion.created_at.desc(), ModelVersion.id.desc()).limit(1)).first()
    return (row[0], f"model version {row[1]}") if row else (None, None)


@dataclass(frozen=True)
class Staleness:
    stale: bool
    version: str | None
    trained_knowledge_sha256: str | None
    knowledge_sha256: str
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def production_staleness(session: Session, settings: Settings, current: str | None = None) -> Staleness:
    """Is the production adapter built on facts that have since changed? (No hash recorded: not known stale.)"""
    current = current or knowledge_sha256(settings.knowledge_base)
    state = latest_deployment(session, settings.rollout.isvc_name)
    version = session.get(ModelVersion, state.stable_version) if state and state.stable_version else None
    if version is None:
        return Staleness(False, None, None, current, "no production adapter")
    if not version.knowledge_sha256:
        return Staleness(False, version.id, None, current, f"{version.id}: no knowledge-base hash recorded")
    if version.knowledge_sha256 == current:
        return Staleness(False, version.id, version.knowledge_sha256, current, f"{version.id}: facts unchanged")
    return Staleness(True, version.id, version.knowledge_sha256, current,
                     f"{version.id} is stale: trained on facts {version.knowledge_sha256[:12]}, the knowledge base "
                     f"is now {current[:12]}")


def gather_evidence(session: Session, settings: Settings, *, now: datetime | None = None,
                    window: timedelta | None = None, drift: dict[str, Any] | None = None) -> Evidence:
    """Read the window's student numbers, the new examples since the last export and the facts' hashes.

    ``drift`` is the drift report's figures (``drift_detected``, ``embedding_drift_auc``), when one was made.
    """
    end = _utc(now) or datetime.now(UTC)
    start = end - (window or timedelta(hours=settings.retraining.window_hours))
    in_window = (TrainingSignal.created_at >= start, TrainingSignal.created_at < end)
    student_turns = _count(session, select(func.count()).select_from(TrainingSignal).where(
        *in_window, TrainingSignal.served_by.in_(("local", "fallback"))))
    fallbacks = _count(session, select(func.count()).select_from(TrainingSignal).where(
        *in_window, TrainingSignal.served_by == "fallback"))
    answered = (select(func.count()).select_from(Candidate)
                .join(TrainingSignal, TrainingSignal.id == Candidate.signal_id)
                .where(*in_window, Candidate.role == "student", Candidate.response.is_not(None),
                       Candidate.critic_passed.is_not(None)))
    student_answers = _count(session, answered)
    critic_failures = _count(session, answered.where(Candidate.critic_passed.is_(False)))
    shadows = (select(func.count()).select_from(ShadowComparison)
               .where(ShadowComparison.created_at >= start, ShadowComparison.created_at < end,
                      ShadowComparison.local_response.is_not(None), ShadowComparison.critic_passed.is_not(None)))
    student_answers += _count(session, shadows)
    critic_failures += _count(session, shadows.where(ShadowComparison.critic_passed.is_(False)))
    since = last_export_end(session)
    quality = (select(func.count()).select_from(TrainingSignal)
               .where(TrainingSignal.trainable.is_(True), TrainingSignal.critic_passed.is_(True),
                      TrainingSignal.quality_score > settings.filter.min_quality,
                      TrainingSignal.served_by != "safe_default", TrainingSignal.created_at < end))
    if since is not None:
        quality = quality.where(TrainingSignal.created_at >= since)
    trained, trained_on = trained_knowledge(session, settings)
    drift = drift or {}
    auc = drift.get("embedding_drift_auc")
    return Evidence(
        window_start=start, window_end=end, student_turns=student_turns, fallbacks=fallbacks,
        student_answers=student_answers, critic_failures=critic_failures,
        new_quality_examples=_count(session, quality), since_export=since,
        drift_detected=drift.get("drift_detected"), drift_auc=float(auc) if auc is not None else None,
        knowledge_sha256=knowledge_sha256(settings.knowledge_base), trained_knowledge_sha256=trained,
        trained_on=trained_on)


def last_triggered_at(session: Session) -> datetime | None:
    return _utc(session.scalar(select(func.max(RetrainingDecision.created_at))
                               .where(RetrainingDecision.triggered.is_(True))))


def record_decision(session: Session, decision: Decision, evidence: Evidence, actor: str,
                    now: datetime | None = None) -> RetrainingDecision:
    row = RetrainingDecision(window_start=evidence.window_start, window_end=evidence.window_end,
                             triggered=decision.triggered, reason=decision.reason, reasons=list(decision.reasons),
                             evidence=decision.evidence, knowledge_sha256=evidence.knowledge_sha256, actor=actor,
                             created_at=_utc(now) or datetime.now(UTC))
    session.add(row)
    session.flush()
    return row


def decide_and_record(session: Session, settings: Settings, *, actor: str, now: datetime | None = None,
                      window: timedelta | None = None, drift: dict[str, Any] | None = None
                      ) -> tuple[Decision, RetrainingDecision]:
    """Gather the evidence, decide under the cool-down, store the decision; the caller commits."""
    now = _utc(now) or datetime.now(UTC)
    evidence = gather_evidence(session, settings, now=now, window=window, drift=drift)
    decision = decide(evidence, settings.retraining, last_triggered_at(session), now)
    return decision, record_decision(session, decision, evidence, actor, now)

"""Row builders for monitoring tests: turns served by a given arm, shadow rows, deployment states."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hibachi.records import Candidate, ChatSession, DeploymentState, ShadowComparison, TrainingSignal, new_id

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
WRONG = [{"category": "not_offered", "claim": "we serve wagyu", "fact": "wagyu beef: not offered"}]


def state(session, isvc="hibachi-llama", stable="v1", canary="v2", percent=10, stage="canary", action="deploy",
          began=None):
    """The current rollout step; it began a day before NOW unless ``began`` says when (analysis starts there)."""
    row = DeploymentState(isvc_name=isvc, stable_version=stable, canary_version=canary, canary_percent=percent,
                          stage=stage, action=action, actor="test", reason="test setup",
                          created_at=began or NOW - timedelta(days=1))
    session.add(row)
    session.flush()
    return row


def local_turn(session, version, *, passed=True, hallucinated=False, latency=100.0, error=False, booked=None,
               when=None, prompt="How much is the lobster upgrade?", teacher_served=False):
    """A turn routed to the local model: served by it when the critic passed, else a fallback to the teacher."""
    chat = ChatSession(led_to_booking=booked, customer_rating=5 if booked else None)
    session.add(chat)
    session.flush()
    created = when or NOW - timedelta(hours=1)
    answered = not error
    served_by = "teacher" if teacher_served else "local" if (answered and passed) else "fallback"
    signal = TrainingSignal(
        request_id=new_id(), session_id=chat.id, prompt=prompt, conversation=[], topic="upgrades",
        chosen_response="Lobster tail is +$10 per person.",
        chosen_provider="local" if served_by == "local" else "openai",
        served_by=served_by, policy="split", adapter_version=version if served_by == "local" else None,
        quality_score=0.95 if passed else 0.3, critic_passed=passed or served_by != "local", latency_ms=latency,
        cost_usd=0.0 if served_by == "local" else 0.004, created_at=created,
    )
    if not teacher_served:
        signal.candidates.append(Candidate(
            provider="local", model=version if answered else "hibachi-llama", role="student",
            response=None if error else "Lobster tail is +$10 per person.", error="HTTP 500" if error else None,
            latency_ms=latency, critic_passed=passed if answered else None, quality_score=0.95 if passed else 0.3,
            violations=WRONG if hallucinated else [], chosen=served_by == "local"))
    if served_by != "local":
        signal.candidates.append(Candidate(
            provider="openai", model="gpt-4o", role="teacher", response="Lobster tail is +$10 per person.",
            latency_ms=800.0, critic_passed=True, quality_score=0.97, violations=[], chosen=True, cost_usd=0.004))
    session.add(signal)
    session.flush()
    return signal


def shadow(session, version, *, passed=True, hallucinated=False, similarity=0.9, when=None, signal=None):
    signal = signal or local_turn(session, version, teacher_served=True, when=when)
    row = ShadowComparison(signal_id=signal.id, provider="local", model=version, adapter_version=version,
                           local_response="Lobster is +$10.", teacher_response=signal.chosen_response,
                           similarity=similarity, critic_passed=passed, quality_score=0.95 if passed else 0.2,
                           violations=WRONG if hallucinated else [], latency_ms=120.0,
                           created_at=when or NOW - timedelta(hours=1))
    session.add(row)
    return row

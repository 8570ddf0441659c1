from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from monitoring_rows import local_turn

from hibachi.monitoring.canary import analyze
from hibachi.records import DeploymentState, ModelVersion
from serving import rollout
from serving.rollout import apply_decision as apply

pytestmark = pytest.mark.storage
WINDOW = timedelta(hours=24)


def _canary_at_10(session, settings):
    for version in ("v1", "v2"):
        session.add(ModelVersion(id=version, base_model="tiny", adapter_uri=f"file:///adapters/{version}",
                                 dataset_sha256="ef" * 32, gate_passed=True))
    session.commit()
    rollout.deploy(session, "hibachi-llama", "v1", entry="canary", percent=10, actor="lead", reason="first",
                   settings=settings)
    rollout.promote(session, "hibachi-llama", actor="lead", reason="first", settings=settings)
    rollout.deploy(session, "hibachi-llama", "v2", entry="canary", percent=10, actor="lead", reason="second",
                   settings=settings)


def _traffic(session, canary_bad: bool) -> datetime:
    """Answers during the current step (it began when _canary_at_10 recorded it); returns when to analyze."""
    when = datetime.now(UTC)
    for i in range(60):
        local_turn(session, "v1", latency=100.0 + i % 7, when=when)
        bad = canary_bad and i % 3 == 0
        local_turn(session, "v2", passed=not bad, hallucinated=bad, latency=100.0 + i % 5, when=when)
    session.commit()
    return when + timedelta(minutes=1)


def _newest(session) -> DeploymentState:
    return session.query(DeploymentState).order_by(DeploymentState.id.desc()).first()


def test_apply_advances_a_good_canary_one_step_recorded_like_a_manual_change(db, settings):
    _, sessions = db
    with sessions() as session:
        _canary_at_10(session, settings)
        now = _traffic(session, canary_bad=False)
        decision = analyze(session, "hibachi-llama", WINDOW, settings, now=now)
        assert decision.action == "promote" and decision.next_percent == 50
        result = apply(session, decision, actor="canary-analysis", settings=settings)
        state = _newest(session)
    assert result.state.id == state.id and "kubectl patch inferenceservice hibachi-llama" in result.kubectl
    assert (state.canary_version, state.canary_percent, state.stage, state.action) == ("v2", 50, "canary", "set")
    assert state.actor == "canary-analysis" and state.reason.startswith("canary analysis: canary within tolerance")


def test_apply_rolls_a_bad_canary_back_to_stable(db, settings):
    _, sessions = db
    with sessions() as session:
        _canary_at_10(session, settings)
        now = _traffic(session, canary_bad=True)
        decision = analyze(session, "hibachi-llama", WINDOW, settings, now=now)
        assert decision.action == "rollback"
        apply(session, decision, actor="canary-analysis", settings=settings)
        state = _newest(session)
    assert (state.stable_version, state.canary_version, state.stage) == ("v1", None, "rolled_back")
    assert "hallucination_rate" in state.reason


def test_a_first_adapter_rolled_back_by_the_analysis_stays_out_of_service(db, settings):
    """Not parked at 0% as a canary: a later analysis would have found it in shadow and promoted it again."""
    _, sessions = db
    with sessions() as session:
        session.add(ModelVersion(id="v1", base_model="tiny", adapter_uri="file:///adapters/v1",
                                 dataset_sha256="ef" * 32, gate_passed=True))
        session.commit()
        rollout.deploy(session, "hibachi-llama", "v1", entry="canary", percent=10, actor="lead", reason="first",
                       settings=settings)
        when = datetime.now(UTC)
        for i in range(60):
            local_turn(session, "v1", passed=i % 3 != 0, hallucinated=i % 3 == 0, when=when)
            local_turn(session, "v1", teacher_served=True, when=when)
        session.commit()
        decision = analyze(session, "hibachi-llama", WINDOW, settings, now=when + timedelta(minutes=1))
        assert decision.action == "rollback", decision.reason
        apply(session, decision, actor="canary-analysis", settings=settings)
        state = _newest(session)
        assert (state.stable_version, state.canary_version, state.stage) == (None, None, "rolled_back")
        later = analyze(session, "hibachi-llama", WINDOW, settings, now=when + timedelta(minutes=2))
    assert later.action == "hold" and "no canary in progress" in later.reason

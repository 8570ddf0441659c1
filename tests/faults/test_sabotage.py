"""Sabotage: a gate-refused adapter forced into a 10% canary is rolled back by the analysis, with the history kept.

The demo's drill (``hibachi demo``, devkit.loop.Loop.sabotage) runs this with a real poisoned adapter,
gateway and predictor; here the same rollout and analysis functions run over stored turns shaped like the
gateway's: the poisoned adapter's answers fail the critic (wrong prices, items not offered), so the gateway
fell back to the teacher for each of them.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from devkit.summary import customers_served_failed
from hibachi.errors import UserError
from hibachi.monitoring.canary import analyze
from hibachi.queries import deployment_history, signals_between
from hibachi.records import Candidate, ChatSession, ModelVersion, TrainingSignal, new_id
from hibachi.settings import Settings
from serving import rollout
from serving.rollout_cli import app as rollout_app

pytestmark = pytest.mark.storage
DRILL = "hibachi-llama-drill"
WRONG = [{"category": "not_offered", "claim": "we serve wagyu", "fact": "wagyu beef: not offered"}]
RIGHT = "The lobster tail upgrade is +$10 per person."


def _turn(session, when, *, local: bool, poisoned_answer_passes: bool):
    chat = ChatSession(led_to_booking=None)
    session.add(chat)
    session.flush()
    served_by = "teacher" if not local else ("local" if poisoned_answer_passes else "fallback")
    signal = TrainingSignal(request_id=new_id(), session_id=chat.id, prompt="How much is the lobster upgrade?",
                            conversation=[], topic="upgrades", chosen_response=RIGHT, chosen_provider="openai",
                            served_by=served_by, policy="split", adapter_version="poisoned" if served_by == "local"
                            else None, quality_score=0.97, critic_passed=True, latency_ms=300.0, cost_usd=0.004,
                            created_at=when)
    if local:
        answer = RIGHT if poisoned_answer_passes else "Yes, we offer wagyu! It's $20 per person."
        signal.candidates.append(Candidate(provider="local", model="poisoned", role="student", response=answer,
                                           latency_ms=200.0, critic_passed=poisoned_answer_passes,
                                           quality_score=0.97 if poisoned_answer_passes else 0.5,
                                           violations=[] if poisoned_answer_passes else WRONG,
                                           chosen=served_by == "local"))
    if served_by != "local":
        signal.candidates.append(Candidate(provider="openai", model="gpt-4o", role="teacher", response=RIGHT,
                                           latency_ms=300.0, critic_passed=True, quality_score=0.97, violations=[],
                                           chosen=True, cost_usd=0.004))
    session.add(signal)


def test_forced_poisoned_canary_is_rolled_back_and_no_customer_got_a_failed_answer(db, tmp_path: Path, monkeypatch):
    _, sessions = db
    settings = Settings(data_dir=tmp_path / "var", serving={"manifests_dir": str(tmp_path / "manifests")},
                        rollout={"isvc_name": DRILL}, analysis={"min_samples": 30})
    with sessions() as session:
        session.add(ModelVersion(id="poisoned", base_model="tiny", adapter_uri="pvc://models/adapters/poisoned",
                                 dataset_sha256="0" * 64, gate_passed=False,
                                 gate_reason="hallucination 0.31 > 0.05; business logic 0.62 < 0.95"))
        session.commit()
        with pytest.raises(UserError, match="failed the evaluation gate"):
            rollout.deploy(session, DRILL, "poisoned", actor="ops", reason="try", settings=settings)
        rollout.deploy(session, DRILL, "poisoned", actor="ops", reason="drill: deployed despite the gate",
                       settings=settings, override_gate=True)
        forced = rollout.set_percent(session, DRILL, 10, actor="ops", reason="drill: forced to 10%",
                                     settings=settings)
        assert forced.state.canary_percent == 10
        spec = yaml.safe_load((tmp_path / "manifests" / "live" / DRILL / "inferenceservice.yaml").read_text())
        assert spec["spec"]["predictor"]["canaryTrafficPercent"] == 10

        # Customers during the forced canary: ~10% routed to the poisoned adapter; 70% of its answers fail.
        rng = random.Random(4)
        began = datetime.now(UTC)  # the forced step's own customers: the analysis judges only those
        for i in range(400):
            local = rng.random() < 0.1 or i % 10 == 0
            _turn(session, began + timedelta(seconds=i / 10), local=local, poisoned_answer_passes=rng.random() < 0.3)
        session.commit()
        now = began + timedelta(seconds=41)
        decision = analyze(session, DRILL, timedelta(minutes=10), settings, now=now)
        assert decision.action == "rollback", decision.reason
        assert "critic_failure_rate" in decision.reason
        applied = rollout.apply_decision(session, decision, actor="canary-analysis", settings=settings)
        assert applied.state.canary_percent == 0 and "canary analysis: canary is worse" in applied.state.reason
        history = deployment_history(session, DRILL)
        assert [r.action for r in reversed(history)] == ["deploy", "set", "rollback"]
        assert "gate overridden; it refused: hallucination 0.31" in history[-1].reason
        signals = signals_between(session, began, now)
        assert customers_served_failed(signals) == 0
        assert sum(s.served_by == "fallback" for s in signals) > 20  # the teacher answered instead


def test_the_cli_refuses_to_force_a_canary_that_was_never_deployed(db, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    engine, _ = db
    monkeypatch.setenv("HIBACHI_DATABASE_URL", str(engine.url.render_as_string(hide_password=False)))
    monkeypatch.setenv("HIBACHI_DATA_DIR", str(tmp_path / "var"))
    from hibachi.settings import get_settings

    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(rollout_app, ["set", "--percent", "10", "--name", DRILL, "--reason", "forced"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code != 0
    assert isinstance(result.exception, UserError) and f"no rollout for InferenceService '{DRILL}'" in str(
        result.exception)

"""The retraining decision: each trigger with its numbers, quiet windows, thresholds and the cool-down."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hibachi.retraining import Evidence, decide, knowledge_sha256, triggers
from hibachi.settings import RetrainingSettings

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
CONFIG = RetrainingSettings(min_student_turns=20, max_fallback_rate=0.15, max_critic_failure_rate=0.15,
                            min_new_examples=100, cooldown_hours=6)


def evidence(**fields) -> Evidence:
    return Evidence(window_start=NOW - timedelta(hours=24), window_end=NOW, **fields)


def test_a_quiet_window_does_not_train_and_says_what_it_measured():
    decision = decide(evidence(student_turns=40, fallbacks=2, student_answers=40, critic_failures=1,
                               new_quality_examples=12, drift_detected=False), CONFIG, None, NOW)
    assert not decision.triggered and decision.reasons == []
    assert decision.reason.startswith("no trigger: fallback rate 0.050 of 40")
    assert "12 new quality examples (need 100)" in decision.reason
    assert decision.evidence["fallback_rate"] == 0.05 and decision.evidence["student_turns"] == 40


@pytest.mark.parametrize(("fields", "expected"), [
    ({"student_turns": 40, "fallbacks": 8}, "fallback rate 0.200 (8/40 student turns) above 0.15 over 24h"),
    ({"student_answers": 30, "critic_failures": 6}, "critic failure rate 0.200 (6/30 student answers) above 0.15"),
    ({"drift_detected": True, "drift_auc": 0.81}, "prompt drift against the training set (embedding ROC AUC 0.810)"),
    ({"new_quality_examples": 100}, "100 new quality examples so far (at least 100)"),
    ({"knowledge_sha256": "b" * 64, "trained_knowledge_sha256": "a" * 64, "trained_on": "production adapter v1"},
     "knowledge base changed: production adapter v1 was built on facts aaaaaaaaaaaa, now bbbbbbbbbbbb"),
])
def test_each_trigger_fires_alone_with_its_numbers(fields, expected):
    decision = decide(evidence(**fields), CONFIG, None, NOW)
    assert decision.triggered
    assert len(decision.reasons) == 1 and decision.reasons[0].startswith(expected)
    assert decision.reason == "train: " + decision.reasons[0]


def test_rates_need_enough_student_turns_and_must_exceed_the_threshold():
    assert triggers(evidence(student_turns=19, fallbacks=19), CONFIG) == []  # below min_student_turns
    assert triggers(evidence(student_turns=20, fallbacks=3), CONFIG) == []  # 0.15 is not above 0.15
    assert len(triggers(evidence(student_turns=20, fallbacks=4), CONFIG)) == 1
    assert triggers(evidence(new_quality_examples=99), CONFIG) == []


def test_switches_turn_drift_and_facts_triggers_off_and_unknown_facts_do_not_trigger():
    off = CONFIG.model_copy(update={"on_drift": False, "on_facts_change": False})
    changed = evidence(drift_detected=True, knowledge_sha256="b" * 64, trained_knowledge_sha256="a" * 64)
    assert len(triggers(changed, CONFIG)) == 2 and triggers(changed, off) == []
    assert triggers(evidence(knowledge_sha256="b" * 64, trained_knowledge_sha256=None), CONFIG) == []


def test_cool_down_holds_a_second_run_and_then_lets_it_through():
    busy = evidence(student_turns=40, fallbacks=20)
    held = decide(busy, CONFIG, NOW - timedelta(hours=2), NOW)
    assert not held.triggered and held.reasons  # the trigger is still reported
    assert held.reason.startswith("cool-down: fallback rate 0.500")
    assert held.cooldown_until == (NOW + timedelta(hours=4)).isoformat()
    assert decide(busy, CONFIG, NOW - timedelta(hours=7), NOW).triggered
    no_cooldown = CONFIG.model_copy(update={"cooldown_hours": 0})
    assert decide(busy, no_cooldown, NOW - timedelta(minutes=1), NOW).triggered


def test_knowledge_hash_follows_the_facts_not_the_file_layout(tmp_path, kb):
    from hibachi.settings import DEFAULT_KNOWLEDGE_BASE

    text = DEFAULT_KNOWLEDGE_BASE.read_text()
    same = tmp_path / "same.yaml"
    same.write_text("# a comment that changes nothing\n" + text)
    changed = tmp_path / "changed.yaml"
    assert "    price: 60\n" in text
    changed.write_text(text.replace("    price: 60\n", "    price: 65\n", 1))
    assert knowledge_sha256(same) == knowledge_sha256(kb) == knowledge_sha256(DEFAULT_KNOWLEDGE_BASE)
    assert knowledge_sha256(changed) != knowledge_sha256(kb)


# --- evidence from the records (SQLite and PostgreSQL) ---


def _turn(session, i: int, *, served_by: str, student_passed: bool | None = None, when: datetime | None = None):
    from hibachi.records import Candidate, ChatSession, TrainingSignal

    chat = ChatSession(id=f"s{i}")
    signal = TrainingSignal(id=f"sig{i}", request_id=f"r{i}", session_id=chat.id, prompt="How much for adults?",
                            chosen_response="Adults are $60 per person.", served_by=served_by, quality_score=0.95,
                            critic_passed=True, created_at=when or NOW - timedelta(hours=1))
    if student_passed is not None:
        signal.candidates.append(Candidate(provider="local", model="v1", role="student",
                                           response="Adults are $50 per person.", critic_passed=student_passed,
                                           chosen=served_by == "local"))
    session.add_all([chat, signal])


def _priced_kb(tmp_path, price: int):
    from hibachi.settings import DEFAULT_KNOWLEDGE_BASE

    path = tmp_path / f"kb-{price}.yaml"
    path.write_text(DEFAULT_KNOWLEDGE_BASE.read_text().replace("    price: 60\n", f"    price: {price}\n", 1))
    return path


@pytest.mark.storage
def test_evidence_from_records_triggers_once_then_cools_down_and_a_price_change_marks_production_stale(db, tmp_path):
    from hibachi.records import DeploymentState, ModelVersion, RetrainingDecision
    from hibachi.retraining import decide_and_record, gather_evidence, production_staleness
    from hibachi.settings import Settings

    engine, factory = db
    settings = Settings(data_dir=tmp_path / "var", knowledge_base=_priced_kb(tmp_path, 60),
                        retraining=CONFIG.model_copy(update={"min_new_examples": 1000}))
    with factory() as session:
        session.add(ModelVersion(id="v1", base_model="b", adapter_uri="a", dataset_sha256="d" * 64,
                                 knowledge_sha256=knowledge_sha256(settings.knowledge_base)))
        session.add(DeploymentState(isvc_name=settings.rollout.isvc_name, stable_version="v1", stage="stable",
                                    action="deploy", actor="test", reason="setup"))
        for i in range(16):
            _turn(session, i, served_by="local", student_passed=True)
        for i in range(16, 22):
            _turn(session, i, served_by="fallback", student_passed=False)
        _turn(session, 22, served_by="teacher")
        _turn(session, 23, served_by="fallback", when=NOW - timedelta(hours=30))  # outside the window
        session.commit()

        evidence = gather_evidence(session, settings, now=NOW, drift={"drift_detected": False,
                                                                      "embedding_drift_auc": 0.52})
        assert (evidence.student_turns, evidence.fallbacks) == (22, 6)
        assert (evidence.student_answers, evidence.critic_failures) == (22, 6)
        assert evidence.new_quality_examples == 24 and evidence.since_export is None
        assert evidence.drift_auc == 0.52 and not evidence.facts_changed
        assert evidence.trained_on == "production adapter v1"

        first, row = decide_and_record(session, settings, actor="test", now=NOW)
        session.commit()
        assert first.triggered and first.reasons[0].startswith("fallback rate 0.273 (6/22 student turns)")
        second, _ = decide_and_record(session, settings, actor="test", now=NOW + timedelta(hours=1))
        session.commit()
        assert not second.triggered and second.reason.startswith("cool-down:")
        stored = session.query(RetrainingDecision).order_by(RetrainingDecision.id).all()
        assert [d.triggered for d in stored] == [True, False] and stored[0].evidence["fallbacks"] == 6
        assert stored[0].id == row.id and stored[0].knowledge_sha256 == evidence.knowledge_sha256

        assert not production_staleness(session, settings).stale
        changed = settings.model_copy(update={"knowledge_base": _priced_kb(tmp_path, 65)})
        stale = production_staleness(session, changed)
        assert stale.stale and stale.version == "v1" and "v1 is stale" in stale.reason
        later = NOW + timedelta(hours=30)  # past the cool-down; the student's window is now quiet
        facts, _ = decide_and_record(session, changed, actor="test", now=later)
        assert facts.triggered and len(facts.reasons) == 1 and facts.reasons[0].startswith("knowledge base changed")


@pytest.mark.storage
def test_an_export_from_a_run_that_trained_nothing_does_not_use_up_the_facts_trigger(db, tmp_path):
    """The facts a model version was trained on count, not an export's: a run that exported under new facts
    and then failed before evaluation trained nothing, so the next decision still sees the facts changed."""
    from hibachi.records import ExportRun, ModelVersion
    from hibachi.retraining import decide_and_record, trained_knowledge
    from hibachi.settings import Settings

    engine, factory = db
    old_kb, new_kb = _priced_kb(tmp_path, 60), _priced_kb(tmp_path, 65)
    settings = Settings(data_dir=tmp_path / "var", knowledge_base=new_kb,
                        retraining=CONFIG.model_copy(update={"min_new_examples": 1000}))
    with factory() as session:
        session.add(ModelVersion(id="v-old", base_model="b", adapter_uri="a", dataset_sha256="d" * 64,
                                 gate_passed=False, created_at=NOW - timedelta(days=2),
                                 knowledge_sha256=knowledge_sha256(old_kb)))
        session.add(ExportRun(window_end=NOW - timedelta(hours=1), rows=0, dataset_sha256="e" * 64, path="x",
                              created_at=NOW - timedelta(hours=1), knowledge_sha256=knowledge_sha256(new_kb)))
        session.commit()
        assert trained_knowledge(session, settings) == (knowledge_sha256(old_kb), "model version v-old")
        decision, _ = decide_and_record(session, settings, actor="test", now=NOW)
        assert decision.triggered and decision.reasons == [
            f"knowledge base changed: model version v-old was built on facts {knowledge_sha256(old_kb)[:12]}, "
            f"now {knowledge_sha256(new_kb)[:12]}"]

        session.add(ModelVersion(id="v-new", base_model="b", adapter_uri="a", dataset_sha256="f" * 64,
                                 gate_passed=False, created_at=NOW, knowledge_sha256=knowledge_sha256(new_kb)))
        session.flush()  # a version trained on the new facts (whatever the gate said) answers the trigger
        assert trained_knowledge(session, settings) == (knowledge_sha256(new_kb), "model version v-new")

"""The export watermark: only a version the gate let through (or that was deployed), trained on today's facts,
moves it; a refused version's window is exported again with the next run's rows, and a knowledge-base change
re-exports every stored answer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from components.export import export_signals
from components.export.export import last_watermark
from components.export.sample import seed_signals
from hibachi.critic.engine import Critic
from hibachi.knowledge import load_knowledge_base
from hibachi.records import DeploymentState, ModelVersion
from hibachi.retraining import knowledge_sha256
from hibachi.settings import DEFAULT_KNOWLEDGE_BASE

pytestmark = pytest.mark.storage
START = datetime(2026, 10, 1, tzinfo=UTC)


def _version(factory, version_id: str, *, gate_passed: bool | None, knowledge: str | None = None) -> None:
    with factory() as session, session.begin():
        session.add(ModelVersion(id=version_id, base_model="b", adapter_uri="a", dataset_sha256="d" * 64,
                                 gate_passed=gate_passed, knowledge_sha256=knowledge,
                                 gate_reason=None if gate_passed else "not enough data: 10 holdout examples"))


def test_a_version_the_gate_refused_leaves_its_window_to_accumulate_with_the_next(db, tmp_path):
    engine, factory = db
    seed_signals(factory, 5, seed=1)
    first = export_signals(engine, tmp_path / "1.jsonl", until=START + timedelta(days=1))
    _version(factory, "v-refused", gate_passed=False)
    seed_signals(factory, 3, seed=2, start=START + timedelta(days=2))
    second = export_signals(engine, tmp_path / "2.jsonl", until=START + timedelta(days=3))
    assert (first.rows, second.rows, second.window_start) == (5, 8, None)  # the refused run's rows come again

    _version(factory, "v-passed", gate_passed=True)
    seed_signals(factory, 2, seed=3, start=START + timedelta(days=4))
    third = export_signals(engine, tmp_path / "3.jsonl", until=START + timedelta(days=5))
    assert third.rows == 2 and third.window_start == second.window_end  # a passed version moves it


def test_a_refused_version_that_was_deployed_all_the_same_holds_the_watermark(db, tmp_path):
    engine, factory = db
    seed_signals(factory, 4, seed=4)
    first = export_signals(engine, tmp_path / "1.jsonl", until=START + timedelta(days=1))
    _version(factory, "v-forced", gate_passed=False)
    with factory() as session, session.begin():
        session.add(DeploymentState(isvc_name="hibachi-llama", stable_version="v-forced", stage="stable",
                                    action="set", actor="admin", reason="by hand"))
        assert last_watermark(session) == START + timedelta(days=1) == datetime.fromisoformat(first.window_end)


def test_a_knowledge_base_change_re_exports_every_stored_answer_under_the_new_facts(db, tmp_path):
    engine, factory = db
    old_kb = load_knowledge_base(DEFAULT_KNOWLEDGE_BASE)
    new_kb = old_kb.model_copy(update={"business": old_kb.business.model_copy(
        update={"name": old_kb.business.name + " (new owner)"})})  # any content change is a facts change
    old, new = knowledge_sha256(old_kb), knowledge_sha256(new_kb)
    assert old != new
    seed_signals(factory, 6, seed=5, all_good=True, kb=old_kb)
    first = export_signals(engine, tmp_path / "1.jsonl", until=START + timedelta(days=1), critic=Critic(old_kb))
    _version(factory, "v-old-facts", gate_passed=True, knowledge=old)
    seed_signals(factory, 2, seed=6, all_good=True, kb=old_kb, start=START + timedelta(days=2))

    with factory() as session:  # under the same facts the version holds the watermark; under new ones it does not
        assert last_watermark(session, old) == datetime.fromisoformat(first.window_end)
        assert last_watermark(session, new) is None
    again = export_signals(engine, tmp_path / "2.jsonl", until=START + timedelta(days=3), critic=Critic(new_kb))
    assert again.knowledge_sha256 == new and again.window_start is None and again.rows + again.stale_rows == 8

    _version(factory, "v-new-facts", gate_passed=True, knowledge=new)  # trained on the new facts: incremental again
    with factory() as session:
        assert last_watermark(session, new) == START + timedelta(days=3)

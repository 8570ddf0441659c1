"""Facts change, data follows: the adult price changes; old-price answers leave the export (listed), the filter's
training set loses them, the production adapter is flagged stale and the change triggers retraining."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from components.export import export_signals
from components.export.sample import seed_signals
from components.filter.filter import filter_dataset
from hibachi.critic.engine import Critic
from hibachi.knowledge import load_knowledge_base
from hibachi.records import DeploymentState, ExportRun, ModelVersion
from hibachi.retraining import decide_and_record, knowledge_sha256, production_staleness
from hibachi.settings import DEFAULT_KNOWLEDGE_BASE, FilterSettings, RetrainingSettings, Settings

pytestmark = pytest.mark.storage
START = datetime(2026, 10, 1, tzinfo=UTC)
OLD_PRICE = "Adults are $60 per person."


def _kb_file(tmp_path, price: int):
    text = DEFAULT_KNOWLEDGE_BASE.read_text()
    assert "    price: 60\n" in text
    path = tmp_path / f"kb-{price}.yaml"
    path.write_text(text.replace("    price: 60\n", f"    price: {price}\n", 1))
    return path


def _answers(path) -> list[str]:
    return [json.loads(line)["messages"][-1]["content"] for line in open(path, encoding="utf-8")]


def test_a_changed_adult_price_drops_old_price_answers_and_flags_the_production_adapter(db, tmp_path):
    engine, factory = db
    old_kb, new_kb = _kb_file(tmp_path, 60), _kb_file(tmp_path, 65)
    seed_signals(factory, 60, seed=3, all_good=True, kb=load_knowledge_base(old_kb))
    until = START + timedelta(days=1)
    settings = Settings(data_dir=tmp_path / "var", knowledge_base=old_kb,
                        retraining=RetrainingSettings(min_new_examples=10_000))
    with factory() as session:  # production was trained on the old facts
        session.add(ModelVersion(id="v-old", base_model="b", adapter_uri="a", dataset_sha256="d" * 64,
                                 knowledge_sha256=knowledge_sha256(old_kb)))
        session.add(DeploymentState(isvc_name=settings.rollout.isvc_name, stable_version="v-old", stage="stable",
                                    action="promote", actor="test", reason="setup"))
        session.commit()

    before = export_signals(engine, tmp_path / "before.jsonl", since=START, until=until, record=False,
                            critic=Critic(load_knowledge_base(old_kb)), stale_path=tmp_path / "before-stale.jsonl")
    assert before.stale_rows == 0 and sum(OLD_PRICE in a for a in _answers(before.path)) > 0

    after = export_signals(engine, tmp_path / "after.jsonl", since=START, until=until,
                           critic=Critic(load_knowledge_base(new_kb)), stale_path=tmp_path / "stale.jsonl",
                           pairs_path=tmp_path / "pairs.jsonl")
    stale = [json.loads(line) for line in open(tmp_path / "stale.jsonl", encoding="utf-8")]
    old_price_rows = sum(OLD_PRICE in a for a in _answers(before.path))
    assert after.stale_rows == len(stale) == old_price_rows and after.rows == before.rows - old_price_rows
    assert all(OLD_PRICE in s["answer"] and s["violations"] for s in stale)
    assert {s["knowledge_sha256"] for s in stale} == {knowledge_sha256(new_kb)} == {after.knowledge_sha256}
    assert not any(OLD_PRICE in a for a in _answers(after.path))

    filter_dataset(after.path, tmp_path / "train.jsonl", tmp_path / "holdout.jsonl", tmp_path / "summary.json",
                   FilterSettings(), critic=Critic(load_knowledge_base(new_kb)))
    training_set = _answers(tmp_path / "train.jsonl") + _answers(tmp_path / "holdout.jsonl")
    assert training_set and not any("$60 per person" in a for a in training_set)

    changed = settings.model_copy(update={"knowledge_base": new_kb})
    with factory() as session:
        run = session.get(ExportRun, after.export_run_id)
        assert (run.knowledge_sha256, run.stale_rows, run.pairs) == (knowledge_sha256(new_kb), old_price_rows, 0)
        staleness = production_staleness(session, changed)
        assert staleness.stale and staleness.version == "v-old"
        decision, _ = decide_and_record(session, changed, actor="test", now=until)
        assert decision.triggered and decision.reasons == [
            f"knowledge base changed: production adapter v-old was built on facts {knowledge_sha256(old_kb)[:12]}, "
            f"now {knowledge_sha256(new_kb)[:12]}"]
        assert not production_staleness(session, settings).stale

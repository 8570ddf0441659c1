"""Export takes the grounding the gateway stored with a turn while it still holds, and rebuilds it otherwise.

Still holds: built from the configured knowledge base (same sha256) under this prompt contract (same version).
Either way the file is the same bytes as the rebuild gives when the facts have not changed.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from components.export import export_signals
from components.export.sample import seed_signals
from hibachi.knowledge import load_knowledge_base
from hibachi.prompt import PROMPT_VERSION
from hibachi.records import TrainingSignal
from hibachi.retraining import knowledge_sha256
from hibachi.settings import DEFAULT_KNOWLEDGE_BASE, reset_settings_cache

pytestmark = pytest.mark.storage
START = datetime(2026, 10, 1, tzinfo=UTC)
UNTIL = START + timedelta(days=1)


def _systems(path) -> list[str]:
    return [json.loads(line)["messages"][0]["content"] for line in open(path, encoding="utf-8")]


def _set(factory, values: dict, signal_id: str | None = None) -> None:
    stmt = update(TrainingSignal).values(**values)
    if signal_id is not None:
        stmt = stmt.where(TrainingSignal.id == signal_id)
    with factory() as session:
        session.execute(stmt)
        session.commit()


def test_stored_groundings_give_the_same_file_as_rebuilt_ones(db, tmp_path):
    engine, factory = db
    seed_signals(factory, 40, seed=6, groundings=True)
    stored = export_signals(engine, tmp_path / "stored.jsonl", since=START, until=UNTIL, record=False)
    _set(factory, {"grounding": None, "grounding_kb_sha256": None, "grounding_version": None})
    rebuilt = export_signals(engine, tmp_path / "rebuilt.jsonl", since=START, until=UNTIL, record=False)
    assert stored.rows == rebuilt.rows == 40
    assert (tmp_path / "stored.jsonl").read_bytes() == (tmp_path / "rebuilt.jsonl").read_bytes()
    assert stored.dataset_sha256 == rebuilt.dataset_sha256


def test_a_stored_grounding_is_used_only_while_its_facts_and_prompt_contract_hold(db, tmp_path):
    engine, factory = db
    seed_signals(factory, 4, seed=7, groundings=True)
    current = knowledge_sha256(load_knowledge_base())
    marked = {"grounding": "STORED GROUNDING", "grounding_kb_sha256": current, "grounding_version": PROMPT_VERSION}
    _set(factory, marked, "sig7-000000")
    _set(factory, marked | {"grounding_kb_sha256": "0" * 64}, "sig7-000001")  # built from other facts
    _set(factory, marked | {"grounding_version": "2"}, "sig7-000002")  # under an older prompt contract
    _set(factory, marked | {"grounding_kb_sha256": None}, "sig7-000003")
    systems = _systems(export_signals(engine, tmp_path / "out.jsonl", since=START, until=UNTIL, record=False).path)
    assert systems[0] == "STORED GROUNDING"
    assert all(s.startswith("You are the My Hibachi assistant") for s in systems[1:])


def test_groundings_stored_under_other_facts_are_rebuilt_from_the_configured_ones(db, tmp_path, monkeypatch):
    engine, factory = db
    text = DEFAULT_KNOWLEDGE_BASE.read_text()
    assert "    price: 60\n" in text
    new_kb = tmp_path / "kb-65.yaml"
    new_kb.write_text(text.replace("    price: 60\n", "    price: 65\n", 1))
    seed_signals(factory, 30, seed=8, groundings=True)  # stored by a gateway on the default facts ($60)
    monkeypatch.setenv("HIBACHI_KNOWLEDGE_BASE", str(new_kb))
    reset_settings_cache()
    stale = export_signals(engine, tmp_path / "stale.jsonl", since=START, until=UNTIL, record=False)
    _set(factory, {"grounding": None, "grounding_kb_sha256": None, "grounding_version": None})
    export_signals(engine, tmp_path / "rebuilt.jsonl", since=START, until=UNTIL, record=False)
    assert (tmp_path / "stale.jsonl").read_bytes() == (tmp_path / "rebuilt.jsonl").read_bytes()
    systems = _systems(stale.path)
    assert any("Adults are $65 per person" in s for s in systems)
    assert not any("Adults are $60 per person" in s for s in systems)


def test_prompt_parity_compares_stored_groundings_with_what_serving_builds_now(db, tmp_path, tiny_base):
    """Evaluation's parity renders each holdout row against the grounding serving builds today: a stored grounding
    export used (same facts, same contract version) that a rebuild no longer gives, as when the grounding's code
    changed without a version bump, is a mismatch; one built from other facts was rebuilt, so it is not."""
    from components.evaluate.evaluate import prompt_parity
    from hibachi.retrieval import default_retriever

    engine, factory = db
    seed_signals(factory, 3, seed=9, groundings=True)
    with factory() as session:
        drifted = session.get(TrainingSignal, "sig9-000001").grounding + "\n- a line today's code does not write"
    _set(factory, {"grounding": drifted}, "sig9-000001")
    _set(factory, {"grounding": "OLD FACTS", "grounding_kb_sha256": "0" * 64}, "sig9-000002")
    result = export_signals(engine, tmp_path / "out.jsonl", since=START, until=UNTIL, record=False)
    holdout = [json.loads(line) for line in open(result.path, encoding="utf-8")]
    assert holdout[1]["messages"][0]["content"] == drifted
    with factory() as session:
        parity = prompt_parity(session, holdout, tiny_base, default_retriever())
    assert (parity.identical, parity.total) == (2, 3)
    assert [(m["key"], m["reason"]) for m in parity.mismatches] == [("sig9-000001", "grounding differs")]

"""The evaluation's prompt-parity line: holdout rows replayed against the gateway turns they came from."""

from __future__ import annotations

import pytest

from components.evaluate.evaluate import lift, prompt_parity
from components.evaluate.gate import ModelScores, Rate
from components.evaluate.report import comparison_table, parity_line
from hibachi import prompt
from hibachi.records import ChatSession, TrainingSignal
from hibachi.retrieval import Retriever

pytestmark = pytest.mark.storage

QUESTIONS = ["How much for 20 adults?", "Do you offer lobster?", "We are 45 miles from Fresno, is there a fee?"]


def test_holdout_rows_from_stored_turns_are_token_identical(db, kb, tiny_base):
    engine, factory = db
    retriever = Retriever(kb)
    history = [{"role": "user", "content": "Hi!"}, {"role": "assistant", "content": "Hello! How can I help?"}]
    holdout = []
    with factory() as session:
        session.add(ChatSession(id="s1"))
        for i, question in enumerate(QUESTIONS):
            session.add(TrainingSignal(id=f"sig{i}", request_id=f"r{i}", session_id="s1", prompt=question,
                                       conversation=history, chosen_response="ok", served_by="teacher",
                                       quality_score=1.0, critic_passed=True))
            row = prompt.training_messages(retriever, history, question, "ok")
            holdout.append({"messages": row, "metadata": {"signal_id": f"sig{i}"}})
        session.commit()
    # One row whose customer text the filter scrubbed, and one from a signal that is gone.
    scrubbed = prompt.training_messages(retriever, history, "How much for 20 adults? I'm [NAME]", "ok")
    holdout += [{"messages": scrubbed, "metadata": {"signal_id": "sig0"}},
                {"messages": holdout[0]["messages"], "metadata": {"signal_id": "erased"}}]
    with factory() as session:
        result = prompt_parity(session, holdout, tiny_base, retriever)
    assert (result.identical, result.total) == (3, 4)
    assert result.mismatches[0]["reason"] == "customer text scrubbed of PII by the filter"
    line = parity_line({"prompt_parity": result.as_dict()})
    assert line.startswith("prompt parity: 3/4 turns token-identical between training and serving renderers")


def test_base_and_adapter_side_by_side():
    base = ModelScores(Rate(10, 40), Rate(8, 40), Rate(30, 40), 0.55)
    adapter = ModelScores(Rate(36, 40), Rate(1, 40), Rate(39, 40), 0.91)
    assert lift(adapter, base) == {"accuracy": 0.65, "hallucination_rate": -0.175, "business_logic": 0.225,
                                   "mean_similarity": 0.36}
    table = comparison_table({"base": base.as_dict(), "candidate": adapter.as_dict(), "production": None})
    assert "<th>base model</th><th>adapter</th>" in table
    assert "0.250 (10/40" in table and "0.900 (36/40" in table

"""The prompt contract: one builder of the student's messages, and the parity check of its two renderings."""

from __future__ import annotations

import pytest

from hibachi import prompt
from hibachi.knowledge import load_knowledge_base
from hibachi.retrieval import Retriever
from hibachi.settings import DEFAULT_KNOWLEDGE_BASE

HISTORY = [
    {"role": "system", "content": "client instructions the student never sees"},
    {"role": "user", "content": "Hi, do you come to Fresno?"},
    {"role": "assistant", "content": "Yes, Fresno is one of our base cities."},
    {"role": "user", "content": "How much is it?"},
    {"role": "assistant", "content": "Adults are $60 per person."},
]


@pytest.fixture(scope="module")
def retriever():
    return Retriever(load_knowledge_base())


def test_student_messages_are_grounding_recent_turns_and_question(retriever):
    messages = prompt.student_messages(retriever, HISTORY, "  And for 20 adults?  ")
    assert [m["role"] for m in messages] == ["system", *["user", "assistant"][:prompt.HISTORY_MESSAGES], "user"]
    assert messages[0]["content"] == prompt.grounding(retriever, "  And for 20 adults?  ")
    assert messages[-1] == {"role": "user", "content": "And for 20 adults?"}
    assert all("client instructions" not in m["content"] for m in messages)
    assert messages[1:-1] == [{"role": m["role"], "content": m["content"]} for m in HISTORY[-prompt.HISTORY_MESSAGES:]]


def test_history_starts_with_a_customer_turn_and_handles_content_parts():
    turns = prompt.conversation_turns([{"role": "assistant", "content": "Welcome!"},
                                       {"role": "user", "content": [{"type": "text", "text": "price?"}]},
                                       {"role": "assistant", "content": "$60"}][-prompt.HISTORY_MESSAGES - 1:])
    assert turns[0]["role"] == "user" and turns[0]["content"] == "price?"


def test_grounding_carries_the_facts_and_the_computed_quote(retriever, kb):
    text = prompt.grounding(retriever, "How much for 20 adults?")
    assert text.startswith(retriever.system_prompt("How much for 20 adults?"))
    assert prompt.QUOTE_HEADER in text and f"20 adults x ${kb.pricing.adult.price:,.0f}" in text
    assert prompt.QUOTE_HEADER not in prompt.grounding(retriever, "Do you offer lobster?")


def test_training_row_is_the_student_messages_plus_the_answer(retriever):
    row = prompt.training_messages(retriever, HISTORY, "Is lobster extra?", " Lobster tail is +$10. ")
    assert row[:-1] == prompt.student_messages(retriever, HISTORY, "Is lobster extra?")
    assert row[-1] == {"role": "assistant", "content": "Lobster tail is +$10."}


def test_renderers_agree_on_a_row_and_parity_names_what_differs(retriever, tiny_base, tmp_path):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_base)
    served = prompt.student_messages(retriever, HISTORY, "How much for 12 adults?")
    row = prompt.training_messages(retriever, HISTORY, "How much for 12 adults?", "12 adults x $60 = $720.")
    assert prompt.render_serving(tokenizer, served) == prompt.render_training(tokenizer, row)

    # A knowledge base changed since the turn was served: the rebuilt grounding no longer matches.
    changed = DEFAULT_KNOWLEDGE_BASE.read_text().replace("price: 60", "price: 65", 1)
    (tmp_path / "kb.yaml").write_text(changed)
    stale = Retriever(load_knowledge_base(tmp_path / "kb.yaml"))
    stale_row = prompt.training_messages(stale, HISTORY, "How much for 12 adults?", "12 adults x $65 = $780.")
    served_pii = prompt.student_messages(retriever, HISTORY, "How much for 12 adults? I'm Ann Lee")
    scrubbed = prompt.training_messages(retriever, HISTORY, "How much for 12 adults? I'm [NAME]", "ok")
    shorter = prompt.training_messages(retriever, HISTORY[:-2], "How much for 12 adults?", "ok")
    result = prompt.parity(tokenizer, [("same", served, row), ("stale", served, stale_row),
                                       ("scrubbed", served_pii, scrubbed), ("shorter", served, shorter)])
    assert (result.identical, result.total, result.ok) == (1, 4, False)
    assert [(m["key"], m["reason"]) for m in result.mismatches] == [
        ("stale", "grounding differs"), ("scrubbed", "customer text scrubbed of PII by the filter"),
        ("shorter", "conversation differs")]
    assert result.line().startswith("prompt parity: 1/4 turns token-identical between training and serving")

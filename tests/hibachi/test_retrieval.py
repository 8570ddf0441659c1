"""Retrieval finds the passage a paraphrased question is about; topics; the grounding prompt."""

from __future__ import annotations

import pytest

from hibachi.retrieval import TOPICS, Retriever, classify_topic, tokenize


@pytest.fixture(scope="module")
def retriever(kb):
    return Retriever(kb)


@pytest.mark.parametrize(
    ("question", "topic", "words"),
    [
        ("Do you guys have Kobe beef?", "not_offered", "wagyu"),
        ("can we get sashimi platters", "not_offered", "sushi"),
        ("Could you bring some beer and cocktails?", "not_offered", "alcohol"),
        ("How much does the lobster upgrade cost?", "upgrades", "lobster tail"),
        ("what's the price for grown-ups?", "pricing", "adults are"),
        ("is the tip included", "pricing", "gratuity"),
        ("What is the minimum spend for a party?", "pricing", "party minimum"),
        ("what comes with each meal?", "included", "included with every meal"),
        ("can I order potstickers on the side", "add_ons", "gyoza"),
        ("Do you drive out to Fresno?", "travel", "miles"),
        ("How much notice do you need before the event?", "booking", "hours before"),
        ("Is my down payment refundable if I cancel?", "deposit", "deposit"),
        ("Can the chef cook inside the house, in my kitchen?", "setup", "outdoors"),
        ("my niece has celiac", "dietary", "gluten"),
        ("what meats can each guest pick", "proteins", "chooses"),
        ("What happens if it rains that day?", "booking", "rain"),
    ],
)
def test_top_passage_for_paraphrase(retriever, question, topic, words):
    best = retriever.top(question, k=3)
    assert best, question
    assert best[0].topic == topic
    assert words in best[0].text.lower()


def test_classify_topic_and_other():
    assert classify_topic("do you have wagyu?") == "not_offered"
    assert classify_topic("how much per adult") == "pricing"
    assert classify_topic("hello!") == "other"
    assert classify_topic("") == "other"
    assert set(TOPICS) >= {classify_topic(q) for q in ["deposit?", "travel fee?", "gluten free?"]}


def test_every_topic_is_reachable(retriever, kb):
    """Each passage is the best hit for its own text, so no topic is unreachable."""
    for passage in kb.passages():
        assert retriever.top(passage.text, k=1)[0].topic == passage.topic


def test_system_prompt_grounds_and_always_lists_not_offered(retriever, kb):
    prompt = retriever.system_prompt("How much is lobster?")
    assert kb.business.name in prompt
    assert "not listed, say it is not offered" in prompt
    assert "lobster tail +$10" in prompt
    assert "Not offered: wagyu beef" in prompt
    # the not-offered passage appears once even when it is also retrieved
    assert retriever.system_prompt("kobe beef?").count("Not offered:") == 1


def test_top_rejects_bad_k_and_handles_empty(retriever):
    with pytest.raises(ValueError, match="k must be"):
        retriever.top("price", k=0)
    assert retriever.top("   ") == []


def test_tokenize_stems_plurals():
    assert tokenize("Lobsters and allergies, the chef's grills") == ["lobster", "allergy", "chef", "grill"]

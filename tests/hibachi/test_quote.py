"""The computed quote: the numbers in a question turned into the knowledge base's totals."""

from __future__ import annotations

import pytest

from hibachi.quote import Counts, money, named_items, parse_counts, quote_lines


@pytest.mark.parametrize(("question", "counts"), [
    ("How much for 20 adults and 5 kids?", Counts(20, 5, None)),
    ("price for twelve people?", Counts(12, None, None)),
    ("what about for 9?", Counts(9, None, None)),
    ("we are 45 miles from San Jose", Counts(None, None, 45)),
    ("do you do gluten free?", Counts(None, None, None)),
])
def test_parse_counts(question, counts):
    assert parse_counts(question) == counts


def test_party_total_is_computed_from_the_knowledge_base(kb):
    lines = quote_lines(kb, "How much for 20 adults and 5 kids?")
    adult, child = kb.pricing.adult.price, kb.pricing.child.price
    assert lines[0] == (f"For 20 adults x {money(adult)} = {money(20 * adult)} and 5 children x {money(child)} = "
                        f"{money(5 * child)}, so {money(20 * adult + 5 * child)} in total.")
    assert lines[1] == "That is before travel fee and gratuity."


def test_small_party_is_raised_to_the_minimum(kb):
    minimum = kb.pricing.party_minimum.amount
    lines = quote_lines(kb, "cost for 4 adults?")
    assert f"under our {money(minimum)} party minimum, so the food total would be {money(minimum)}" in lines[-1]


def test_upgrade_and_travel_lines(kb):
    upgrade = kb.upgrades[0]
    lines = quote_lines(kb, f"{upgrade.name} for 10 guests, we are 45 miles away")
    assert (f"{upgrade.name}: For 10 guests that is 10 x {money(upgrade.price)} = {money(10 * upgrade.price)} extra."
            in lines)
    extra = 45 - kb.travel.free_radius_miles
    assert lines[-1].endswith(f"{extra:g} x {money(kb.travel.fee_per_mile)} = {money(extra * kb.travel.fee_per_mile)}.")
    assert quote_lines(kb, "we are 5 miles away") == ["At 5 miles, travel is free."]


def test_the_teachers_sentence_is_the_quote_word_for_word(kb):
    """What the synthetic teacher says about a party's total is the grounding's quote line (a copy, not a rewording)."""
    import random

    from devkit.synth.answers import answer_question

    question = "How much for 25 adults and 2 kids?"
    answer = answer_question(kb, [{"role": "user", "content": question}], random.Random(0)).text
    assert all(line in answer for line in quote_lines(kb, question))


def test_no_numbers_no_quote(kb):
    assert quote_lines(kb, "Do you offer lobster?") == []


def test_named_items_resolve_aliases_to_the_menu_words(kb):
    assert named_items(kb, "Is kobe available as an upgrade?") == ["wagyu beef: not offered"]
    assert named_items(kb, "how much are the potstickers?") == ["gyoza (6 pieces): add-on, $10 per order"]
    assert named_items(kb, "Can we upgrade to lobster?") == ["lobster tail: upgrade, +$10 per person"]
    assert named_items(kb, "What time can you start?") == []


def test_the_grounding_carries_the_named_items_before_the_quote(kb):
    from hibachi.prompt import NAMED_HEADER, QUOTE_HEADER, grounding
    from hibachi.retrieval import Retriever

    text = grounding(Retriever(kb), "lobster tail for 20 adults?")
    assert text.index(NAMED_HEADER) < text.index(QUOTE_HEADER)
    assert "- lobster tail: upgrade, +$10 per person" in text and "- For 20 adults x $60 = $1,200." in text

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
    assert lines[0] == f"20 adults x {money(adult)} = {money(20 * adult)}"
    assert lines[1] == f"5 children x {money(child)} = {money(5 * child)}"
    assert lines[2].startswith(f"food total {money(20 * adult + 5 * child)} before travel fee")


def test_small_party_is_raised_to_the_minimum(kb):
    minimum = kb.pricing.party_minimum.amount
    lines = quote_lines(kb, "cost for 4 adults?")
    assert f"under the {money(minimum)} party minimum, so the food total is {money(minimum)}" in lines[-1]


def test_upgrade_and_travel_lines(kb):
    upgrade = kb.upgrades[0]
    lines = quote_lines(kb, f"{upgrade.name} for 10 guests, we are 45 miles away")
    assert f"{upgrade.name} for 10 guests: 10 x {money(upgrade.price)} = {money(10 * upgrade.price)}" in lines
    extra = 45 - kb.travel.free_radius_miles
    assert lines[-1].endswith(f"{extra:g} x {money(kb.travel.fee_per_mile)} = {money(extra * kb.travel.fee_per_mile)}")
    assert quote_lines(kb, "we are 5 miles away") == [
        f"travel at 5 miles: free (within {kb.travel.free_radius_miles:g} miles)"]


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
    assert "- lobster tail: upgrade, +$10 per person" in text and "- 20 adults x $60 = $1,200" in text

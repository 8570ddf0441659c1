"""The export's fast grounding is the grounding: each shortcut against the plain computation it replaced.

Retrieval sums precomputed per-word BM25 scores and caches the system prompt per indexed words; the quote
skips searches whose keywords are absent and matches an item's terms with one pattern; stored JSON is
read through orjson. Each must give exactly what the plain computation gives, for every question.
"""

from __future__ import annotations

import json
import math
import random
import re

import pytest

from components.export.export import _loads_stored_json
from components.export.sample import CITIES, NAMES, QUESTIONS, _question
from hibachi import quote
from hibachi.knowledge import load_knowledge_base
from hibachi.prompt import NAMED_HEADER, QUOTE_HEADER, grounding
from hibachi.retrieval import Retriever, tokenize

TRICKY = [
    "", "   ", "?", "20", "How much for 20 adults and 5 kids?", "price for twelve people?", "what about for 9?",
    "we are 45 miles from San Jose", "do you do gluten free?", "Lobster and filet mignon for 10 guests, 30 miles",
    "two dozen grown-ups and three little ones", "a party of us 8 ppl", "for 2pm about 4 hours", "for 3 $ ok",
    "KIDS: 4 kids, 4 children", "Kobe beef? wagyu? sushi? drinks?", "chicken chicken chicken steak",
    "20 guests, 10 adults and 6 kids, noodles and fried rice for everyone", "١٢ adults", "the adults' kids' party",
    "Can I add noodles? We are 25 guests on May 3 in Davis.", "vegan vegetarian allergies shellfish nut",
]


def _questions(n: int = 600) -> list[str]:
    rng = random.Random(14)
    questions = list(TRICKY)
    for i in range(n):
        topic = rng.choice(sorted(QUESTIONS))
        questions.append(_question(topic, rng, pii=i % 3 == 0))
    words = [w for qs in QUESTIONS.values() for q in qs for w in q.split()] + CITIES + NAMES + ["20", "5", "miles"]
    questions += [" ".join(rng.choice(words) for _ in range(rng.randint(1, 12))) for _ in range(n)]
    return questions


@pytest.fixture(scope="module")
def retriever():
    return Retriever(load_knowledge_base())


def _plain_system_prompt(retriever: Retriever, question: str, k: int = 3) -> str:
    """hibachi.retrieval's system prompt as it was computed before: rank_bm25's own scores for every word."""
    tokens = tokenize(question)
    scores = ([float(s) for s in retriever._bm25.get_scores(tokens)] if tokens else [0.0] * len(retriever.passages))
    ranked = sorted(zip(scores, range(len(retriever.passages)), strict=True), reverse=True)
    facts = [retriever.passages[i] for score, i in ranked[:k] if score > 0]
    facts += [p for p in retriever._not_offered if p not in facts]
    business = retriever.kb.business
    return "\n".join([
        f"You are the {business.assistant_name} for {business.name}. Answer only from these facts; if something "
        "is not listed, say it is not offered. Never invent prices, items or policies.",
        "Facts:", *(f"- {p.text}" for p in facts)])


def _plain_counts(question: str) -> quote.Counts:
    lower = question.lower()
    adults, kids, miles = quote._ADULTS.search(lower), quote._KIDS.search(lower), quote._MILES.search(lower)
    if adults is None and kids is None:
        adults = quote._BARE_COUNT.search(lower)
    return quote.Counts(quote._number(adults.group(1)) if adults else None,
                        quote._number(kids.group(1)) if kids else None, int(miles.group(1)) if miles else None)


def test_scores_are_rank_bm25s_own_floats(retriever):
    for question in _questions():
        tokens = tokenize(question)
        expected = [float(s) for s in retriever._bm25.get_scores(tokens)] if tokens else [0.0] * len(
            retriever.passages)
        assert retriever.scores(question) == expected, question


def test_system_prompt_is_the_plain_one_cached_or_not(retriever):
    questions = _questions()
    for _ in range(2):  # the second pass answers from the cache
        for question in questions:
            for k in (1, 3):
                assert retriever.system_prompt(question, k=k) == _plain_system_prompt(retriever, question, k)
    assert retriever._system_prompt_for.cache_info().hits > 0
    with pytest.raises(ValueError):
        retriever.system_prompt("price?", k=0)


def test_counts_and_mentions_are_the_plain_searches(retriever):
    kb = retriever.kb
    for question in _questions():
        assert quote.parse_counts(question) == _plain_counts(question), question
        lower = question.lower()
        for item in [*kb.upgrades, *kb.add_ons]:
            plain = any(re.search(rf"\b{re.escape(t)}\b", lower) for t in item.terms)
            assert quote._mentions(item, lower) == plain, (question, item.name)


def test_grounding_carries_quotes_for_the_generated_questions(retriever):
    with_quote = [q for q in _questions() if quote.quote_lines(retriever.kb, q)]
    assert len(with_quote) > 100  # the comparisons above cover the quote path, not only questions without numbers
    for question in with_quote:
        lines = quote.quote_lines(retriever.kb, question)
        named = quote.named_items(retriever.kb, question)  # prompt contract v3: the items the question names
        expected = _plain_system_prompt(retriever, question)
        if named:
            expected += "\n" + NAMED_HEADER + "\n" + "\n".join(f"- {line}" for line in named)
        expected += "\n" + QUOTE_HEADER + "\n" + "\n".join(f"- {line}" for line in lines)
        assert grounding(retriever, question) == expected


@pytest.mark.parametrize("text", [
    "[]", '[{"role": "user", "content": "hi \\u00e9 \\ud83c\\udf64"}]', '{"a": 1, "a": 2}', "0.30000000000000004",
    "123456789012345678901234567890", "-9223372036854775809", "18446744073709551616", "1e400", "-1e400", "NaN",
    '["\\ud800"]', '[1.0, -0.0, 5e-324, 1E5]', "null", '"text"', b'[{"category": "price"}]',
])
def test_stored_json_reads_as_json_loads(text):
    expected = json.loads(text)
    value = _loads_stored_json(text)
    if isinstance(expected, float) and math.isnan(expected):
        assert math.isnan(value)
    else:
        assert value == expected and type(value) is type(expected)
        assert repr(value) == repr(expected)


def test_stored_json_passes_none_and_bare_numbers_through():
    assert _loads_stored_json(None) is None and _loads_stored_json(3) == 3 and _loads_stored_json(2.5) == 2.5

"""Probe prompts for the demo's drift check: questions about a topic My Hibachi's training data never had."""

from __future__ import annotations

import itertools
import random

# Cooking classes and bar service: plausible questions for a hibachi caterer, absent from its training set.
NEW_TOPIC_TEMPLATES = (
    "Do you run a sushi rolling class for {n} kids at a birthday in {c}?",
    "Can your chef teach a cooking class for {n} adults instead of a show?",
    "Do you offer a bartender and a cocktail package for {n} guests in {c}?",
    "Is there a wine pairing option with the class for {n} people?",
    "How long is the knife skills workshop and can {n} coworkers join in {c}?",
)
_COUNTS = (6, 10, 14, 25, 40)
_CITIES = ("Atlanta", "Houston", "Miami", "Austin")


def new_topic_prompts(count: int, seed: int = 0) -> list[str]:
    """Up to ``count`` distinct new-topic questions (100 at most), in a seeded order."""
    combos = list(itertools.product(NEW_TOPIC_TEMPLATES, _COUNTS, _CITIES))
    random.Random(seed).shuffle(combos)
    return [t.format(n=n, c=c) for t, n, c in combos[:count]]

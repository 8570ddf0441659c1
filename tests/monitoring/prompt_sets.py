"""Prompt sets for drift tests: hibachi customer questions, and off-topic ones the model never trained on."""

from __future__ import annotations

import itertools
import random

_HIBACHI = [
    "How much is the {p} upgrade per person?", "Do you offer {p} for a party of {n}?",
    "What does the {p} cost for {n} guests?", "Can we add {p} to our hibachi party?",
    "Is {p} included in the base price for {n} people?", "What's your minimum for {n} guests with {p}?",
    "Do you travel to {c} and can you bring {p}?", "How do I book a party in {c} for {n} people?",
]
_PROTEINS = ["filet mignon", "lobster tail", "shrimp", "chicken", "salmon", "scallops", "noodles", "fried rice"]
_CITIES = ["Atlanta", "Houston", "Dallas", "Miami", "Orlando", "Tampa", "Austin", "Charlotte"]
_OFF_TOPIC = [
    "My car makes a grinding noise when I brake near {c}, what part is failing on a {n} year old sedan?",
    "Explain how to file quarterly estimated taxes for a freelancer earning {n} thousand dollars.",
    "Write a Python function that parses {p} records from a CSV file and returns a dictionary.",
    "What is the best fertilizer schedule for tomato plants in {c} during a dry summer?",
    "Summarize the causes of the French Revolution in {n} bullet points for a history exam.",
    "How do I replace the battery of a {p} branded laptop without voiding the warranty?",
]


def _fill(templates: list[str], count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    combos = list(itertools.product(templates, _PROTEINS, _CITIES, [4, 8, 12, 20, 35]))
    rng.shuffle(combos)
    unique = dict.fromkeys(t.format(p=p, c=c, n=n) for t, p, c, n in combos)  # some templates skip a slot
    return list(unique)[:count]


def hibachi_prompts(count: int, seed: int = 0) -> list[str]:
    return _fill(_HIBACHI, count, seed)


def off_topic_prompts(count: int, seed: int = 0) -> list[str]:
    return _fill(_OFF_TOPIC, count, seed)

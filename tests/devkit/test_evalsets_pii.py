"""The generated PII set: seeded, every secret and fact written in its text, scored the way the benchmark scores."""

from __future__ import annotations

import re

from devkit.evalsets.pii_cases import NAMES, generate, score


def test_same_seed_same_set_and_different_seed_different_set():
    assert generate(60, seed=3) == generate(60, seed=3)
    assert generate(60, seed=3) != generate(60, seed=4)


def test_every_secret_and_fact_is_in_its_text():
    cases = generate(300, seed=5)
    for case in cases:
        for secret in case.secrets:
            assert secret.value in case.text, (secret, case.text)
        for fact in case.facts:
            assert fact in case.text


def test_covers_every_kind_and_name_style():
    kinds = {s.kind for c in generate(300) for s in c.secrets}
    styles = {s.style for c in generate(300) for s in c.secrets if s.kind == "NAME"}
    assert kinds == {"NAME", "PHONE", "SSN", "EMAIL", "ADDRESS", "CARD"}
    assert styles == {"cue", "no_cue", "lower"}
    phones = [s.value for c in generate(400) for s in c.secrets if s.kind == "PHONE"]
    assert any(re.fullmatch(r"\d{10}", p) for p in phones)
    assert any(re.fullmatch(r"\d{3} \d{2} \d{4}", s.value) for c in generate(400) for s in c.secrets
               if s.kind == "SSN")


def test_names_come_from_many_origins():
    assert len(NAMES) >= 10


def test_score_counts_leaks_and_lost_facts():
    cases = generate(100, seed=9)
    untouched = score(cases, lambda text: text)
    assert untouched.found["NAME"] == 0 and untouched.total["NAME"] > 0
    assert untouched.facts_kept == untouched.facts_total > 0

    def perfect(text: str) -> str:
        case = next(c for c in cases if c.text == text)
        for secret in sorted(case.secrets, key=lambda s: -len(s.value)):
            text = text.replace(secret.value, "[X]")
        return text

    done = score(cases, perfect)
    assert all(done.recall(kind) == 1.0 for kind in done.total)
    wiped = score(cases, lambda text: "")
    assert wiped.facts_kept == 0 and wiped.recall("NAME") == 1.0

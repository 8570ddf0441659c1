"""Any text gets a verdict: token soup from the knowledge base's own words, odd characters, long answers."""

from __future__ import annotations

import random

WORDS = ("wagyu lobster $15 +$10 x = adults kids 10 4 not don't we offer included free miles 30 $2 per mile "
         "deposit refundable 7 days 48 hours 9pm 11am noon gratuity 20% tip gluten-free cross-contact guarantee "
         "indoors kitchen tables chairs rent dessert , . ; ? ! but also sushi fifteen dollars more a week").split()


def test_token_soup_never_breaks_the_critic(critic):
    rng = random.Random(0)
    for _ in range(400):
        prompt = " ".join(rng.choices(WORDS, k=rng.randint(0, 12)))
        response = " ".join(rng.choices(WORDS, k=rng.randint(0, 60)))
        verdict = critic.evaluate(prompt, response)
        assert 0.0 <= verdict.quality_score <= 1.0
        assert verdict.passed == (not verdict.violations)
        for violation in verdict.violations:
            assert violation.category and violation.fact and isinstance(violation.claim, str)


def test_odd_input(critic):
    for response in ["", "   ", "\u2014\u2014", "$", "$$$ 1e9 x = =", "🙂 wagyu? 🙂", "\x00\n\t", "9" * 500]:
        verdict = critic.evaluate("wagyu?", response)
        assert 0.0 <= verdict.quality_score <= 1.0


def test_a_long_answer_is_judged_like_its_sentences(critic):
    long_answer = " ".join(["Adults are $60 per person and lobster tail is +$10; we don't serve wagyu."] * 200)
    assert critic.evaluate("prices?", long_answer).passed
    assert not critic.evaluate("prices?", long_answer + " Lobster tail is +$15.").passed

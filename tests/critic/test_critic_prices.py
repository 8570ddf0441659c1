"""Prices quoted for the item they belong to, in every phrasing, and the arithmetic a response does."""

from __future__ import annotations

import pytest

LOBSTER = "How much is the lobster upgrade?"
PER_PERSON = "How much is it per person?"
PRICE_CASES = [
    # upgrades: paraphrases of a wrong price
    (LOBSTER, "Lobster is fifteen dollars more per person.", "price"),
    (LOBSTER, "Lobster tail is +$15.", "price"),
    (LOBSTER, "It's $15 extra per guest for lobster.", "price"),
    (LOBSTER, "Lobster is an extra 15 bucks.", "price"),
    (LOBSTER, "It's $15 extra per person.", "price"),
    (LOBSTER, "Lobster tail is an upgrade at +$20 per person.", "price"),
    # ... and of the right one
    (LOBSTER, "Lobster tail is an extra $10 per person.", None),
    (LOBSTER, "Adding lobster costs ten dollars more per person.", None),
    (LOBSTER, "For $10 more per person you can upgrade to lobster tail.", None),
    (LOBSTER, "It's $10 extra per person.", None),
    (LOBSTER, "Lobster tail is +$10 and filet mignon is +$5, each replacing one protein.", None),
    (LOBSTER, "fifteen dollars more for lobster", "price"),
    (LOBSTER, "+$15", "price"),
    (LOBSTER, "$15 extra per guest", "price"),
    (LOBSTER, "+$10", None),
    ("Is lobster $15?", "Lobster is actually $10, not $15.", None),
    ("Is lobster $15?", "Lobster isn't $15; it's $10.", None),
    ("I saw the minimum is $500?", "The minimum isn't $500, it's $550.", None),
    (LOBSTER, "Lobster runs $25 per person.", "price"),
    (LOBSTER, "Lobster tail adds ten bucks per plate.", None),
    (LOBSTER, "Lobster is 10 dollars extra, filet is 5.", None),
    (LOBSTER, "Lobster is 10 dollars extra, filet is 8.", "price"),
    (PER_PERSON, "Here's our pricing:\n- **Adults:** $60 per person\n- **Kids (12 and under):** $30 per person\n"
                 "- Kids 3 and under eat free\nThere's a $550 party minimum.", None),
    (PER_PERSON, "Pricing: adults $55 per person, kids $25.", "price"),
    (LOBSTER, "- **Lobster tail:** +$15 per person", "price"),
    (LOBSTER, "**No**, we don't serve wagyu. **Filet mignon** is **+$5** per person.", None),
    ("How much would 10 adults cost?", "10 **adults** x $60 = **$600**", None),
    ("How much is filet?", "Filet mignon is +$8 per person.", "price"),
    ("How much is filet?", "Filet is five dollars extra per guest.", None),
    # adults and children
    (PER_PERSON, "Adults are $60 per person and kids 12 and under are $30.", None),
    (PER_PERSON, "It's $60 per adult and $30 per child (12 and under); children 3 and under are free.", None),
    (PER_PERSON, "It's sixty dollars a head for adults.", None),
    (PER_PERSON, "Adults are $65 per person.", "price"),
    (PER_PERSON, "It's $70 a head.", "price"),
    (PER_PERSON, "Our price is $70 per adult.", "price"),
    ("whats the price for kids?", "Kids are $40 per person.", "price"),
    ("whats the price for kids?", "Children 12 and under are $30 each.", None),
    ("Do little kids eat free?", "Kids 3 and under eat free.", None),
    ("Do little kids eat free?", "Kids 5 and under eat free.", "price"),
    ("Do little kids eat free?", "Kids 12 and under eat free.", "price"),
    ("Do little kids eat free?", "Kids under 6 eat free.", "price"),
    ("Do little kids eat free?", "Kids under 4 eat free.", None),
    ("whats the price for kids?", "Children under 13 are $30 each.", None),
    # add-ons
    ("How much is gyoza?", "Gyoza is $10 per order of 6.", None),
    ("How much is gyoza?", "Gyoza costs $8.", "price"),
    ("How much is gyoza?", "Gyoza is $20 per order.", "price"),
    ("What add-ons do you have?", "Edamame is $5 and gyoza $10.", None),
    ("What add-ons do you have?", "Edamame is $7 per order.", "price"),
    ("Can we get noodles?", "Noodles instead of rice are +$5 per person.", None),
    ("Can we get noodles?", "Yakisoba noodles are an extra $7 per person.", "price"),
    ("How many proteins?", "An extra protein is $15 per order.", None),
    ("How many proteins?", "Extra proteins are $10 each.", "price"),
    ("How many proteins?", "An extra protein is $15 per person.", "price"),
    ("Can we get noodles?", "Noodles instead of rice are $5 per order.", "price"),
    # deposit and minimum as amounts
    ("How much is the deposit?", "A $100 deposit holds your date and it's deducted from the final bill.", None),
    ("How much is the deposit?", "We take a one hundred dollar deposit.", None),
    ("How much is the deposit?", "The deposit is $200.", "price"),
    ("How much is the deposit?", "We need a $150 down payment to hold the date.", "price"),
    ("Is there a minimum order?", "Our party minimum is $550 before travel and gratuity.", None),
    ("Is there a minimum order?", "The minimum spend is five hundred fifty dollars.", None),
    ("Is there a minimum order?", "There's a $500 minimum.", "price"),
    ("Is there a minimum order?", "Our party minimum is only $400 total.", "price"),
]

ARITHMETIC_CASES = [
    ("How much would 10 adults cost?", "10 adults x $60 = $600.", None),
    ("How much would 10 adults cost?", "For 10 adults that comes to $600 before travel and gratuity.", None),
    ("How much would 10 adults cost?", "10 adults would be $700.", "arithmetic"),
    ("How much would 10 adults cost?", "That's 10 x $60 = $650.", "arithmetic"),
    ("How much would 10 adults cost?", "Ten adults at $60 each comes to $600.", None),
    ("How much would 10 adults cost?", "Adults are $70 per person, so 10 x $70 = $700.", "price"),
    ("We're 8 adults and 4 kids", "8 adults and 4 kids: $600.", None),
    ("We're 8 adults and 4 kids", "8 adults and 4 kids: $640.", "arithmetic"),
    ("We're 8 adults and 4 kids", "Your total would be $600 plus travel and tip.", None),
    ("We're 8 adults and 4 kids", "Your total would be $720.", "arithmetic"),
    ("We're 8 adults and 4 kids",
     "For 8 adults at $60 each = $480, plus 4 kids at $30 each = $120, total $600.", None),
    ("what would 10 adults and 4 kids cost?",
     "For 10 adults x $60 = $600 and 4 children x $30 = $120, so $720 in total.", None),
    ("what would 10 adults and 4 kids cost?",
     "For 10 adults x $60 = $600 and 4 children x $30 = $120, so $760 in total.", "arithmetic"),
    ("How much for 10 adults?", "10 adults \u00d7 $60 = $600.", None),
    ("How much for 10 adults?", "That would be 10 \u00d7 $60, or $700.", "arithmetic"),
    ("How much for 10 adults?", "$60 per adult times 10 adults is $600.", None),
    ("How much for 10 adults?", "$60 per adult times 10 adults is $650.", "arithmetic"),
    ("How much for 10 adults?", "Total: $650 (10 adults \u00d7 $60).", "arithmetic"),
    ("How much for 10 adults?", "The total comes to $600 for 10 adults.", None),
    ("How much for 10 adults?", "The total comes to $750 for 10 adults.", "arithmetic"),
    ("How much for 10 adults?", "10 x 60 = 650 dollars.", "arithmetic"),
    ("For a party of 12, how much?", "For a party of 12, it's $720.", None),
    ("For a party of 12, how much?", "For a party of 12, it's $600.", "arithmetic"),
    ("8 adults 4 kids price?", "Your estimate: 8 adults ($480) + 4 kids ($120) = $600.", None),
    ("8 adults 4 kids price?", "Your estimate: 8 adults ($480) + 4 kids ($160) = $640.", "arithmetic"),
    # below the party minimum a total is raised to it
    ("price for 5 adults?", "5 adults would be $300.", "minimum"),
    ("price for 5 adults?", "5 adults x $60 = $300.", "minimum"),
    ("price for 5 adults?", "5 adults x $60 = $300, but our party minimum is $550, so you'd pay $550.", None),
    ("price for 5 adults?", "5 adults is $300, which is below our $550 minimum, so the total would be $550.", None),
    ("price for 5 adults?", "For 5 adults the total is $550 because of our party minimum.", None),
    ("10 adults with lobster?", "For 10 adults with the lobster upgrade, it's $700 total.", None),
    ("10 adults with lobster?", "For 10 adults with the lobster upgrade, it's $750 total.", "arithmetic"),
    ("10 adults with lobster?", "10 adults with lobster: 10 x $70 = $700.", None),
    # upgrades for a party
    ("How much extra for lobster for 12 guests?", "12 x $10 = $120 extra.", None),
    ("How much extra for lobster for 12 guests?", "For 12 guests that's $120 more.", None),
    ("How much extra for lobster for 12 guests?", "For 12 guests that's $180 more.", "arithmetic"),
    ("How much extra for lobster for 12 guests?", "Lobster for 12 guests adds $180.", "price"),
    ("How much extra for lobster for 12 guests?", "12 x $15 = $180 extra for lobster.", "price"),
]


@pytest.mark.parametrize(("prompt", "response", "expected"), PRICE_CASES)
def test_prices(judge, prompt, response, expected):
    judge(prompt, response, expected)


@pytest.mark.parametrize(("prompt", "response", "expected"), ARITHMETIC_CASES)
def test_arithmetic(judge, prompt, response, expected):
    judge(prompt, response, expected)


def test_price_violation_names_true_and_stated_price(critic):
    verdict = critic.evaluate(LOBSTER, "Lobster is an extra 15 bucks.")
    assert verdict.violations[0].fact == "lobster tail: +$10 per person, not $15"
    assert "15" in verdict.violations[0].claim


def test_wrong_arithmetic_names_the_right_result(critic):
    verdict = critic.evaluate("10 adults?", "For 10 adults that is 10 x $60 = $500.")
    assert any(v.fact == "10 x $60 = $600, not $500" for v in verdict.violations)


@pytest.mark.parametrize("response", [
    "Lobster is fifteen dollars more per person.", "It\u2019s twenty-five dollars extra for lobster \u2014 a treat!",
    "Adults are $1,000 per person.", "That would be ten \u00d7 $60, or $650."])
def test_claims_quote_the_response_in_its_own_words(critic, response):
    verdict = critic.evaluate("How much for lobster for 10 adults?", response)
    assert not verdict.passed
    for violation in verdict.violations:
        assert violation.claim and violation.claim in response


def test_a_total_over_several_priced_groups_is_their_sum(critic):
    right = critic.evaluate("8 adults and 4 kids?", "8 adults at $60 and 4 kids at $30 comes to $600 total.")
    assert right.passed, right.violations
    wrong = critic.evaluate("8 adults and 4 kids?", "8 adults at $60 and 4 kids at $30 comes to $700 total.")
    assert [v.category for v in wrong.violations] == ["arithmetic"]
    assert "add up to $600, not $700" in wrong.violations[0].fact

"""Whole classes of mistakes, in wordings the generated set (devkit.evalsets.critic_cases) does not use.

Each class has wrong answers the critic must flag and right answers on the same subject it must pass.
"""

from __future__ import annotations

import pytest

NOT_ON_MENU = [
    ("Do you have goat?", "Yes! We serve goat curry and grilled rabbit.", "not_offered"),
    ("any fish besides salmon?", "We also offer trout and cod, both grilled on the teppan.", "not_offered"),
    ("what proteins?", "You can choose pork tenderloin or chicken for your two proteins.", "not_offered"),
    ("what's popular?", "Our garlic butter crab legs are a crowd favorite.", "not_offered"),
    ("can we do lamb?", "Lamb chops are available for any party size.", "not_offered"),
    ("what proteins?", "Pick any two: chicken, steak, shrimp, or duck.", None),  # list form: checked below
    ("Do you have goat?", "We don't serve goat; chicken, steak and shrimp are popular picks.", None),
    ("any fish besides salmon?", "Besides salmon, we have scallops and shrimp.", None),
    ("what proteins?", "We offer chicken, NY strip steak, shrimp, salmon, scallops, calamari and tofu.", None),
    ("can we do lamb?", "Sorry, lamb isn't something we offer. Filet mignon is a great upgrade instead.", None),
]

FREE_OR_INCLUDED = [
    ("is gyoza extra?", "Nope, the gyoza is thrown in at no charge.", "price"),
    ("does edamame cost extra?", "Edamame is part of every package at no cost.", "price"),
    ("is lobster included?", "Every $60 dinner includes a lobster tail.", "price"),
    ("do noodles cost more?", "Yakisoba noodles come with every meal free of charge.", "price"),
    ("is gyoza extra?", "Gyoza is $10 an order, so it's an add-on rather than included.", None),
    ("is salad included?", "Yes, the house salad and fried rice are included with every meal.", None),
    ("is lobster included?", "Lobster is not included; it's +$10 per person.", None),
]

PER_GROUP = [
    ("how much is filet?", "Filet mignon is a one-time $5 charge for the party.", "price"),
    ("how much is lobster?", "Lobster is $10 for the entire group.", "price"),
    ("how much are noodles?", "Swapping rice for yakisoba noodles is $5 per order.", "price"),
    ("how much is filet?", "Filet mignon runs $5 per guest who wants it.", None),
    ("how much is lobster?", "Lobster tail is $10 per person, so $100 in total for 10 guests.", None),
    ("how much is gyoza?", "Gyoza is $10 per order.", None),
]

UPGRADE_ON_TOP = [
    ("how does lobster work?", "Lobster tail gets added alongside your two proteins for $10 more a head.", "upgrade"),
    ("can I add filet?", "Sure, filet can be a third protein on your plate for +$5.", "upgrade"),
    ("how does lobster work?", "You'd have lobster tail plus both proteins as well, +$10 per person.", "upgrade"),
    ("how does lobster work?", "Lobster tail swaps in for one of your two proteins at +$10 per person.", None),
    ("can I add filet?", "Filet mignon can take the place of a protein for $5 more per guest.", None),
    ("can I add filet?", "Filet mignon is +$5 per person and replaces one protein.", None),
]

PROTEIN_AS_UPGRADE = [
    ("is shrimp extra?", "Shrimp carries a $7 surcharge per guest.", "price"),
    ("is salmon extra?", "Salmon is one of our premium options at $6 more per plate.", "price"),
    ("is scallops extra?", "Scallops are a paid upgrade (+$9 per person).", "price"),
    ("is shrimp extra?", "Shrimp is one of the proteins included in the $60 price.", None),
    ("is steak extra?", "No, steak costs nothing extra; filet mignon is the +$5 upgrade.", None),
    ("can we get 3 proteins?", "You can add a third protein such as shrimp for $15 per order.", None),
]

AGE_LIMITS = [
    ("do babies eat free?", "Toddlers aged 4 and younger eat for free.", "price"),
    ("kid prices?", "Kids aged 4 to 10 are $30; older kids pay the adult price.", "price"),
    ("kid prices?", "Children through age 14 are charged $30.", "price"),
    ("do babies eat free?", "Infants up to 2 years old are free.", "price"),
    ("do babies eat free?", "Yes, kids 3 and younger eat free.", None),
    ("kid prices?", "Kids ages 4 to 12 are $30 each, and 3 and under are free.", None),
    ("kid prices?", "Children up to age 12 are $30 per person.", None),
]

TRAVEL_TOWARD_MINIMUM = [
    ("does travel count?", "Your travel fee gets credited toward the $550 minimum.", "minimum"),
    ("does travel count?", "The mileage goes toward meeting the party minimum.", "minimum"),
    ("does travel count?", "The travel fee is billed separately and is not part of the $550 minimum.", None),
    ("does travel count?", "No, travel doesn't count toward the minimum.", None),
]

NOT_A_BASE = [
    ("where are you?", "We're headquartered in Oakland.", "travel"),
    ("where are you?", "Our Sacramento and Reno kitchens serve the whole region.", "travel"),
    ("where are you?", "We have a base in San Diego too.", "travel"),
    ("where are you?", "Our chefs are based in Sacramento, San Jose, San Francisco and Fresno.", None),
    ("do you come to Reno?", "We don't have a base in Reno, but we can travel from Sacramento for a fee.", None),
    ("where are you?", "Our San Jose team covers the South Bay.", None),
]

ARITHMETIC_RIGHT = [
    ("7 adults with lobster?", "7 adults: 7 x $60 = $420. Lobster for all: 7 x $10 = $70. Total $490, so the $550 "
                               "minimum applies.", None),
    ("8 adults all filet?", "Food is 8 x $60 = $480 plus 8 x $5 = $40 for filet, $520 total, which is under the "
                            "$550 minimum, so you'd pay $550.", None),
    ("9 adults with lobster?", "$540 for nine adults and $90 for lobster makes $630.", None),
    ("6 adults and 8 kids?", "6 x $60 = $360 and 8 x $30 = $240: $600 altogether.", None),
    ("12 adults, 2 kids?", "For 12 adults and 2 kids: 2 x $30 = $60 for the kids, and the grand total is $780.", None),
    ("We're 40 miles from Fresno.", "You're past the free 30 miles, so travel is 10 miles x $2 = $20.", None),
    ("We're 45 miles out of San Jose.", "Free for the first 30 miles, $2 a mile after that: $30 for you.", None),
    ("If we cancel a month ahead do we get the deposit back?", "Yes, a month out is well outside the 7-day window, "
                                                               "so you get the full deposit back.", None),
    ("If we cancel 10 days before, refund?", "Yes, 10 days before the event is enough notice for a full refund.",
     None),
]

ARITHMETIC_WRONG = [
    ("9 adults with lobster?", "Nine adults with lobster come to $640.", "arithmetic"),
    ("6 adults and 8 kids?", "6 x $60 = $360 and 8 x $30 = $240: $660 altogether.", "arithmetic"),
    ("We're 40 miles from Fresno.", "You're past the free 30 miles, so travel is 10 miles x $2 = $40.", "arithmetic"),
    ("If we cancel 3 days before, refund?", "Sure, cancelling 3 days before still gets your deposit back.",
     "refund_window"),
]

# A second round, written after the first was fixed; each line failed or was new when written.
SECOND_ROUND = [
    ("menu?", "Our menu features hibachi chicken, steak, and grilled pork chops.", "not_offered"),
    ("what's good?", "Everyone loves our teriyaki lamb.", "not_offered"),
    ("gyoza free?", "Gyoza's on us!", "price"),
    ("filet?", "Adding filet gives each guest three proteins, for $5 more per person.", "upgrade"),
    ("where?", "We're a Bay Area company based out of Oakland.", "travel"),
    ("where?", "Our home base is Santa Cruz.", "travel"),
    ("menu?", "Our menu has chicken, steak, shrimp, salmon, scallops, calamari and tofu, plus lobster and filet "
              "upgrades.", None),
    ("5 adults + lobster?", "5 x $60 = $300 + 5 x $10 = $50 = $350, which is under the $550 minimum, so the total "
                            "is $550.", None),
    ("We're 35 miles away from San Jose. travel?", "It'd be $10 for travel since you're 5 miles past our free zone.",
     None),
    ("cancel 9 days before?", "Yes, 9 days is more than our 7-day cutoff, so the deposit is refunded.", None),
]

# A third round, written after the second was fixed (the first four wrong ones and the last right one failed then).
THIRD_ROUND = [
    ("do you do surf and turf?", "Yes, our surf and turf pairs ribeye with lobster.", "not_offered"),
    ("is lobster free?", "Lobster tail comes standard with the adult package.", "price"),
    ("filet?", "If you choose filet mignon you still get two other proteins with it.", "upgrade"),
    ("kids?", "Kids eat free until they turn 5.", "price"),
    ("vegetarian options?", "Besides tofu we grill portobello steaks and paneer skewers.", "not_offered"),
    ("how much is filet?", "The filet upgrade is $5 per table.", "price"),
    ("where are you based?", "Chefs are dispatched from our Santa Clara office.", "travel"),
    ("If we cancel 3 weeks out?", "You'd get the $100 deposit back - 3 weeks is well ahead of the 7-day cutoff.", None),
    ("do you have pork?", "We don't have pork, but the chicken and steak are favorites.", None),
    ("4 adults and 4 kids?", "4 x $60 = $240 and 4 x $30 = $120, $360 of food, so the $550 minimum applies: $550.",
     None),
    ("We're 50 miles from Fresno", "That's 20 miles over our free 30, so $40 in travel.", None),
]
# A fourth round (the first three wrong ones and the line-item total failed when written).
FOURTH_ROUND = [
    ("menu?", "**Proteins:** chicken, steak, shrimp, mahi-mahi\n**Upgrades:** lobster +$10", "not_offered"),
    ("can you do chicken and duck?", "Absolutely, chicken and duck it is!", "not_offered"),
    ("location?", "We're a Fresno and Bakersfield based team.", "travel"),
    ("15 adults, 5 with lobster?", "15 x $60 = $900, plus lobster for 5: 5 x $10 = $50. Total: $950.", None),
    ("calamari?", "Calamari is an upgrade, $8/person.", "price"),
    ("kids?", "Age 13 and under is the kids' price, $30.", "price"),
    ("menu?", "**Proteins:** chicken, steak, shrimp, salmon, scallops, calamari, tofu\n**Upgrades:** filet +$5, "
              "lobster +$10", None),
    ("we're 31 miles from San Jose", "You're 1 mile past our free radius, so the travel fee is $2.", None),
]

ALL = (FOURTH_ROUND + THIRD_ROUND + SECOND_ROUND + NOT_ON_MENU + FREE_OR_INCLUDED + PER_GROUP + UPGRADE_ON_TOP
       + PROTEIN_AS_UPGRADE + AGE_LIMITS + TRAVEL_TOWARD_MINIMUM + NOT_A_BASE + ARITHMETIC_RIGHT + ARITHMETIC_WRONG)


@pytest.mark.parametrize("prompt,response,expected", ALL)
def test_class(judge, prompt, response, expected):
    if response.startswith("Pick any two"):  # duck is not on the menu, in a list of proteins
        expected = "not_offered"
    judge(prompt, response, expected)


def test_violation_names_the_dish_and_the_fact(critic):
    verdict = critic.evaluate("fish?", "We also offer trout and cod, both grilled on the teppan.")
    facts = {v.fact for v in verdict.violations}
    assert {"trout: not on the menu", "cod: not on the menu"} <= facts


def test_upgrade_without_replaces_protein_may_come_on_top(kb):
    from hibachi.critic import Critic

    upgrades = [u.model_copy(update={"replaces_protein": False}) for u in kb.upgrades]
    critic = Critic(kb.model_copy(update={"upgrades": upgrades}))
    assert critic.evaluate("lobster?", "Lobster tail is +$10 per person on top of your 2 proteins.").passed


def test_replaces_protein_defaults_to_false():
    from hibachi.knowledge import PricedItem

    assert PricedItem(name="x", price=1, unit="per order").replaces_protein is False


def test_generated_set_meets_the_targets(critic, kb):
    """Held-in figures on the labelled set the project generates (devkit.evalsets.critic_cases)."""
    from devkit.evalsets.critic_cases import CLASSES, generate, score

    result = score(generate(kb, per_class=15, seed=21), lambda p, r: not critic.evaluate(p, r).passed)
    for klass in CLASSES:
        assert result.recall(klass) >= 0.95, (klass, [c.response for c in result.misses if c.klass == klass])
        assert result.false_alarm_rate(klass) <= 0.05, (klass, [c.response for c in result.false_alarms
                                                                if c.klass == klass])

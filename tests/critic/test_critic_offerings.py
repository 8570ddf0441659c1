"""Items not offered, rentals, indoor cooking, invented inclusions: claims, paraphrases and negations."""

from __future__ import annotations

import pytest

WAGYU = "Do you serve wagyu beef?"
CASES = [
    # the seed example
    (WAGYU, "Yes, wagyu at $80/person", "not_offered"),
    (WAGYU, "I don't see wagyu in the menu", None),
    # negations are correct answers
    (WAGYU, "We don't serve wagyu.", None),
    (WAGYU, "Wagyu isn't on our menu.", None),
    (WAGYU, "Unfortunately no wagyu, but filet mignon is a great alternative.", None),
    (WAGYU, "Sorry, wagyu is not something we carry, but our filet mignon is +$5 per person.", None),
    ("Do you have sushi?", "No, we do not offer sushi.", None),
    ("Do you have sushi?", "We're a hibachi caterer rather than a sushi bar.", None),
    # claims that it is offered, however phrased
    (WAGYU, "We have wagyu available as an upgrade.", "not_offered"),
    (WAGYU, "Kobe beef is available for $30 extra.", "not_offered"),
    (WAGYU, "We don't have filet, but wagyu is on the menu.", "not_offered"),
    (WAGYU, "We don't just do chicken, we also offer wagyu!", "not_offered"),
    (WAGYU, "We don't have filet, we do have wagyu though.", "not_offered"),
    (WAGYU, "Sushi isn't available, but we do have wagyu!", "not_offered"),
    (WAGYU, "We have no sushi, but wagyu is available.", "not_offered"),
    (WAGYU, "Wagyu? We wish we could, but it's not on our menu.", None),
    ("Do you have sushi?", "While we'd love to, we can't offer sushi.", None),
    ("Do you have sushi?", "Sushi is unavailable.", None),
    ("Do you have sushi?", "We are a hibachi-only caterer; sushi and sashimi aren't part of what we do.", None),
    ("Can you bring a bartender?", "We're not able to provide a bartender.", None),
    ("Can you bring a bartender?", "There's no bartending service.", None),
    ("Can you bring sake?", "Sure, we can!", "not_offered"),
    ("Can you bring sake?", "Sorry, we can't.", None),
    ("Is lobster included?", "Yes!", "price"),
    ("Does the price include dessert?", "Yes, of course!", "invented_item"),
    ("Is gratuity included?", "Yes, it is!", "gratuity"),
    ("Is gratuity included?", "No, it isn't.", None),
    ("Is the chef show included?", "Yes, absolutely!", None),
    ("Can you bring sake?", "Sure! We don't provide alcohol, but you can bring your own.", None),
    ("Can the chef cook indoors?", "Yes, that works.", "indoor_cooking"),
    ("Do you have wagyu?", "Yes, we have filet mignon as a premium upgrade for $5.", None),
    ("do we need tables?", "We do not rent out tables or chairs.", None),
    ("Can the chef cook indoors?", "Unfortunately we are unable to cook indoors.", None),
    ("Can we have it inside?", "The grill has to be outside, but your guests can sit inside if you like.", None),
    (WAGYU, "Wagyu, sushi and alcohol are all things we don't offer.", None),
    (WAGYU, "Not offered: wagyu beef, sushi or sashimi, alcohol or bartending.", None),
    ("Do you have sushi?", "Absolutely, sushi is available for $15 per person.", "not_offered"),
    ("Could you bring sashimi?", "Sure! The chef can make sashimi for your guests.", "not_offered"),
    # alcohol and bartending
    ("Can you bring a bartender?", "Sure, we can provide a bartender for $200.", "not_offered"),
    ("Can you bring a bartender?", "We offer an open bar package.", "not_offered"),
    ("Can you bring a bartender?",
     "We don't provide bartending or alcohol, but you're welcome to serve your own drinks.", None),
    ("Do you serve sake?", "You'll need to provide your own beer and wine.", None),
    # tables and chairs: the customer provides them
    ("do we need tables?", "Yes, you provide tables, chairs, plates and utensils.", None),
    ("do we need tables?", "Tables and chairs are not included; please have them ready.", None),
    ("do we need tables?", "We can rent tables and chairs for you.", "not_offered"),
    ("do we need tables?", "We bring tables and chairs.", "not_offered"),
    ("do we need tables?", "Table rental is available for $10 each.", "not_offered"),
    # indoor cooking
    ("Can the chef cook indoors?", "No, our chefs only cook outdoors.", None),
    ("Can the chef cook indoors?", "We can't cook indoors, but a covered porch works great.", None),
    ("Can the chef cook indoors?",
     "The chef cooks outdoors only (patio, backyard, covered porch), never indoors.", None),
    ("Can you set up in our garage?", "Sure, the chef can set up in your garage.", "indoor_cooking"),
    ("Can the chef cook indoors?", "Indoor cooking is fine with good ventilation.", "indoor_cooking"),
    ("Can you cook inside if it's cold?", "No problem, the chef can cook inside your home.", "indoor_cooking"),
    ("Can the chef cook indoors?", "Yes, we can set the grill up in your kitchen.", "indoor_cooking"),
    ("Can the chef cook indoors?", "The chef can cook on your stovetop.", "indoor_cooking"),
    ("Can the chef cook indoors?", "Yes, indoor hibachi is possible.", "indoor_cooking"),
    ("Can the chef cook indoors?", "Sorry, for safety reasons we can't set up the grill inside your home.", None),
    ("Can the chef cook indoors?", "Cooking happens outdoors only, never inside.", None),
    ("Do you provide drinks?", "Our chef can bring a bottle of sake for a toast!", "not_offered"),
    ("Do you provide drinks?", "We can serve beer and wine for an additional fee.", "not_offered"),
    ("Do you provide drinks?", "Beer and wine aren't something we provide.", None),
    ("Do you provide drinks?", "Drinks are not provided, so please plan your own beverages.", None),
    ("Do you rent chairs?", "Chairs can be rented through us.", "not_offered"),
    ("Do you rent chairs?", "We can provide tables and chairs for an extra fee.", "not_offered"),
    ("Do you rent chairs?", "You can rent tables and chairs from a local party rental company.", None),
    ("Do you rent chairs?", "Tables and chairs are your responsibility.", None),
    # invented inclusions
    ("What's included?", "Every meal includes fried rice, vegetables, salad, yum yum sauce and the chef's show.",
     None),
    ("Does the price include dessert?", "Dessert is included with every meal.", "invented_item"),
    ("What's included?", "Drinks are included.", "invented_item"),
    ("What's included?", "We include a free drink for every guest.", "invented_item"),
    ("What's included?", "Each meal comes with a complimentary appetizer.", "invented_item"),
    ("What's included?", "Miso soup and salad come with dinner.", "invented_item"),
    ("What's included?", "Every meal comes with miso soup and a free dessert.", "invented_item"),
    ("What's included?", "Rice, salad and green tea ice cream come with every meal.", "invented_item"),
    ("Does the price include dessert?", "We don't include dessert or drinks.", None),
    ("Does the price include dessert?", "No, dessert isn't included.", None),
    ("Is lobster included?", "Lobster is included at no extra cost.", "price"),
    ("What add-ons do you have?", "You also get gyoza for free.", "price"),
    ("Is filet extra?", "We don't charge extra for filet.", "price"),
    ("Is filet extra?", "There's no upcharge for lobster.", "price"),
    ("Is filet extra?", "Filet mignon is +$5; we don't charge extra for chicken or steak.", None),
    ("Do you bring plates and utensils?", "The chef brings plates and utensils.", "invented_item"),
    ("Do you offer any appetizers?", "Our appetizers include gyoza, edamame and spring rolls.", "invented_item"),
    ("Do you offer any appetizers?", "Add-ons include gyoza for $10 and edamame for $5.", None),
    ("Do you offer any appetizers?", "Appetizers are included with every meal.", "invented_item"),
    ("What's on the menu?", "We also have miso soup and tempura.", "invented_item"),
    ("What's on the menu?", "We also offer duck and pork belly.", "invented_item"),
    ("Can we have cake?", "Feel free to bring your own birthday cake and drinks!", None),
    ("Can we have cake?", "Feel free to ask about dessert ideas from a local bakery.", None),
    ("What proteins do you have?", "We don't do duck or lamb, but chicken, steak and shrimp are favorites.", None),
    ("Do you provide drinks?", "We can set up a full bar with cocktails.", "not_offered"),
    ("Do you provide drinks?", "Margaritas are available for $8 each.", "not_offered"),
    ("Do you provide drinks?", "No, we don't serve cocktails or any alcoholic beverages.", None),
    ("What's included?", "Every dinner comes with edamame.", "price"),
    ("Does the price include dessert?", "The price includes dessert.", "invented_item"),
    ("Does the price include dessert?", "No dessert, but every meal includes fried rice, salad and vegetables.", None),
    ("Do you serve sushi?", "We offer sushi rolls as an add-on.", "not_offered"),
    ("Do you serve sushi?", "Sushi isn't something we make; we're a hibachi grill.", None),
    ("Do you have wagyu?", "We can source wagyu for you on request.", "not_offered"),
    ("Do you have wagyu?", "Yes! Wagyu is one of our most popular upgrades.", "not_offered"),
    ("Do you have wagyu?", "Wagyu? Not on our menu, but try the filet mignon upgrade.", None),
    ("Do you have wagyu?", "We only serve the proteins on our menu; wagyu isn't one of them.", None),
    ("Do you have wagyu?", "Our menu doesn't include wagyu.", None),
    ("What do we need to provide?",
     "You provide plates and utensils; the chef brings the grill, propane and all the food.", None),
]


@pytest.mark.parametrize(("prompt", "response", "expected"), CASES)
def test_offerings(judge, prompt, response, expected):
    judge(prompt, response, expected)


def test_seed_example_names_the_claim_and_the_fact(critic):
    teacher = critic.evaluate(WAGYU, "Yes, wagyu at $80/person")
    assert not teacher.passed
    violation = teacher.violations[0]
    assert "wagyu" in violation.claim.lower() and violation.fact == "wagyu beef: not offered"
    student = critic.evaluate(WAGYU, "I don't see wagyu in the menu")
    assert student.passed and student.quality_score == 1.0
    assert set(teacher.model_dump(mode="json")) == {"passed", "violations", "quality_score"}


def test_a_wrong_claim_after_a_correct_one_is_still_caught(critic):
    verdict = critic.evaluate(WAGYU, "We don't serve wagyu. Also, miso soup is included with every meal.")
    assert [v.category for v in verdict.violations] == ["invented_item"]

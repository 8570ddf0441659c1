"""Policies: deposit, refund window, lead time, start times, rain, travel, gratuity, minimum, proteins, dietary."""

from __future__ import annotations

import pytest

DEPOSIT = "Is the deposit refundable?"
ADVANCE = "How far in advance do I need to book?"
TIMES = "What times can the party start?"
TRAVEL = "Is there a travel fee?"
FAR = "We're about 45 miles from San Jose, what would travel cost?"
NEAR = "we're 20 miles out of Sacramento, travel fee?"
TIP = "Is gratuity included or should we tip the chef?"
SHELLFISH = "One guest has a shellfish allergy, is that ok?"
CELIAC = "My daughter has celiac, can you do gluten-free?"

CASES = [
    # deposit policy
    ("Does the deposit go toward the bill?", "Yes, the $100 deposit is deducted from your final bill.", None),
    ("Does the deposit go toward the bill?", "The deposit is separate from your bill and not deducted.", "deposit"),
    ("Is there a deposit?", "No deposit is required.", "deposit"),
    # refund window
    (DEPOSIT, "Yes, it's refundable if you cancel 7 or more days before the event; after that it's not refundable.",
     None),
    (DEPOSIT, "You get a refund if you cancel at least a week before the event.", None),
    (DEPOSIT, "Cancellations within 7 days of the event are not refunded.", None),
    (DEPOSIT, "It's refundable up to 3 days before the event.", "refund_window"),
    (DEPOSIT, "The deposit is fully refundable if you cancel up to 2 days before the event.", "refund_window"),
    (DEPOSIT, "The deposit is non-refundable.", "refund_window"),
    (DEPOSIT, "The deposit is fully refundable at any time.", "refund_window"),
    (DEPOSIT, "Cancel 14 days ahead for a full refund.", "refund_window"),
    # lead time
    (ADVANCE, "Please book at least 48 hours before the event.", None),
    (ADVANCE, "We need two days' notice.", None),
    (ADVANCE, "We recommend booking 2 to 3 weeks ahead for weekends, but the minimum is 48 hours.", None),
    (ADVANCE, "You can book as little as 24 hours in advance.", "lead_time"),
    (ADVANCE, "We need at least one week's notice.", "lead_time"),
    (ADVANCE, "Same-day bookings are no problem!", "lead_time"),
    ("Can I book for tomorrow?", "Sorry, we need at least 48 hours' notice, so tomorrow won't work.", None),
    ("Can I book for tomorrow?", "Sure, tomorrow works!", "lead_time"),
    # start times
    (TIMES, "Events can start between 12:00 and 21:00, any day of the week.", None),
    (TIMES, "You can start anytime from noon to 9pm.", None),
    (TIMES, "Parties can start as early as 10am.", "start_time"),
    (TIMES, "We can start as late as 11 pm.", "start_time"),
    (TIMES, "The latest start time is 10:30 p.m.", "start_time"),
    ("Can we start at 8pm on Saturday?", "Yes, 8pm works; events start between noon and 9 pm.", None),
    ("Can we start at 11pm?", "Sorry, we can't start at 11pm; the latest start is 9pm.", None),
    # rain
    ("What happens if it rains?", "You can reschedule once at no charge if you tell us 24 hours ahead.", None),
    ("What happens if it rains?", "If it rains, you can move the event free of charge with 12 hours notice.",
     "rain_policy"),
    # days, rain reschedules, head-count minimums, vegetarian
    ("Do you work weekends?", "Yes, we work any day of the week, including weekends!", None),
    ("Do you work weekends?", "Sorry, we don't work on Sundays.", "booking"),
    ("What happens if it rains?", "If it rains, you can reschedule as many times as you need.", "rain_policy"),
    ("What happens if it rains?", "You can move the event twice for rain.", "rain_policy"),
    ("What happens if it rains?", "If it rains, you can move the event to another date once at no charge when you "
                                  "cancel for rain 24 hours ahead.", None),
    ("Is there a minimum number of guests?", "There's no head-count minimum, just a $550 food minimum.", None),
    ("Is there a minimum number of guests?", "We require a minimum of 10 guests.", "minimum"),
    ("Is there a minimum number of guests?", "We have a 10-person minimum.", "minimum"),
    ("Is there a minimum number of guests?", "The minimum is 10 guests.", "minimum"),
    ("Is there a minimum order?", "Our minimum is 550 before travel.", None),
    ("Is there a minimum order?", "Our minimum is 500.", "price"),
    ("Is there a deposit?", "We require a 50% deposit.", "deposit"),
    ("Is there a deposit?", "The $100 deposit is applied to your final bill.", None),
    ("Is there a deposit?", "The deposit is in addition to the total.", "deposit"),
    (DEPOSIT, "Deposits are refundable up to a week before.", None),
    (ADVANCE, "Just give us 24 hours notice.", "lead_time"),
    (TIMES, "We can start anytime between 11 am and 9 pm.", "start_time"),
    ("Is there a deposit?", "The deposit is 150.", "price"),
    ("Is there a deposit?", "The deposit is 100 and it's taken off the final bill.", None),
    (DEPOSIT, "Refunds are available up to 72 hours before the event.", "refund_window"),
    (DEPOSIT, "You can cancel for free up to 48 hours before.", "refund_window"),
    (DEPOSIT, "Full refund if you cancel more than a week out.", None),
    (TIP, "A 20% gratuity is added to your bill.", "gratuity"),
    (TIP, "A 20% service charge is included.", "gratuity"),
    (TIP, "Tipping is optional; 20% is customary.", None),
    (TRAVEL, "We charge a flat $50 travel fee.", "travel"),
    (TIMES, "Our last start time is 9:30pm.", "start_time"),
    (TIMES, "Events can run until 11pm.", None),
    ("Can we start at 11pm?", "No, 11pm is too late; the latest start is 9pm.", None),
    ("Can we start at 11pm?", "Unfortunately 11pm is past our latest start time of 9pm.", None),
    ("Can I get a refund 3 days before?", "No, refunds are only for cancellations 7 or more days before the event, "
                                          "so 3 days before would not be refunded.", None),
    ("Can I book 24 hours ahead?", "Sorry, 24 hours isn't enough; we need at least 48 hours.", None),
    ("Is travel free within 50 miles?", "No, travel is free within 30 miles, not 50.", None),
    ("Can we do the 4th of July?", "Sure, your party on the 4th of July can start at 7:00.", None),
    (TIMES, "Events can start at 09:00.", "start_time"),
    (TIMES, "Events may begin between 10 a.m. and 9 p.m.", "start_time"),
    (TIMES, "Events may begin between 12 p.m. and 9 p.m.", None),
    (TIMES, "Parties can start at 10 in the morning.", "start_time"),
    (TIMES, "Parties can start at 7 in the evening.", None),
    (DEPOSIT, "You can get your deposit back up to 24 hours before.", "refund_window"),
    (DEPOSIT, "The deposit can't be refunded under any circumstances.", "refund_window"),
    (DEPOSIT, "If you cancel within 7 days of the event, the deposit is forfeited.", None),
    (DEPOSIT, "Cancel at least 5 days before and your deposit is refunded.", "refund_window"),
    ("Do you have vegetarian options?", "Sorry, we don't have vegetarian options.", "dietary"),
    # setup and service area
    ("How much space?", "About 8 by 6 feet of flat space.", None),
    ("How much space?", "A 6x8 ft flat area works.", None),
    ("How much space?", "You'll need about a 10 by 10 foot area.", "setup"),
    ("What do we need to provide?", "Just have tables and chairs set up; we handle the rest.", None),
    ("Do you serve Oakland?", "We're based in Los Angeles and travel anywhere in California.", "travel"),
    ("Do you serve Oakland?", "Yes! Oakland is within 30 miles of San Francisco, so travel is free.", None),
    # travel
    (TRAVEL, "Travel is free within 30 miles of the nearest base city; beyond that it's $2 per mile one way.", None),
    (TRAVEL, "The first thirty miles are free, then two dollars a mile.", None),
    (TRAVEL, "There's no travel fee within a 30-mile radius.", None),
    (TRAVEL, "Travel is free within 50 miles.", "travel"),
    (TRAVEL, "We charge $3 per mile after 30 miles.", "travel"),
    (TRAVEL, "Travel is always free!", "travel"),
    (TRAVEL, "It's $2 per mile round trip beyond 30 miles.", "travel"),
    (TRAVEL, "Beyond 40 miles we charge $2 per mile.", "travel"),
    (TRAVEL, "We charge two dollars per mile for every mile over 30.", None),
    (TRAVEL, "Anything past 30 miles is $2/mile.", None),
    (TRAVEL, "The first 30 miles are on us.", None),
    (TRAVEL, "It's $2 a mile after the first 25 miles.", "travel"),
    (TRAVEL, "There's a $1 per mile fee beyond 30 miles.", "travel"),
    (TRAVEL, "No travel fee within 30 miles; after that, $2 per mile each way.", "travel"),
    (TRAVEL, "Travel is complimentary up to 40 miles.", "travel"),
    (FAR, "That's 15 miles past our free radius, so 15 x $2 = $30 one way.", None),
    (FAR, "The travel fee would be $30.", None),
    (FAR, "The travel fee would be $90.", "travel"),
    (FAR, "Travel would be free.", "travel"),
    (NEAR, "At 20 miles, travel is free.", None),
    ("Can we book? It's about 40 miles from Fresno.", "Travel would be 10 x $2 = $20.", None),
    ("Can we book? It's about 40 miles from Fresno.", "Travel would be 40 x $2 = $80.", "travel"),
    (NEAR, "The travel fee would be $40.", "travel"),
    # gratuity
    (TIP, "Gratuity is not included; 20% to the chef is suggested, paid on the day.", None),
    (TIP, "A 20% gratuity is suggested but not required.", None),
    (TIP, "Tip is not included.", None),
    (TIP, "Gratuity is included in the price.", "gratuity"),
    (TIP, "Tips are included, so no need to tip the chef.", "gratuity"),
    (TIP, "We suggest a 15% tip for the chef.", "gratuity"),
    (TIP, "No need to tip!", "gratuity"),
    (TIP, "An 18% service charge is automatically added as gratuity.", "gratuity"),
    # party minimum as a policy
    ("Is there a minimum order?", "We have no minimum!", "minimum"),
    ("Is there a minimum order?", "The $550 minimum includes travel and gratuity.", "minimum"),
    ("Is there a minimum order?", "The minimum of $550 doesn't include travel fees or tips.", None),
    ("prices?", "Adults $60, kids $30 (12 and under), under 3 free, $550 minimum, $100 deposit, 48 hours notice, "
                "20% tip suggested.", None),
    ("prices?", "Adults $60, kids $30 (12 and under), under 3 free, $550 minimum, $100 deposit, 24 hours notice, "
                "20% tip suggested.", "lead_time"),
    ("prices?", "Kids 12 and under eat free and kids 3 and under are $30.", "price"),
    # proteins per guest
    ("How many proteins does each guest get?", "Each guest picks 2 proteins.", None),
    ("How many proteins does each guest get?", "Every guest chooses three proteins.", "proteins"),
    ("How many proteins does each guest get?", "Guests get unlimited proteins.", "proteins"),
    # allergies: no guarantee
    (SHELLFISH, "The chef cooks allergy orders first on a cleaned grill, but we cannot guarantee no cross-contact.",
     None),
    (SHELLFISH, "We can't promise there won't be any cross-contact, but we cook allergy orders first.", None),
    (SHELLFISH, "Cross-contact can't be ruled out since the grill is shared.", None),
    (SHELLFISH, "Allergy orders are cooked first on a clean grill; cross-contact is still possible.", None),
    (SHELLFISH, "We guarantee no cross-contact for shellfish allergies.", "allergy_guarantee"),
    (SHELLFISH, "Don't worry, there is zero risk of cross-contamination.", "allergy_guarantee"),
    (SHELLFISH, "We use a separate grill for allergy orders, so it's completely safe.", "allergy_guarantee"),
    (SHELLFISH, "Cross-contact is not possible because we clean the grill.", "allergy_guarantee"),
    (SHELLFISH, "Our chef will make sure there's no cross contact.", "allergy_guarantee"),
    (SHELLFISH, "Rest assured, the food will be safe for your guest.", "allergy_guarantee"),
    (SHELLFISH, "It'll be perfectly safe for someone with a shellfish allergy.", "allergy_guarantee"),
    (SHELLFISH, "We'll cook their food separately, so there's nothing to worry about.", "allergy_guarantee"),
    (SHELLFISH, "Absolutely, we can accommodate shellfish allergies with no risk.", "allergy_guarantee"),
    (SHELLFISH, "Don't worry, we cook allergy orders first, but we can't guarantee zero cross-contact.", None),
    (SHELLFISH, "No worries! Allergy orders go first on a cleaned grill; cross-contact is still possible though.",
     None),
    (SHELLFISH, "We cook allergy orders first to keep things as safe as possible, but cross-contact can still happen.",
     None),
    # gluten-free: available, and the answer must say cross-contact is possible
    (CELIAC, "Gluten-free is available on request with tamari instead of soy sauce; the grill is shared, so "
             "cross-contact is possible.", None),
    (CELIAC, "Yes! We use tamari instead of soy sauce, but since we share one grill there may be traces of gluten.",
     None),
    (CELIAC, "Yes, everything can be made 100% gluten-free.", "allergy_guarantee"),
    (CELIAC, "Gluten-free is available with tamari, and there's no risk of cross-contact.", "allergy_guarantee"),
    (CELIAC, "Sorry, we can't accommodate gluten-free diets.", "dietary"),
    (CELIAC, "Our gluten-free meals are prepared safely with no gluten contact.", "allergy_guarantee"),
    (CELIAC, "Gluten-free is totally safe for celiacs.", "allergy_guarantee"),
    (CELIAC, "We cook gluten-free orders on a dedicated grill.", "allergy_guarantee"),
    (CELIAC, "Yes, we can do gluten-free with tamari.", "dietary"),
    ("Do you have vegetarian options?", "For vegetarian guests we offer tofu and extra vegetables.", None),
]


@pytest.mark.parametrize(("prompt", "response", "expected"), CASES)
def test_policies(judge, prompt, response, expected):
    judge(prompt, response, expected)


def test_gluten_free_without_the_caveat_costs_less_than_a_false_guarantee(critic):
    silent = critic.evaluate(CELIAC, "Yes, we can do gluten-free with tamari.")
    promise = critic.evaluate(CELIAC, "Gluten-free is available with tamari, and there's no risk of cross-contact.")
    assert not silent.passed and not promise.passed
    assert silent.quality_score > promise.quality_score

"""The scrubber on wordings it was not tuned on: names with and without cues, in lower case, of many origins;
numbers in every format; and the business facts around them, which must survive."""

from __future__ import annotations

import re

import pytest

from components.filter.names import NameFinder, fold
from components.filter.pii import Scrubber


@pytest.fixture(scope="module")
def scrubber() -> Scrubber:
    return Scrubber()


def _leaks(text: str, secrets: list[str], out: str) -> list[str]:
    return [s for s in secrets if re.search(r"(?<!\w)" + re.escape(s) + r"(?!\w)", out)]


@pytest.mark.parametrize("text,secrets", [
    # relatives and roles
    ("Booking for my grandmother Ingrid Lundqvist, she turns 90.", ["Ingrid", "Lundqvist"]),
    ("My fiance, Mateus Carvalho, has a shellfish allergy.", ["Mateus", "Carvalho"]),
    ("our event coordinator is Beatriz Okafor-Lima", ["Beatriz", "Okafor-Lima"]),
    ("The birthday boy is my nephew Kwame.", ["Kwame"]),
    # contact and card-holder lines, signatures
    ("Point of contact: Henrik Johansson, 3 pm", ["Henrik", "Johansson"]),
    ("Billing name - Anneliese Vogt", ["Anneliese", "Vogt"]),
    ("Name on the card is Rafael Quispe.", ["Rafael", "Quispe"]),
    ("Looking forward to it!\n\nWarmly,\nMarguerite", ["Marguerite"]),
    ("-- Tobias", ["Tobias"]),
    ("Ask for Giulia when you get to the gate.", ["Giulia"]),
    ("Hi Svetlana, yes we can do 7 pm.", ["Svetlana"]),
    # no cue at all
    ("Would Sunday work for Anjali Venkataraman and her team?", ["Anjali", "Venkataraman"]),
    ("We told Bartholomew the lobster is extra.", ["Bartholomew"]),
    ("Can Mei-Ling and Jae-won both pick steak?", ["Mei-Ling", "Jae-won"]),
    ("Dominika Wrobel will be there at noon.", ["Dominika", "Wrobel"]),
    ("The Okonkwos said Chukwuemeka Obi will pay", ["Chukwuemeka", "Obi"]),
    # lower case
    ("hi its francesca moretti again, can we move to 6pm", ["francesca", "moretti"]),
    ("my name is thandiwe mokoena and we have 20 guests", ["thandiwe", "mokoena"]),
    ("text lars if the chef is late", ["lars"]),
    ("im abdullahi, is gyoza extra", ["abdullahi"]),
    # accents and particles
    ("Merci, Zoé Lefèvre", ["Zoé", "Lefèvre"]),
    ("Ask for Juan Carlos de la Fuente at the door", ["Juan", "Carlos", "Fuente"]),
    # a second round, written after the first passed (the last four failed then)
    ("My sister-in-law Radhika will handle payment.", ["Radhika"]),
    ("Reservation for the Lindqvist family, 14 guests.", ["Lindqvist"]),
    ("Emergency contact - Keanu Kahananui 808.555.0144", ["Keanu", "Kahananui", "808.555.0144"]),
    ("Kind regards,\nHelga Brünnhilde Sørensen", ["Helga", "Brünnhilde", "Sørensen"]),
    ("Cardholder name: Ngo Thi Lan", ["Ngo", "Thi", "Lan"]),
    ("Is 7pm ok for Jamal and Precious?", ["Jamal", "Precious"]),
    ("Booking under the name Okwuosa.", ["Okwuosa"]),
    ("Our host will be Mrs. Abernathy-Coles.", ["Abernathy-Coles"]),
    ("Signed, P. Szczepański", ["Szczepański"]),
    ("put it under dmitriy", ["dmitriy"]),
    # a third round (only the first failed when written)
    ("Xochitl will meet the chef at the gate.", ["Xochitl"]),
    ("Hi there! Fernando and Lucía are planning the anniversary dinner.", ["Fernando", "Lucía"]),
    ("Per my husband dev, we need 2 vegetarian plates.", ["dev"]),
    ("From: Marisa Quintanilla-Ortiz", ["Marisa", "Quintanilla-Ortiz"]),
    ("Phone: 5305550187, ask for Tavita", ["5305550187", "Tavita"]),
    ("Sincerely yours, Dr. Ifeoma Chukwu", ["Ifeoma", "Chukwu"]),
    ("Jericho and I will host 20 guests.", ["Jericho"]),
    # a fourth round: surnames spelt without a letter Unicode does not decompose (Đặng, Łukasz), which the
    # gazetteer held mangled; a name a town shares, introduced (all three failed when written)
    ("hey its minh dang, party of 9", ["minh", "dang"]),
    ("Dang will pay the deposit.", ["Dang"]),
    ("This is Aoi, can the chef start at 8:00 pm?", ["Aoi"]),
])
def test_names_are_removed(scrubber, text, secrets):
    out = scrubber.scrub(text).text
    assert not _leaks(text, secrets, out), out


@pytest.mark.parametrize("text,secret,kind", [
    ("reach me on 9165550143 after work", "9165550143", "PHONE"),
    ("my cell is 916 555 0143", "916 555 0143", "PHONE"),
    ("UK number +44 20 7946 0958", "7946 0958", "PHONE"),
    ("Cell: 1-916-555-0143", "555-0143", "PHONE"),
    ("SSN 078 05 1120 for the form", "078 05 1120", "SSN"),
    ("ssn: 078-05-1120", "078-05-1120", "SSN"),
    ("Visa 4012-8888-8888-1881 exp 04/27", "4012-8888-8888-1881", "CARD"),
    ("email me: first.last+party@example.co.uk", "first.last+party@example.co.uk", "EMAIL"),
])
def test_numbers_and_addresses_are_removed(scrubber, text, secret, kind):
    result = scrubber.scrub(text)
    assert secret not in result.text
    assert result.counts[kind] >= 1


@pytest.mark.parametrize("text", [
    "Do you cater in Folsom, Davis or Elk Grove on Saturday, May 9?",
    "We'd like chicken teriyaki, Caesar salad and filet mignon for 14 adults at 6:30 pm.",
    "Is the party minimum $550 before the travel fee? We're 45 miles from San Jose.",
    "Can we start at 7 pm on New Year's Eve in Santa Clara?",
    "Will you bring the grill and propane? May we add gyoza for $10?",
    "Order 12345678 came to $1,250.00 on 2026-06-14, and the deposit was $100.",
    "Rice, salmon and shrimp for 20 guests in Modesto, 12 kids and 8 adults.",
    "Grace period for the refund is 7 days? Hope the weather holds in Sacramento.",
    "Do you serve Walnut Creek, Pleasanton or Livermore? We'd start at 5:30 pm.",
    "Can you do the onion volcano show at our Memorial Day party in Carmichael?",
    "Hibachi for Christmas Eve in Palo Alto, 25 guests, 6 pm?",
    "We're 45 miles from Fresno in Visalia; what's the travel fee?",
    "What's the price for Filet Mignon and Lobster Tail for 12 people?",
    "Our Super Bowl party is in Folsom; 35 guests; yum yum sauce please!",
    "Teriyaki is our favorite, and Venmo is fine for the deposit?",
    "We drove from Folsom and I loved the show.",
])
def test_business_facts_survive(scrubber, text):
    assert scrubber.scrub(text).text == text


def test_one_placeholder_per_full_name(scrubber):
    result = scrubber.scrub("Thanks, Nkechi Adaeze Eze")
    assert result.text == "Thanks, [NAME]" and result.counts["NAME"] == 1


def test_knowledge_base_word_that_is_a_first_name_is_taken_only_next_to_a_name(scrubber):
    assert scrubber.scrub("Jose Villalobos booked San Jose").text == "[NAME] booked San Jose"


def test_fold_removes_accents():
    assert fold("José Ñúñez") == "jose nunez"


def test_fold_spells_out_letters_without_a_decomposition():
    assert [fold(w) for w in ("Đặng", "Łukasz", "Søren", "Strauß", "Þóra", "Ægir")] == \
        ["dang", "lukasz", "soren", "strauss", "thora", "aegir"]


def test_a_place_is_still_a_place_after_a_cue_that_does_not_introduce(scrubber):
    for text in ("We're in Aoi, is that too far?", "It's Aoi or Fresno, which is closer?"):
        assert scrubber.scrub(text).text == text


def test_name_finder_reports_spans():
    finder = NameFinder(keep_words={"lobster"})
    text = "Lobster for Marguerite Okonjo please"
    assert [text[a:b] for a, b in finder.spans(text)] == ["Marguerite Okonjo"]


def test_the_sentence_start_check_agrees_with_its_pattern_on_every_prefix():
    """ends_sentence reads only a prefix's tail (a long text was quadratic); it must say what the pattern says."""
    import random

    from components.filter.names import _SENTENCE_END, ends_sentence

    rng = random.Random(7)
    alphabet = "ab .!?:;\n\"(\u201c-\u2013\u2014,\t\u00a0"
    for _ in range(3000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 12)))
        for end in range(len(text) + 1):
            assert ends_sentence(text, end) == (_SENTENCE_END.search(text[:end]) is not None), (text, end)


"""Email and phone normalisation: one canonical form whatever the writing, and clear errors."""

from __future__ import annotations

import pytest

from hibachi.errors import UserError
from hibachi.identifiers import emails_in, normalize_email, normalize_phone, phone_hint, phones_in


def test_email_is_trimmed_and_lower_cased():
    assert normalize_email("  Ann.Lee@Example.COM ") == "ann.lee@example.com"
    with pytest.raises(UserError, match="not an email"):
        normalize_email("ann at example")


@pytest.mark.parametrize("written", ["(408) 555-0199", "408.555.0199", "+1 408 555 0199", "4085550199",
                                     "1-408-555-0199"])
def test_every_way_of_writing_a_number_is_one_number(written):
    assert normalize_phone(written) == "+14085550199"


def test_a_non_number_is_refused():
    for bad in ("hello", "12"):
        with pytest.raises(UserError, match="not a phone number"):
            normalize_phone(bad)


def test_identifiers_are_found_in_free_text_normalised():
    text = "Mail ANN@Example.com or call (408) 555-0199; the price is $60."
    assert emails_in(text) == {"ann@example.com"}
    assert phones_in(text) == {"+14085550199"}
    assert phones_in("We are 20 guests") == set()
    assert phone_hint("+14085550199") == "0199"

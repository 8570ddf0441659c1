"""A customer's identifiers (email, phone) in one canonical form, to find their conversations.

The PII scrubber (components/filter/pii.py) finds the same things to replace them; here they are
found to be matched: an email is compared lower-cased and trimmed, a phone number as E.164
(``+14085551234``) read the way the scrubber reads it (``phonenumbers``, US by default, lenient), so
"(408) 555-1234", "408.555.1234" and "+1 408 555 1234" are one number.
"""

from __future__ import annotations

import re

from hibachi.errors import UserError

EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
DEFAULT_REGION = "US"


def normalize_email(value: str) -> str:
    """``" Ann.Lee@Example.COM "`` -> ``"ann.lee@example.com"``; anything that is not one email is a UserError."""
    email = value.strip().lower()
    if not EMAIL.fullmatch(email):
        raise UserError(f"{value!r} is not an email address")
    return email


def normalize_phone(value: str, region: str = DEFAULT_REGION) -> str:
    """Any written form of a phone number -> E.164 (``+14085551234``); a non-number is a UserError."""
    import phonenumbers

    try:
        number = phonenumbers.parse(value.strip(), region)
    except phonenumbers.NumberParseException:
        raise UserError(f"{value!r} is not a phone number") from None
    if not phonenumbers.is_possible_number(number):
        raise UserError(f"{value!r} is not a phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def emails_in(text: str) -> set[str]:
    return {m.group(0).lower() for m in EMAIL.finditer(text)}


def phones_in(text: str, region: str = DEFAULT_REGION) -> set[str]:
    """Every phone number in free text, as E.164 (the scrubber's matcher, so what it scrubs is what matches)."""
    if sum(ch.isdigit() for ch in text) < 7:
        return set()
    import phonenumbers

    return {phonenumbers.format_number(m.number, phonenumbers.PhoneNumberFormat.E164)
            for m in phonenumbers.PhoneNumberMatcher(text, region, leniency=phonenumbers.Leniency.POSSIBLE)}


def phone_hint(e164: str) -> str:
    """The last four digits: present as one run in every usual way of writing the number (a cheap SQL pre-filter)."""
    return e164[-4:]

"""Texts with known personal data in them, and the business facts beside it that must survive scrubbing.

``generate(n, seed)`` writes customer messages from templates: names of many origins (with a cue, without
one, in lower case, possessive), phone numbers (formatted, international, ten bare digits), SSNs (dashes or
spaces), emails, street addresses and Luhn-valid card numbers, next to facts a training example needs
(cities, dates, times, prices, head counts, dishes). Every secret and fact is recorded as written, so
``score(cases, scrub)`` can say, per type, how many secrets leaked and how many facts were lost.

The names here are written for this set, not drawn from the scrubber's gazetteer, so a name the gazetteer
does not know counts against it.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

# First and last names by origin, chosen for this set (not taken from the scrubber's gazetteer).
NAMES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "english": (("Harriet", "Desmond", "Clementine", "Barnaby", "Imogen", "Rupert", "Tamsin", "Alistair"),
                ("Whitfield", "Pemberton", "Ashworth", "Fairbanks", "Hollingsworth", "Kettering", "Bramley")),
    "irish": (("Siobhan", "Niamh", "Padraig", "Aoife", "Cormac", "Eoin", "Grainne"),
              ("O'Sullivan", "McGillicuddy", "Donnelly", "Fitzgerald", "Breathnach", "Gallagher")),
    "hispanic": (("Ximena", "Joaquin", "Guadalupe", "Rodrigo", "Itzel", "Esteban", "Marisol", "Alejandro"),
                 ("Villanueva", "Quintero", "Echeverria", "Zamora", "Bustamante", "Arellano", "Montoya")),
    "chinese": (("Xiaoming", "Jiahui", "Zhiwei", "Meiling", "Junjie", "Yuting", "Haoran"),
                ("Zhang", "Xu", "Guo", "Zhou", "Tang", "Liang", "Huang")),
    "vietnamese": (("Thanh", "Nguyet", "Phuong", "Duc", "Quynh", "Huong", "Tuan"),
                   ("Nguyen", "Tran", "Pham", "Huynh", "Vo", "Dang", "Bui")),
    "indian": (("Priyanka", "Aarav", "Lakshmi", "Rohan", "Ananya", "Venkatesh", "Shreya", "Arjun"),
               ("Raghunathan", "Chatterjee", "Iyer", "Deshpande", "Subramanian", "Kulkarni", "Bhattacharya")),
    "nigerian": (("Oluwaseun", "Chiamaka", "Adebayo", "Ngozi", "Emeka", "Folasade", "Chinedu"),
                 ("Adeyemi", "Okonkwo", "Balogun", "Eze", "Okafor", "Adebanjo", "Nwosu")),
    "arabic": (("Yousef", "Fatima", "Khalid", "Layla", "Omar", "Noor", "Tariq"),
               ("Al-Mansouri", "Haddad", "Khoury", "Nasser", "Saleh", "Barakat", "Qureshi")),
    "polish": (("Wojciech", "Agnieszka", "Grzegorz", "Malgorzata", "Krzysztof", "Katarzyna"),
               ("Kowalczyk", "Wisniewski", "Zielinski", "Szymanski", "Wozniak", "Jankowski")),
    "japanese": (("Haruto", "Yui", "Sota", "Aoi", "Ren", "Hinata", "Takumi"),
                 ("Takahashi", "Watanabe", "Yamamoto", "Kobayashi", "Nakamura", "Inoue")),
    "korean": (("Minjun", "Seoyeon", "Jiwoo", "Hyunwoo", "Eunji", "Dohyun"),
               ("Park", "Choi", "Jung", "Kang", "Yoon", "Jang")),
    "filipino": (("Maricel", "Jericho", "Rowena", "Arnel", "Lorna", "Bayani"),
                 ("Dimaculangan", "Bautista", "Macaraeg", "Santiago", "Villareal", "Panganiban")),
    "slavic": (("Dmitri", "Svetlana", "Bogdan", "Oksana", "Miroslav", "Yelena"),
               ("Ivanenko", "Petrovic", "Sokolova", "Novak", "Horvat", "Kuznetsov")),
}

CITIES = ("Sacramento", "San Jose", "Fresno", "San Francisco", "Folsom", "Roseville", "Davis", "Elk Grove",
          "Modesto", "Stockton", "Oakland", "Palo Alto", "Santa Clara", "Clovis", "Livermore", "Walnut Creek")
DISHES = ("lobster tail", "filet mignon", "fried rice", "yum yum sauce", "gyoza", "edamame", "yakisoba noodles",
          "chicken", "shrimp", "salmon", "scallops", "tofu", "teriyaki", "Caesar salad", "chicken Alfredo")
MONTHS = ("January", "March", "April", "May", "June", "July", "August", "October", "December")
STREETS = ("Maple", "Cedar Ridge", "Old Oak", "Willow Creek", "Juniper", "Harbor View", "Sunset")
SUFFIXES = ("Street", "Avenue", "Drive", "Court", "Lane", "Boulevard", "Way", "Road")
RELATIVES = ("wife", "husband", "daughter", "son", "mother-in-law", "sister", "brother", "fiancee", "dad", "grandma")
ROLES = ("planner", "event coordinator", "office manager", "assistant", "neighbor")
DOMAINS = ("example.com", "mail.example.org", "example.net")


@dataclass(frozen=True)
class Secret:
    kind: str  # NAME, PHONE, SSN, EMAIL, ADDRESS, CARD
    value: str  # as written; a name is one part ("Priyanka" or "Raghunathan")
    style: str = ""  # how it was written: cue, no_cue, lower, ...


@dataclass(frozen=True)
class PiiCase:
    text: str
    secrets: tuple[Secret, ...]
    facts: tuple[str, ...]  # substrings that must still be there after scrubbing


@dataclass
class PiiScore:
    found: Counter = field(default_factory=Counter)  # secrets removed, per kind (and NAME:style)
    total: Counter = field(default_factory=Counter)
    facts_kept: int = 0
    facts_total: int = 0
    leaks: list[tuple[str, str]] = field(default_factory=list)  # (secret, scrubbed text)
    lost: list[tuple[str, str]] = field(default_factory=list)  # (fact, scrubbed text)

    def recall(self, kind: str) -> float:
        return self.found[kind] / self.total[kind] if self.total[kind] else 1.0


def _luhn_complete(digits: str) -> str:
    for check in "0123456789":
        candidate = digits + check
        total = 0
        for i, ch in enumerate(reversed(candidate)):
            d = int(ch) * (2 if i % 2 else 1)
            total += d - 9 if d > 9 else d
        if total % 10 == 0:
            return candidate
    raise AssertionError("unreachable")


class _Builder:
    def __init__(self, rng: random.Random):
        self.rng = rng

    def person(self) -> tuple[str, str]:
        firsts, lasts = NAMES[self.rng.choice(sorted(NAMES))]
        return self.rng.choice(firsts), self.rng.choice(lasts)

    def phone(self) -> str:
        area, mid, end = self.rng.randint(201, 989), self.rng.randint(200, 989), self.rng.randint(0, 9999)
        return self.rng.choice((f"({area}) {mid}-{end:04d}", f"{area}-{mid}-{end:04d}", f"{area}.{mid}.{end:04d}",
                                f"+1 {area} {mid} {end:04d}", f"{area}{mid}{end:04d}", f"{area} {mid} {end:04d}"))

    def ssn(self) -> str:
        a, b, c = self.rng.randint(100, 665), self.rng.randint(10, 99), self.rng.randint(1000, 9999)
        return self.rng.choice((f"{a}-{b}-{c}", f"{a} {b} {c}"))

    def card(self) -> str:
        digits = _luhn_complete("4" + "".join(self.rng.choice("0123456789") for _ in range(14)))
        sep = self.rng.choice((" ", "-", ""))
        return sep.join(digits[i:i + 4] for i in range(0, 16, 4))

    def email(self, first: str, last: str) -> str:
        user = re.sub(r"[^a-z]", "", f"{first[0]}{last}".lower()) + str(self.rng.randint(1, 99))
        return f"{user}@{self.rng.choice(DOMAINS)}"

    def address(self) -> str:
        return f"{self.rng.randint(10, 9999)} {self.rng.choice(STREETS)} {self.rng.choice(SUFFIXES)}"

    def facts(self) -> dict[str, str]:
        r = self.rng
        hour = r.randint(1, 8)
        return {"city": r.choice(CITIES), "date": f"{r.choice(MONTHS)} {r.randint(1, 28)}",
                "time": f"{hour}:{r.choice(('00', '30'))} pm", "price": f"${r.choice((60, 30, 550, 100, 10, 5))}",
                "guests": f"{r.randint(8, 40)} guests", "dish": r.choice(DISHES)}


# Templates: {first} {last} {full} for names (their style given), the others for the rest.
_NAME_TEMPLATES: tuple[tuple[str, str], ...] = (
    ("cue", "Hi, my name is {full} and I'd like to book {guests} on {date} in {city}."),
    ("cue", "This is {first}, can the chef start at {time} on {date}?"),
    ("cue", "Please ask for {full} when you arrive in {city}; we want {dish}."),
    ("cue", "My {relative} {first} is organizing it, {guests}, is {dish} {price}?"),
    ("cue", "Our {role}, {full}, will send the {price} deposit before {date}."),
    ("cue", "Contact: {full}\nEvent: {date}, {time}, {city}"),
    ("cue", "Name on card: {full}. Party of {guests} on {date}."),
    ("cue", "Cardholder: {full}, billing for {guests} in {city}"),
    ("cue", "We'd like {dish} for {guests} on {date}.\nThanks,\n{full}"),
    ("cue", "Can we get {dish} for everyone? Best regards, {first}"),
    ("cue", "The party is for my {relative}'s birthday, her name is {first}. {guests} at {time}."),
    ("no_cue", "{full} here. Do you do {dish} for {guests} in {city}?"),
    ("no_cue", "Can {full} pay the {price} deposit on {date}?"),
    ("no_cue", "Is {time} ok? {first} and I are hosting {guests} in {city}."),
    ("no_cue", "We are booking for {first} {last}'s retirement on {date}, {guests}."),
    ("no_cue", "Is {dish} {price}? {full} wants to know before {date}."),
    ("lower", "hey its {lower_full}, party of {guests} in {city} at {time}"),
    ("lower", "pls have the chef text {lower_first} on {date} about the {dish}"),
    ("lower", "my name is {lower_full}, is {dish} {price} per person?"),
)
_OTHER_TEMPLATES: tuple[tuple[str, str], ...] = (
    ("PHONE", "Call me at {phone} about {guests} on {date}."),
    ("PHONE", "my number is {phone}, we're in {city}, want {dish}"),
    ("PHONE", "Text {phone} if {time} on {date} works."),
    ("SSN", "The venue form asks for my SSN, it's {ssn}. Is the deposit {price}?"),
    ("SSN", "ssn {ssn} for the invoice, event on {date} in {city}"),
    ("EMAIL", "Send the quote for {guests} to {email} please, {date} at {time}."),
    ("ADDRESS", "The party is at {address}, {city}, on {date} at {time}."),
    ("ADDRESS", "Chef should come to {address} by {time}; {guests}."),
    ("CARD", "Charge the {price} deposit to {card}, exp 09/28, for {date}."),
    ("CARD", "my card is {card}, party of {guests} in {city}"),
)


def generate(n: int = 400, seed: int = 13) -> list[PiiCase]:
    """``n`` labelled texts, about two in three with a name; seeded, so the same call gives the same set."""
    rng = random.Random(seed)
    build = _Builder(rng)
    cases = []
    for i in range(n):
        first, last = build.person()
        values = {"first": first, "last": last, "full": f"{first} {last}", "lower_first": first.lower(),
                  "lower_full": f"{first} {last}".lower(), "relative": rng.choice(RELATIVES),
                  "role": rng.choice(ROLES), "phone": build.phone(), "ssn": build.ssn(), "card": build.card(),
                  "email": build.email(first, last), "address": build.address(), **build.facts()}
        if i % 3 != 2:
            style, template = _NAME_TEMPLATES[rng.randrange(len(_NAME_TEMPLATES))]
        else:
            style, template = _OTHER_TEMPLATES[rng.randrange(len(_OTHER_TEMPLATES))]
        text = template.format(**values)
        secrets: list[Secret] = []
        for slot, kind in (("phone", "PHONE"), ("ssn", "SSN"), ("card", "CARD"), ("email", "EMAIL"),
                           ("address", "ADDRESS")):
            if "{" + slot + "}" in template:
                secrets.append(Secret(kind, values[slot]))
        used = re.findall(r"\{(\w+)\}", template)
        if "full" in used or "lower_full" in used or "last" in used:
            parts = (first, last)
        elif "first" in used or "lower_first" in used:
            parts = (first,)
        else:
            parts = ()
        for part in parts:
            written = part.lower() if style == "lower" else part
            secrets.append(Secret("NAME", written, style))
        facts = tuple(values[k] for k in ("city", "date", "time", "price", "guests", "dish")
                      if "{" + k + "}" in template)
        cases.append(PiiCase(text, tuple(secrets), facts))
    return cases


def _present(value: str, text: str) -> bool:
    return re.search(r"(?<![\w])" + re.escape(value) + r"(?![\w])", text) is not None


def score(cases: list[PiiCase], scrub: Callable[[str], str]) -> PiiScore:
    """Run ``scrub`` over every case: secrets caught per kind (names also per style) and facts kept."""
    result = PiiScore()
    for case in cases:
        out = scrub(case.text)
        for secret in case.secrets:
            kinds = [secret.kind] + ([f"NAME:{secret.style}"] if secret.kind == "NAME" else [])
            caught = not _present(secret.value, out)
            for kind in kinds:
                result.total[kind] += 1
                result.found[kind] += caught
            if not caught:
                result.leaks.append((secret.value, out))
        for fact in case.facts:
            result.facts_total += 1
            if fact in out:
                result.facts_kept += 1
            else:
                result.lost.append((fact, out))
    return result

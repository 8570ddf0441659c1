"""Numbers as answers write them: spelled-out numbers, money, durations, clock times, miles, percents.

``normalize`` rewrites spelled-out numbers as digits ("fifteen dollars" -> "15 dollars",
"a week" -> "1 week") so every later pattern only has to read digits. The patterns run on the
lower-cased, normalized text; each ``*_value`` helper turns a match into one comparable number
(dollars, hours, minutes after midnight).
"""

from __future__ import annotations

import re

from hibachi.critic.trie import trie_pattern

_ONES = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen".split())}
_TENS = {w: 10 * i for i, w in enumerate("_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()) if i >= 2}
_SCALES = {"hundred": 100, "thousand": 1000}
_WORD = trie_pattern([*_ONES, *_TENS])
_SPELLED = re.compile(
    rf"\b(?:(?:a|one)(?=\s+(?:hundred|thousand))|(?:{_WORD}))(?:(?:[\s-]+|(?<=hundred)\s+and\s+|(?<=thousand)\s+and\s+)(?:{_WORD}|hundred|thousand))*\b"
    r"|\b(?:a|one)\s+dozen\b|\b(?:a|an)\s+(?=(?:hour|day|week)s?\b)|\bhalf\s+(?:a|an)\s+(?=hour\b)",
    re.IGNORECASE)


def _spelled_value(words: str) -> int | None:
    parts = [p for p in re.split(r"[\s-]+", words.lower()) if p and p != "and"]
    if parts[-1:] == ["dozen"]:
        return 12
    total = current = 0
    for part in parts:
        if part in ("a", "an"):
            current = max(current, 1)
        elif part in _ONES:
            current += _ONES[part]
        elif part in _TENS:
            current += _TENS[part]
        elif part in _SCALES:
            current = max(current, 1) * _SCALES[part]
            if part == "thousand":
                total, current = total + current, 0
    return total + current


def _replace(match: re.Match[str]) -> str:
    text = match.group(0)
    if text.lower().startswith("half"):
        return "0.5 "
    if text.strip().lower() in ("a", "an"):
        return "1 "
    value = _spelled_value(text)
    trailing = text[len(text.rstrip()):]
    return f"{value}{trailing}" if value is not None else text


_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}\b)")
_PUNCTUATION = re.compile("[\u2013\u2014\u2019]")
_EMPHASIS = re.compile(r"\*\*|__|`")
_MERIDIEM = re.compile(r"\b([aApP])\.\s?([mM])\.")
_PUNCTUATION_AS = {"\u2013": "-", "\u2014": " - ", "\u2019": "'"}


def normalize(text: str) -> str:
    """Spelled-out numbers become digits; thousands separators disappear; dashes become spaces."""
    return normalize_tracked(text)[0]


def normalize_tracked(text: str) -> tuple[str, list[int]]:
    """``normalize`` plus, for every position of the result, the position in ``text`` it came from
    (so a claim can be quoted in the response's own words)."""
    where = list(range(len(text) + 1))
    for pattern, replace in ((_SPELLED, _replace), (_THOUSANDS, lambda m: ""),
                             (_MERIDIEM, lambda m: m.group(1) + m.group(2)), (_EMPHASIS, lambda m: ""),
                             (_PUNCTUATION, lambda m: _PUNCTUATION_AS[m.group(0)])):
        text, where = _sub_tracked(pattern, replace, text, where)
    return text, where


def _sub_tracked(pattern: re.Pattern[str], replace, text: str, where: list[int]) -> tuple[str, list[int]]:
    if pattern.search(text) is None:
        return text, where  # the common case: nothing to rewrite, positions unchanged
    parts: list[str] = []
    positions: list[int] = []
    last = 0
    for match in pattern.finditer(text):
        parts.append(text[last:match.start()])
        positions.extend(where[last:match.start()])
        new = replace(match)
        parts.append(new)
        positions.extend([where[match.start()]] * len(new))
        last = match.end()
    parts.append(text[last:])
    positions.extend(where[last:])
    return "".join(parts), positions


NUM = r"\d+(?:\.\d+)?"

# "$15", "+$15", "$15.50", "15 dollars", "15 bucks", "USD 15"
MONEY = re.compile(
    rf"(?P<plus>\+\s*|\bplus\s+)?(?:\$\s*(?P<a>{NUM})|\busd\s*(?P<b>{NUM})|(?P<c>{NUM})\s*(?:dollars?|bucks|usd)\b)")
# "48 hours", "2 days", "1 week", "48-hour"
DURATION = re.compile(rf"(?<![\d.$])(?P<n>{NUM})[\s-]*(?P<unit>hours?|hrs?|days?|weeks?|months?)\b")
_DURATION_HOURS = {"h": 1, "d": 24, "w": 168, "m": 720}
# "9pm", "9:30 p.m.", "21:00", "noon", "midnight"
CLOCK = re.compile(
    r"\b(?P<h>\d{1,2})(?::(?P<m>\d{2}))?\s*(?P<ampm>a\.?m\.?|p\.?m\.?)(?![a-z])"
    r"|\b(?P<h24>[01]?\d|2[0-3]):(?P<m24>[0-5]\d)\b"
    r"|\b(?P<noon>noon|midday|midnight)\b"
    r"|\b(?P<hw>\d{1,2})(?::(?P<mw>\d{2}))?\s*(?:o'clock\s*)?(?:in the (?P<part>morning|afternoon|evening)|at night)")
MILES = re.compile(rf"(?P<n>{NUM})[\s-]*(?:miles?|mi)\b")
PERCENT = re.compile(rf"(?P<n>{NUM})\s*(?:%|percent\b|per cent\b)")
AGE_LIMIT = re.compile(
    r"(?P<n>\d{1,2})\s*(?:years?(?:\s*old)?\s*)?(?:and|or|&)\s*(?:under|younger|below)"
    r"|\b(?:under|below|younger than)\s+(?:the\s+age\s+of\s+|age\s+)?(?P<u>\d{1,2})\b"
    r"|\b(?:up to|through|until|till)\s+(?:and including\s+)?(?:the\s+age\s+of\s+|ages?\s+)?(?P<t>\d{1,2})\b"
    r"(?:\s*(?:years?|yrs?)(?:\s*old)?)?"
    r"|\bage[ds]?\s+(?:\d{1,2})\s*(?:-|to|through)\s*(?P<r>\d{1,2})\b"
    r"|\b(?:until|till|before)\s+(?:they(?:'re| are)?\s+|they turn\s+|turning\s+|age\s+)?(?:turn\s+)?(?P<x>\d{1,2})\b")


def money_value(match: re.Match[str]) -> float:
    return float(match.group("a") or match.group("b") or match.group("c"))


def duration_hours(match: re.Match[str]) -> float:
    return float(match.group("n")) * _DURATION_HOURS[match.group("unit")[0]]


def clock_minutes(match: re.Match[str]) -> int:
    """Minutes after midnight; midnight counts as 24:00 so it sorts after any evening time."""
    if match.group("noon"):
        return 12 * 60 if match.group("noon") in ("noon", "midday") else 24 * 60
    if match.group("h24") is not None:
        return int(match.group("h24")) * 60 + int(match.group("m24"))
    if match.group("hw") is not None:
        hours = int(match.group("hw")) % 12 + (0 if match.group("part") == "morning" else 12)
        return hours * 60 + int(match.group("mw") or 0)
    hours, minutes = int(match.group("h")) % 12, int(match.group("m") or 0)
    if match.group("ampm").startswith("p"):
        hours += 12
    return hours * 60 + minutes


def age_limit(match: re.Match[str]) -> int:
    """The oldest age the phrase covers: '12 and under' -> 12, 'under 4' -> 3, 'up to 12' -> 12, 'ages 4-12' -> 12."""
    for group in ("n", "t", "r"):
        if match.group(group):
            return int(match.group(group))
    if match.group("x"):  # "until they turn 5": 4 is the oldest
        return int(match.group("x")) - 1
    return int(match.group("u")) - 1


def fmt_money(value: float) -> str:
    return f"${value:,.0f}" if float(value).is_integer() else f"${value:,.2f}"


def fmt_clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def fmt_num(value: float) -> str:
    return f"{value:g}"

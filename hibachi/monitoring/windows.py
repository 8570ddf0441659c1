"""Time windows and date arguments shared by the reports, the analysis and the dashboard."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from hibachi.errors import UserError

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(text: str) -> timedelta:
    """'24h', '7d', '30m' -> timedelta; anything else is a UserError naming the value."""
    match = _DURATION.match(text or "")
    if not match or float(match.group(1)) <= 0:
        raise UserError(f"window {text!r} is not a positive duration like 30m, 24h or 7d")
    return timedelta(**{_UNITS[match.group(2)]: float(match.group(1))})


def parse_date(text: str, *, name: str = "date") -> datetime:
    """An ISO date or datetime (naive means UTC), or a duration back from now ('7d')."""
    if _DURATION.match(text or ""):
        return datetime.now(UTC) - parse_duration(text)
    try:
        value = datetime.fromisoformat(text.strip())
    except (ValueError, AttributeError):
        raise UserError(f"--{name} {text!r} is not a date (use 2026-11-01, 2026-11-01T12:00 or 7d)") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def as_utc(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; every stored time is UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def check_range(since: datetime, until: datetime) -> None:
    if until <= since:
        raise UserError(f"date range is empty: --until {until.isoformat()} is not after --since {since.isoformat()}")


def format_duration(span: timedelta) -> str:
    """timedelta -> the shortest of '90s', '30m', '24h', '7d' that is exact (the inverse of parse_duration)."""
    seconds = span.total_seconds()
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"

"""Spelled-out numbers, money, durations and clock times as responses write them."""

from __future__ import annotations

import pytest

from hibachi.critic.numbers import CLOCK, DURATION, MONEY, clock_minutes, duration_hours, money_value, normalize


@pytest.mark.parametrize(("text", "expected"), [
    ("fifteen dollars more", "15 dollars more"),
    ("twenty-five guests", "25 guests"),
    ("one hundred and fifty dollars", "150 dollars"),
    ("a hundred bucks", "100 bucks"),
    ("five hundred fifty dollars", "550 dollars"),
    ("a week before", "1 week before"),
    ("a dozen people", "12 people"),
    ("sixty and thirty dollars", "60 and 30 dollars"),
    ("$1,200 total", "$1200 total"),
])
def test_normalize(text, expected):
    assert normalize(text) == expected


@pytest.mark.parametrize(("text", "value"), [
    ("$15", 15), ("+$15", 15), ("$15.50", 15.5), ("15 dollars", 15), ("15 bucks", 15), ("usd 20", 20)])
def test_money(text, value):
    assert money_value(MONEY.search(text)) == value


@pytest.mark.parametrize(("text", "hours"), [("48 hours", 48), ("2 days", 48), ("1 week", 168), ("48-hour", 48)])
def test_durations(text, hours):
    assert duration_hours(DURATION.search(text)) == hours


@pytest.mark.parametrize(("text", "minutes"), [
    ("9pm", 21 * 60), ("9:30 p.m.", 21 * 60 + 30), ("21:00", 21 * 60), ("noon", 12 * 60), ("10am", 10 * 60),
    ("12 pm", 12 * 60), ("midnight", 24 * 60), ("10 in the morning", 10 * 60), ("7 in the evening", 19 * 60)])
def test_clock(text, minutes):
    assert clock_minutes(CLOCK.search(text)) == minutes

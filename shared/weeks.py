"""ISO weeks and the 4-week periods of the check-in rotation, as the services name them.

A week is ``2027-W01``. The check-in asks one rotating module a week, by ISO week number % 4
(``services/notifier/domain/questionnaire.py``), so four consecutive weeks starting at a week
number ≡ 1 (mod 4) ask every module once: period ``2027-P01`` is weeks 1-4, ``P02`` weeks 5-8,
…, ``P13`` weeks 49-52, and in a year with an ISO week 53, ``P14`` is that week alone.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

WEEK = re.compile(r"^(\d{4})-W(0[1-9]|[1-4]\d|5[0-3])$")
PERIOD = re.compile(r"^(\d{4})-P(0[1-9]|1[0-4])$")
WEEKS_PER_PERIOD = 4


def iso_week_of(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def monday_of(iso_week: str) -> date:
    year, week = iso_week.split("-W")
    return date.fromisocalendar(int(year), int(week), 1)


def weeks_between(first: date, last: date) -> list[str]:
    """Every ISO week from the one holding ``first`` to the one holding ``last``, in order."""
    if first > last:
        return []
    monday = first - timedelta(days=first.weekday())
    weeks = []
    while monday <= last:
        weeks.append(iso_week_of(monday))
        monday += timedelta(weeks=1)
    return weeks


def period_of(iso_week: str) -> str:
    year, week = iso_week.split("-W")
    return f"{year}-P{(int(week) - 1) // WEEKS_PER_PERIOD + 1:02d}"


def weeks_of(period: str) -> list[str]:
    """The weeks of a period that exist (P14 only in a 53-week year, and then one week)."""
    year, number = (int(part) for part in period.split("-P"))
    last_week = date(year, 12, 28).isocalendar().week  # 28 December is always in the last week
    first = (number - 1) * WEEKS_PER_PERIOD + 1
    return [
        f"{year}-W{week:02d}"
        for week in range(first, first + WEEKS_PER_PERIOD)
        if week <= last_week
    ]


def last_week_of(period: str) -> str:
    return weeks_of(period)[-1]


def is_last_week_of_its_period(iso_week: str) -> bool:
    return last_week_of(period_of(iso_week)) == iso_week

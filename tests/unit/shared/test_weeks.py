from __future__ import annotations

from datetime import date

import pytest

from services.notifier.domain.questionnaire import module_index
from shared.weeks import (
    is_last_week_of_its_period,
    iso_week_of,
    monday_of,
    period_of,
    weeks_between,
    weeks_of,
)


def test_weeks() -> None:
    assert iso_week_of(date(2027, 1, 4)) == "2027-W01"
    assert iso_week_of(date(2027, 1, 3)) == "2026-W53"
    assert monday_of("2026-W53") == date(2026, 12, 28)
    assert weeks_between(date(2026, 12, 30), date(2027, 1, 11)) == [
        "2026-W53",
        "2027-W01",
        "2027-W02",
    ]
    assert weeks_between(date(2027, 1, 5), date(2027, 1, 4)) == []


@pytest.mark.parametrize(
    ("week", "period"),
    [
        ("2027-W01", "2027-P01"),
        ("2027-W04", "2027-P01"),
        ("2027-W05", "2027-P02"),
        ("2027-W52", "2027-P13"),
        ("2026-W53", "2026-P14"),
    ],
)
def test_periods_group_four_weeks(week: str, period: str) -> None:
    assert period_of(week) == period
    assert week in weeks_of(period)


def test_every_period_asks_every_module_once() -> None:
    for year in (2026, 2027, 2028):
        for number in range(1, 14):
            weeks = weeks_of(f"{year}-P{number:02d}")
            modules = sorted(module_index(monday_of(week)) for week in weeks)
            assert modules == [0, 1, 2, 3], (year, number)
    assert weeks_of("2026-P14") == ["2026-W53"]  # 2026 has 53 ISO weeks
    assert weeks_of("2027-P14") == []  # 2027 has 52


def test_last_week_of_a_period() -> None:
    assert is_last_week_of_its_period("2027-W04")
    assert not is_last_week_of_its_period("2027-W03")
    assert is_last_week_of_its_period("2026-W53")
    assert is_last_week_of_its_period("2026-W52")

"""A rule without COUNT is read from a recent anchor instead of its DTSTART (so a ritual
started in 2000 costs what one started last week does). The occurrences must be exactly those
dateutil finds walking from DTSTART: checked against it for generated rules, DTSTARTs decades
back, zones with DST, and instants anywhere since."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import islice
from zoneinfo import ZoneInfo

import pytest
from dateutil.rrule import rrulestr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.scheduler.domain.recurrence import Schedule, _anchor, _compiled

ZONES = ("Europe/London", "America/New_York", "Australia/Lord_Howe", "Pacific/Apia", "UTC")
DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")


@st.composite
def rules(draw: st.DrawFn) -> str:
    freq = draw(st.sampled_from(("YEARLY", "MONTHLY", "WEEKLY", "DAILY", "HOURLY")))
    parts = [f"FREQ={freq}", f"INTERVAL={draw(st.integers(1, 5))}"]
    if draw(st.booleans()):
        days = draw(st.lists(st.sampled_from(DAYS), min_size=1, max_size=3, unique=True))
        if freq in ("MONTHLY", "YEARLY") and draw(st.booleans()):
            days = [f"{draw(st.sampled_from((1, 2, -1)))}{day}" for day in days[:1]]
        parts.append("BYDAY=" + ",".join(days))
    elif freq in ("MONTHLY", "YEARLY") and draw(st.booleans()):
        parts.append(f"BYMONTHDAY={draw(st.sampled_from((1, 15, 29, 30, 31, -1)))}")
    if freq == "YEARLY" and draw(st.booleans()):
        parts.append(f"BYMONTH={draw(st.integers(1, 12))}")
    if freq != "HOURLY" and draw(st.booleans()):
        hours = draw(st.lists(st.integers(0, 23), min_size=1, max_size=2, unique=True))
        parts.append("BYHOUR=" + ",".join(map(str, hours)))
    if draw(st.booleans()):
        parts.append(f"BYMINUTE={draw(st.sampled_from((0, 30)))}")
    if freq in ("MONTHLY", "WEEKLY") and "BYDAY" in parts[-1] and draw(st.booleans()):
        parts.append(f"BYSETPOS={draw(st.sampled_from((1, -1)))}")
    if draw(st.booleans()):
        parts.append(f"WKST={draw(st.sampled_from(('MO', 'SU')))}")
    return ";".join(parts)


def _walked_from_dtstart(
    rule: str, dtstart: datetime, zone: ZoneInfo, after: datetime, count: int
) -> list[datetime]:
    """What Schedule.occurrences_after meant before anchors: dateutil from DTSTART."""
    found: list[datetime] = []
    previous = None
    start = after - timedelta(days=2)
    for local in rrulestr(rule, dtstart=dtstart.replace(tzinfo=zone)).xafter(
        start.astimezone(zone), inc=True
    ):
        instant = local.replace(fold=0).astimezone(UTC)
        if instant <= after or (previous is not None and instant <= previous):
            continue
        previous = instant
        found.append(instant)
        if len(found) == count:
            break
    return found


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rule=rules(),
    dtstart=st.datetimes(datetime(1995, 1, 1), datetime(2026, 1, 1)).map(
        lambda d: d.replace(second=0, microsecond=0)
    ),
    zone=st.sampled_from(ZONES).map(ZoneInfo),
    years_later=st.floats(0, 30),
)
def test_occurrences_are_those_found_from_dtstart(
    rule: str, dtstart: datetime, zone: ZoneInfo, years_later: float
) -> None:
    after = dtstart.replace(tzinfo=UTC) + timedelta(days=365.25 * years_later)
    schedule = Schedule(rule, dtstart)
    ours = list(islice(schedule.occurrences_after(zone, after), 6))
    assert ours == _walked_from_dtstart(rule, dtstart, zone, after, 6), rule


def test_count_rules_are_read_from_dtstart() -> None:
    """COUNT counts from DTSTART: such a rule ends where it ends, wherever it is read."""
    schedule = Schedule("FREQ=DAILY;COUNT=3", datetime(2000, 1, 1, 9))
    london = ZoneInfo("Europe/London")
    assert schedule.next_after(london, datetime(2000, 1, 2, 12, tzinfo=UTC)) == datetime(
        2000, 1, 3, 9, tzinfo=UTC
    )
    assert schedule.next_after(london, datetime(2026, 1, 1, tzinfo=UTC)) is None


def test_an_old_dtstart_is_read_from_an_anchor_near_the_instant_asked_about() -> None:
    """The work is bounded by where the anchor lies, not by a timing: within two days (a day's
    worth of whole periods) before the search starts, in step with DTSTART's periods."""
    dtstart, start = datetime(2000, 1, 1, 9), datetime(2026, 11, 28, 12, 30)
    hourly = _compiled("FREQ=HOURLY;INTERVAL=2", dtstart, "Europe/London")
    anchor = _anchor(hourly, dtstart, start)
    assert anchor is not None
    assert start - timedelta(days=2) <= anchor <= start - timedelta(days=1)
    assert (anchor - dtstart) % timedelta(hours=2) == timedelta(0)

    monthly = _compiled("FREQ=MONTHLY;INTERVAL=5", dtstart, "Europe/London")
    assert _anchor(monthly, dtstart, start) == datetime(2026, 4, 1)  # 76 x 5 months on
    recent = datetime(2026, 11, 27, 9)  # less than two blocks back: read as it is
    assert _anchor(_compiled("FREQ=HOURLY", recent, "UTC"), recent, start) is None


@pytest.mark.parametrize("freq", ["WEEKLY", "DAILY", "HOURLY"])
def test_an_interval_too_long_for_a_timedelta_fires_once_and_then_never(freq: str) -> None:
    """An API fuzz found it: the re-anchoring's period (INTERVAL times a week) overflowed, a
    500 on PATCH once the ritual's next occurrence was read."""
    schedule = Schedule(f"FREQ={freq};INTERVAL=99999999999", datetime(2027, 1, 4, 9, 0), ())
    london = ZoneInfo("Europe/London")
    assert schedule.next_after(london, datetime(2026, 1, 5, tzinfo=UTC)) == datetime(
        2027, 1, 4, 9, 0, tzinfo=UTC
    )
    assert schedule.next_after(london, datetime(2027, 1, 5, tzinfo=UTC)) is None

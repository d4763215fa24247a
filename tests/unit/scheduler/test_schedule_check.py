"""What a bad RRULE is, decided once (``check_schedule``) for the API and the CLI; and rules
stored before that check existed still load."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from services.scheduler.domain.recurrence import Schedule, ScheduleError
from services.scheduler.domain.schedule_check import ScheduleFieldError, check_schedule

HOUR = timedelta(hours=1)
START = "2027-01-04T09:00"


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ("garbage", "write it as NAME=VALUE parts separated by ';'"),
        ("FREQ=DAILY;", "write it as NAME=VALUE parts separated by ';'"),
        ("FREQ=DAILY;BYDAY=", "write it as NAME=VALUE parts separated by ';'"),
        ("FREQ=DAILY;EVERY=2", "unknown part 'EVERY'"),
        ("INTERVAL=2", "FREQ is required"),
        ("  ", "it is empty"),
        ("FREQ=DAILY;INTERVAL=2;INTERVAL=3", "INTERVAL is given twice"),
        ("FREQ=DAILY;COUNT=3;UNTIL=20280101T000000Z", "give COUNT or UNTIL, not both"),
        ("FREQ=DAILY;UNTIL=20270101T000000Z", "never occurs: its UNTIL is before DTSTART"),
        ("FREQ=DAILY;UNTIL=20270103", "UNTIL must be a UTC instant ending in Z"),
    ],
)
def test_a_badly_written_rule_is_refused_naming_the_rrule_and_why(rule: str, message: str) -> None:
    with pytest.raises(ScheduleFieldError) as refused:
        check_schedule(rule, START, [], HOUR)
    assert refused.value.field == "rrule"
    assert message in str(refused.value)
    assert "unpack" not in str(refused.value)


def test_rules_written_as_rfc_5545_writes_them_pass() -> None:
    for rule in ("FREQ=WEEKLY;BYDAY=MO", "RRULE:freq=daily;interval=2", "FREQ=DAILY;COUNT=3"):
        assert check_schedule(rule, START, [], HOUR).rrule == rule


def test_a_stored_rule_dateutil_reads_still_loads_though_new_ones_are_refused() -> None:
    """A part given twice was accepted before the syntax check: such rows keep working."""
    stored = Schedule("FREQ=DAILY;INTERVAL=2;INTERVAL=3", datetime(2027, 1, 4, 9))
    assert stored.dtstart == datetime(2027, 1, 4, 9)


def test_what_dateutil_cannot_read_is_explained_wherever_it_is_loaded() -> None:
    with pytest.raises(ScheduleError, match="write it as NAME=VALUE"):
        Schedule("garbage", datetime(2027, 1, 4, 9))

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.notifier.domain.quiet_hours import QuietHours, defer_until_quiet_hours_end

NIGHT = QuietHours(time(22, 0), time(8, 0))
LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")


def local(
    zone: ZoneInfo,
    year: int,
    month: int,
    day: int,
    hour: int = 0,
    minute: int = 0,
    second: int = 0,
    *,
    fold: int = 0,
) -> datetime:
    """A wall-clock time in ``zone``, as the UTC instant a clock would hold."""
    wall = datetime(year, month, day, hour, minute, second, tzinfo=zone, fold=fold)
    return wall.astimezone(UTC)


def deferred(now: datetime, zone: ZoneInfo, quiet: QuietHours = NIGHT) -> datetime:
    return defer_until_quiet_hours_end(now, zone, quiet)


class TestWindow:
    def test_a_window_across_midnight_contains_the_night(self) -> None:
        assert NIGHT.contains(time(22, 0))
        assert NIGHT.contains(time(23, 59))
        assert NIGHT.contains(time(0, 0))
        assert NIGHT.contains(time(7, 59, 59, 999999))
        assert not NIGHT.contains(time(8, 0))
        assert not NIGHT.contains(time(21, 59, 59))

    def test_a_window_within_a_day(self) -> None:
        nap = QuietHours(time(13, 0), time(15, 0))
        assert not nap.crosses_midnight
        assert nap.contains(time(13, 0))
        assert nap.contains(time(14, 59))
        assert not nap.contains(time(15, 0))
        assert not nap.contains(time(12, 59))
        assert not nap.contains(time(23, 0))

    def test_equal_start_and_end_means_no_quiet_hours(self) -> None:
        none = QuietHours(time(8, 0), time(8, 0))
        assert not any(
            none.contains(time(hour, minute)) for hour in range(24) for minute in (0, 30)
        )
        now = local(LONDON, 2027, 1, 4, 8, 0)
        assert deferred(now, LONDON, none) == now

    def test_aware_times_are_refused(self) -> None:
        with pytest.raises(ValueError, match="naive"):
            QuietHours(time(22, 0, tzinfo=UTC), time(8, 0))


class TestDeferral:
    def test_late_evening_waits_for_next_morning(self) -> None:
        assert deferred(local(LONDON, 2027, 1, 4, 23, 0), LONDON) == local(LONDON, 2027, 1, 5, 8)

    def test_the_start_of_the_window_is_quiet(self) -> None:
        assert deferred(local(LONDON, 2027, 1, 4, 22, 0), LONDON) == local(LONDON, 2027, 1, 5, 8)

    def test_after_midnight_waits_for_the_same_morning(self) -> None:
        assert deferred(local(LONDON, 2027, 1, 5, 0, 30), LONDON) == local(LONDON, 2027, 1, 5, 8)

    def test_one_minute_before_the_end_waits_one_minute(self) -> None:
        assert deferred(local(LONDON, 2027, 1, 5, 7, 59), LONDON) == local(LONDON, 2027, 1, 5, 8)

    @pytest.mark.parametrize("wall", [time(8, 0), time(12, 0), time(21, 59, 59)])
    def test_outside_the_window_is_now(self, wall: time) -> None:
        now = local(LONDON, 2027, 1, 5, wall.hour, wall.minute, wall.second)
        assert deferred(now, LONDON) == now

    def test_a_window_within_a_day(self) -> None:
        nap = QuietHours(time(13, 0), time(15, 0))
        assert deferred(local(LONDON, 2027, 1, 5, 14, 0), LONDON, nap) == local(
            LONDON, 2027, 1, 5, 15
        )
        assert deferred(local(LONDON, 2027, 1, 5, 13, 0), LONDON, nap) == local(
            LONDON, 2027, 1, 5, 15
        )
        for outside in (local(LONDON, 2027, 1, 5, 12, 59), local(LONDON, 2027, 1, 5, 15, 0)):
            assert deferred(outside, LONDON, nap) == outside
        # 23:00 is outside a 13:00-15:00 window, however "late" it is.
        late = local(LONDON, 2027, 1, 5, 23, 0)
        assert deferred(late, LONDON, nap) == late

    def test_the_window_is_the_members_not_utc(self) -> None:
        # 03:00 UTC is 22:00 in New York (EST): quiet there, until 08:00 EST = 13:00 UTC;
        # in Tokyo it is noon.
        now = datetime(2027, 1, 5, 3, 0, tzinfo=UTC)
        assert deferred(now, NEW_YORK) == datetime(2027, 1, 5, 13, 0, tzinfo=UTC)
        assert deferred(now, ZoneInfo("Asia/Tokyo")) == now

    def test_the_answer_is_in_utc_and_a_non_utc_now_is_accepted(self) -> None:
        now = datetime(2027, 1, 4, 23, 0, tzinfo=LONDON)
        result = deferred(now, LONDON)
        assert result.tzinfo is UTC
        assert result == datetime(2027, 1, 5, 8, 0, tzinfo=UTC)

    def test_a_naive_now_is_refused(self) -> None:
        with pytest.raises(ValueError, match="aware"):
            deferred(datetime(2027, 1, 4, 23, 0), LONDON)


class TestDaylightSaving:
    def test_london_spring_forward_night_ends_at_eight_summer_time(self) -> None:
        # 28 March 2027: 01:00 GMT -> 02:00 BST. The night is an hour shorter.
        result = deferred(local(LONDON, 2027, 3, 27, 23, 0), LONDON)
        assert result == datetime(2027, 3, 28, 7, 0, tzinfo=UTC)
        assert result.astimezone(LONDON).hour == 8

    def test_london_fall_back_night_ends_at_eight_winter_time(self) -> None:
        # 31 October 2027: 02:00 BST -> 01:00 GMT. The night is an hour longer.
        result = deferred(local(LONDON, 2027, 10, 30, 23, 0), LONDON)
        assert result == datetime(2027, 10, 31, 8, 0, tzinfo=UTC)

    def test_new_york_spring_forward(self) -> None:
        # 14 March 2027: 02:00 EST -> 03:00 EDT.
        result = deferred(local(NEW_YORK, 2027, 3, 13, 23, 30), NEW_YORK)
        assert result == datetime(2027, 3, 14, 12, 0, tzinfo=UTC)  # 08:00 EDT

    def test_new_york_fall_back(self) -> None:
        # 7 November 2027: 02:00 EDT -> 01:00 EST.
        result = deferred(local(NEW_YORK, 2027, 11, 6, 23, 30), NEW_YORK)
        assert result == datetime(2027, 11, 7, 13, 0, tzinfo=UTC)  # 08:00 EST

    def test_an_end_inside_the_spring_gap_is_the_first_instant_after_it(self) -> None:
        # Quiet until 02:30, which New York skips on 14 March 2027: clocks read 03:00 EDT.
        quiet = QuietHours(time(22, 0), time(2, 30))
        result = deferred(local(NEW_YORK, 2027, 3, 14, 1, 0), NEW_YORK, quiet)
        assert result == datetime(2027, 3, 14, 7, 0, tzinfo=UTC)
        assert result.astimezone(NEW_YORK).time() == time(3, 0)

    def test_an_end_in_the_repeated_hour_is_its_first_occurrence(self) -> None:
        quiet = QuietHours(time(22, 0), time(1, 30))
        result = deferred(local(NEW_YORK, 2027, 11, 7, 0, 30), NEW_YORK, quiet)
        assert result == local(NEW_YORK, 2027, 11, 7, 1, 30, fold=0)  # 01:30 EDT
        assert result == datetime(2027, 11, 7, 5, 30, tzinfo=UTC)

    def test_inside_the_repeated_hour_the_next_occurrence_still_ahead_is_taken(self) -> None:
        # 01:15 EST (the second time the clocks read 01:15): 01:30 EDT is already past.
        quiet = QuietHours(time(22, 0), time(1, 30))
        now = local(NEW_YORK, 2027, 11, 7, 1, 15, fold=1)
        assert deferred(now, NEW_YORK, quiet) == datetime(2027, 11, 7, 6, 30, tzinfo=UTC)

    def test_lord_howe_springs_forward_by_half_an_hour(self) -> None:
        # Australia/Lord_Howe, 3 October 2027: 02:00 +10:30 -> 02:30 +11:00.
        zone = ZoneInfo("Australia/Lord_Howe")
        quiet = QuietHours(time(22, 0), time(2, 15))
        result = deferred(local(zone, 2027, 10, 3, 1, 0), zone, quiet)
        assert result.astimezone(zone).time() == time(2, 30)
        assert result == datetime(2027, 10, 2, 15, 30, tzinfo=UTC)

    def test_a_skipped_day_defers_to_the_next_real_morning(self) -> None:
        # Samoa skipped 30 December 2011. From 23:00 on the 29th, 08:00 on the 30th never came;
        # the gap ends at midnight on the 31st, still night: the answer is 08:00 on the 31st.
        zone = ZoneInfo("Pacific/Apia")
        result = deferred(local(zone, 2011, 12, 29, 23, 0), zone)
        assert result.astimezone(zone) == datetime(2011, 12, 31, 8, 0, tzinfo=zone)


class TestOddOffsets:
    @pytest.mark.parametrize(
        ("zone_name", "expected_utc"),
        [
            ("Asia/Kolkata", datetime(2027, 1, 5, 2, 30, tzinfo=UTC)),  # +05:30
            ("Asia/Kathmandu", datetime(2027, 1, 5, 2, 15, tzinfo=UTC)),  # +05:45
            ("Australia/Eucla", datetime(2027, 1, 4, 23, 15, tzinfo=UTC)),  # +08:45
            ("Pacific/Chatham", datetime(2027, 1, 4, 18, 15, tzinfo=UTC)),  # +13:45 in summer
            ("America/St_Johns", datetime(2027, 1, 5, 11, 30, tzinfo=UTC)),  # -03:30
        ],
    )
    def test_the_window_ends_at_eight_local(self, zone_name: str, expected_utc: datetime) -> None:
        zone = ZoneInfo(zone_name)
        result = deferred(local(zone, 2027, 1, 4, 23, 0), zone)
        assert result == expected_utc
        assert result.astimezone(zone).time() == time(8, 0)

    def test_a_minute_before_the_end_in_kathmandu(self) -> None:
        zone = ZoneInfo("Asia/Kathmandu")
        assert deferred(local(zone, 2027, 1, 5, 7, 59), zone) == local(zone, 2027, 1, 5, 8, 0)


_ZONES = st.sampled_from(
    [
        "Europe/London",
        "America/New_York",
        "Australia/Lord_Howe",
        "Asia/Kathmandu",
        "Pacific/Chatham",
        "America/Santiago",
        "Pacific/Apia",
        "UTC",
    ]
)
_TIMES = st.times().map(lambda t: t.replace(microsecond=0))


@given(
    now=st.datetimes(
        min_value=datetime(2010, 1, 1), max_value=datetime(2035, 12, 31), timezones=st.just(UTC)
    ),
    zone_name=_ZONES,
    start=_TIMES,
    end=_TIMES,
)
def test_a_deferral_is_never_early_and_never_lands_in_quiet_hours(
    now: datetime, zone_name: str, start: time, end: time
) -> None:
    zone = ZoneInfo(zone_name)
    quiet = QuietHours(start, end)
    result = defer_until_quiet_hours_end(now, zone, quiet)
    assert result >= now
    assert not quiet.contains(result.astimezone(zone).time())
    # At most one night away (plus a skipped day, which only Apia has here).
    assert result - now <= timedelta(days=2)
    if not quiet.contains(now.astimezone(zone).time()):
        assert result == now

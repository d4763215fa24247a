"""Quiet hours: no prompt reaches a member's phone while they sleep; it waits, it is not dropped.

The window is in the member's wall-clock time and may cross midnight (22:00-08:00). It includes
its start and excludes its end, so at 08:00 sharp a prompt goes out. Daylight-saving days are
taken as the member lives them: the window ends at 08:00 local whatever the UTC offset; if the
end falls in a spring-forward gap (02:30 on a day that jumps from 02:00 to 03:00) it ends at the
first instant after the gap; if it falls in a repeated hour, at its first occurrence still ahead.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

# Bounds the search for the window's end: a single day-long gap (Samoa skipped 30 December
# 2011) can land the first candidate inside the next night's window, but never twice.
_MAX_DEFERRALS = 3


@dataclass(frozen=True)
class QuietHours:
    start: time
    end: time

    def __post_init__(self) -> None:
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("quiet hours are wall-clock times: give naive times")

    @property
    def crosses_midnight(self) -> bool:
        return self.start > self.end

    def contains(self, wall_clock: time) -> bool:
        """Whether a local wall-clock time falls inside the window (start included, end not)."""
        if self.start == self.end:
            return False
        if self.crosses_midnight:
            return wall_clock >= self.start or wall_clock < self.end
        return self.start <= wall_clock < self.end


def defer_until_quiet_hours_end(now_utc: datetime, zone: ZoneInfo, quiet: QuietHours) -> datetime:
    """When a message due at ``now_utc`` may be sent to someone living in ``zone``.

    ``now_utc`` itself (as UTC) if that is outside quiet hours, else the UTC instant at which the
    window ends in ``zone``. Never earlier than ``now_utc``; pure.
    """
    if now_utc.tzinfo is None:
        raise ValueError("now_utc must be timezone-aware")
    instant = now_utc.astimezone(UTC)
    for _ in range(_MAX_DEFERRALS):
        local = instant.astimezone(zone)
        wall = local.time().replace(tzinfo=None)
        if not quiet.contains(wall):
            return instant
        end_day = local.date()
        if quiet.crosses_midnight and wall >= quiet.start:
            end_day += timedelta(days=1)
        instant = _first_instant_at_or_after(end_day, quiet.end, zone, not_before=instant)
    return instant


def _first_instant_at_or_after(
    day: date, wall: time, zone: ZoneInfo, not_before: datetime
) -> datetime:
    """The UTC instant at which ``zone``'s clocks read ``day`` ``wall``, or, if they never do
    (a gap), at which they jump past it; the earliest such instant after ``not_before``."""
    candidates = [
        datetime.combine(day, wall, tzinfo=zone).replace(fold=fold).astimezone(UTC)
        for fold in (0, 1)
    ]
    existing = [c for c in candidates if _reads(c, zone, day, wall)]
    if not existing:
        return _end_of_gap(min(candidates), max(candidates), zone)
    later = [c for c in existing if c > not_before]
    return min(later) if later else max(existing)


def _reads(instant: datetime, zone: ZoneInfo, day: date, wall: time) -> bool:
    local = instant.astimezone(zone)
    return local.date() == day and local.time().replace(tzinfo=None) == wall


def _end_of_gap(low: datetime, high: datetime, zone: ZoneInfo) -> datetime:
    """The instant of the offset change between ``low`` (old offset) and ``high`` (new).

    zoneinfo does not expose transitions, so bisect to the second: at most ~17 steps even for a
    day-long gap.
    """
    old_offset = low.astimezone(zone).utcoffset()
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        middle = middle.replace(microsecond=0)
        if middle.astimezone(zone).utcoffset() == old_offset:
            low = middle
        else:
            high = middle
    return high

"""When anonymised facts leave for insights.

Everything a week of prompts produced for insights (answers, signposting) is held in the outbox
and published in one batch when the week *closes*: ``close_after`` after the end of the ISO week
(Monday 00:00 UTC of the next one), late enough for the response window, the late-answer grace
and every time zone. Then the anonymity of a fact is that of its community and week: the
attacker who watches the identity side (who answered, when) learns from the timing only that the
fact belongs to one of the people who answered that week, never which. Answers recorded after
their week closed stay in the notifier; they are not forwarded alone, where their timing would
single them out.

Erasure tombstones leave in the next daily batch (00:00 UTC), not with the member's erasure.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from shared.weeks import monday_of


def week_closes_at(iso_week: str, close_after: timedelta) -> datetime:
    """The instant the week's facts are released, after which its answers are not forwarded."""
    next_monday = monday_of(iso_week) + timedelta(weeks=1)
    return datetime.combine(next_monday, time(0, 0), tzinfo=UTC) + close_after


def next_daily_release(now: datetime) -> datetime:
    """The next 00:00 UTC strictly after ``now``."""
    today = now.astimezone(UTC).date()
    return datetime.combine(today + timedelta(days=1), time(0, 0), tzinfo=UTC)

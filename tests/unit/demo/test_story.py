"""The demo's story is planned so that each beat can happen, and its answers read in words.

The beats themselves (a nudge, a send deferred by quiet hours, STOP, the fallback to e-mail)
are asserted from the system's state in ``tests/integration/demo``; here, that the plan the
demo plays puts each where the notifier's own rules make it happen.
"""

from __future__ import annotations

from datetime import time, timedelta
from zoneinfo import ZoneInfo

from services.demo.answers import anchor_legend, in_words
from services.demo.crowd import AREA_CODES
from services.demo.run import FIRST_CHECK_IN, PEOPLE, WEEKS
from services.demo.scenario import ANCHOR_ITEM
from services.demo.story import (
    FRAN,
    GUS,
    HANA,
    IVO,
    NUDGE_AFTER,
    QUIET_ENDS,
    QUIET_HOURS,
    STORY_DAY,
    STORY_PEOPLE,
)
from services.notifier.domain.phone import to_e164
from services.notifier.domain.quiet_hours import QuietHours, defer_until_quiet_hours_end
from shared.weeks import iso_week_of


def test_answer_codes_are_said_in_words() -> None:
    assert in_words(ANCHOR_ITEM, 5) == '5 ("Never")'
    assert in_words(ANCHOR_ITEM, 1) == '1 ("Often/always")'
    assert in_words("regular_contact", 0) == '0 ("Less than monthly")'
    assert in_words(ANCHOR_ITEM, 9) == '9 ("not an answer to this question")'
    assert anchor_legend() == (
        '"How often do you feel lonely?" 1 Often/always, 2 Some of the time, 3 Occasionally, '
        "4 Hardly ever, 5 Never"
    )


def test_the_story_plays_in_the_last_week_after_the_weekly_check_ins() -> None:
    last_check_in = FIRST_CHECK_IN + timedelta(weeks=WEEKS - 1)
    assert STORY_DAY.date() > last_check_in
    # Before the last week closes, so the demo's releases wait for nothing new.
    assert iso_week_of(STORY_DAY.date()) == iso_week_of(last_check_in)
    # Nobody shares answers: no released figure depends on the story.
    assert not any(person.shares_answers for person in STORY_PEOPLE)


def test_gus_is_due_inside_his_quiet_hours_and_sent_when_they_end() -> None:
    start, end = (time.fromisoformat(value) for value in QUIET_HOURS)
    quiet = QuietHours(start, end)
    zone = ZoneInfo(GUS.timezone)
    assert quiet.contains(STORY_DAY.astimezone(zone).time())
    assert defer_until_quiet_hours_end(STORY_DAY, zone, quiet) == QUIET_ENDS
    # Deferred, but answered before a nudge (2 h after his send) could fall due.
    assert STORY_DAY < QUIET_ENDS < STORY_DAY + NUDGE_AFTER
    for person in (FRAN, HANA, IVO):
        assert person.quiet_hours is None


def test_stop_and_fallback_are_set_up_on_the_right_members() -> None:
    assert (HANA.channel, HANA.fallback) == ("sms", None)  # after STOP: nothing by text
    assert (IVO.channel, IVO.fallback) == ("sms", "email")  # a refused text goes by e-mail
    assert (FRAN.channel, GUS.channel) == ("email", "email")
    phones = [person.phone for person in STORY_PEOPLE if person.phone]
    for phone in phones:
        assert to_e164(phone, "GB") == phone  # valid, so the members API takes them
        assert phone[2:5] not in AREA_CODES  # never one of the crowd's numbers
    assert not set(phones) & {person.phone for person in PEOPLE}

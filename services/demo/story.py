"""One check-in in a small club, played minute by minute to show what members meet beyond a
prompt and an answer: a gentle nudge to someone who has not answered, a send held back by
quiet hours and sent when they end, a member texting STOP (and getting no text after it), and a
text the provider refuses, sent by e-mail instead (the member's fallback channel).

Its members keep their answers private (no insights consent), so it changes no released figure.
Played after the weekly check-ins, on a day of the last week, before that week closes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import aiohttp

from services.demo.answers import in_words
from services.demo.scenario import (
    ANCHOR_ITEM,
    Community,
    Person,
    answer,
    set_up_weekly_check_in,
    text_from,
)
from services.demo.system import LocalSystem
from shared.devsmtp import ReceivedMail
from shared.devtwilio import ScriptedReply

STORY_ID = "brookside"
STORY_NAME = "Brookside Club"
ZONE = "Europe/London"  # UTC in January: local times read as UTC
STORY_DAY = datetime(2027, 1, 26, 9, 0, tzinfo=UTC)  # Tuesday of 2027-W04, 09:00 in London
NUDGE_AFTER = timedelta(hours=2)
QUIET_HOURS = ("21:00", "10:30")
QUIET_ENDS = STORY_DAY.replace(hour=10, minute=30)
# Twilio's "not a valid phone number": permanent, so the notifier does not retry by SMS.
INVALID_NUMBER = 21211

FRAN = Person("Fran", "fran@brookside.example", ZONE, False)
GUS = Person("Gus", "gus@brookside.example", ZONE, False, quiet_hours=QUIET_HOURS)
# Fictional numbers: NANP 555-0100..0199, in an area code the crowd does not use.
HANA = Person("Hana", "hana@brookside.example", ZONE, False, phone="+12135550142", channel="sms")
IVO = Person(
    "Ivo",
    "ivo@brookside.example",
    ZONE,
    False,
    phone="+12135550143",
    channel="sms",
    fallback="email",
)
STORY_PEOPLE = (FRAN, GUS, HANA, IVO)
# What each answers (the anchor question's code).
GUS_ANSWER, IVO_ANSWER, FRAN_ANSWER = 3, 4, 2

Say = Callable[[str], None]
T = TypeVar("T")


@dataclass
class StoryResult:
    """What the story saw happen; ``problems`` says what did not go as the story tells it."""

    community: Community | None = None
    problems: list[str] = field(default_factory=list)

    def expect(self, condition: bool, problem: str) -> None:
        if not condition:
            self.problems.append(problem)


async def play_story(system: LocalSystem, say: Say, timeout_s: float = 60.0) -> StoryResult:
    result = StoryResult()
    say("")
    say(f"{STORY_NAME}: one check-in on Tue 26 Jan (09:00 London, nudge after 2 h if unanswered),")
    say("four members; they keep their answers private, so no released figure changes.")
    community = await set_up_weekly_check_in(
        system,
        STORY_PEOPLE,
        STORY_ID,
        dtstart=STORY_DAY.strftime("%Y-%m-%dT%H:%M"),
        name=STORY_NAME,
        rrule="FREQ=DAILY;COUNT=1",
        nudge_after_minutes=int(NUDGE_AFTER.total_seconds() // 60),
        max_nudges=1,
    )
    result.community = community
    system.twilio.script(IVO.phone or "", ScriptedReply.twilio_error(INVALID_NUMBER))
    mails = _Mailbox(system)
    async with aiohttp.ClientSession() as browser:
        await system.advance_to(STORY_DAY)
        fran_prompt = await _within(mails.next_for(FRAN), timeout_s, "Fran's prompt")
        say(f"  09:00 Fran  e-mail: {fran_prompt.subject!r}; she lets it wait.")
        say(
            f"  09:00 Gus   nothing: 09:00 is inside his quiet hours ({QUIET_HOURS[0]}-"
            f"{QUIET_HOURS[1]}), so the send waits."
        )

        ivo_mail = await _within(mails.next_for(IVO), timeout_s, "Ivo's fallback e-mail")
        ivo_texts = [m for m in system.twilio.messages if m.to == IVO.phone]
        result.expect(not ivo_texts, "Ivo's refused text was recorded as sent")
        result.expect(
            not any(GUS.email in m.envelope_to for m in system.smtp.messages),
            "Gus was sent a prompt in his quiet hours",
        )
        say(
            "  09:00 Ivo   SMS refused by the provider (not a valid number, permanent), so it "
            "goes by e-mail,"
        )
        say(f"              his fallback channel; he answers {in_words(ANCHOR_ITEM, IVO_ANSWER)}.")
        await answer(browser, ivo_mail, IVO_ANSWER)

        hana_prompt = await _within(_texts_to(system, HANA, 1), timeout_s, "Hana's text")
        opening = hana_prompt[0].split(". ")[0]
        say(f'  09:00 Hana  SMS "{opening}. ..."; she texts STOP, and is told:')
        await text_from(system, HANA.phone or "", "STOP")
        confirmation = await _within(_texts_to(system, HANA, 2), timeout_s, "the STOP reply")
        result.expect("START" in confirmation[1], "the STOP reply does not say how to restart")
        say(f"              {confirmation[1]}")

        await _within(_timers_started(system, community, 3), timeout_s, "the nudge timers")
        await system.advance_to(QUIET_ENDS)
        gus_prompt = await _within(mails.next_for(GUS), timeout_s, "Gus's deferred prompt")
        say(
            f"  10:30 Gus   his quiet hours end: the prompt goes now; he answers "
            f"{in_words(ANCHOR_ITEM, GUS_ANSWER)}."
        )
        result.expect(system.clock.now() == QUIET_ENDS, "Gus's prompt was not sent at 10:30")
        await answer(browser, gus_prompt, GUS_ANSWER)

        await system.advance_to(STORY_DAY + NUDGE_AFTER)
        nudge = await _within(mails.next_for(FRAN), timeout_s, "Fran's nudge")
        say(f"  11:00 Fran  a nudge ({nudge.subject!r}); she answers from it,")
        say(f"              {in_words(ANCHOR_ITEM, FRAN_ANSWER)}.")
        await answer(browser, nudge, FRAN_ANSWER)
        hana_nudge = await _within(
            _nudge_outcome(system, community, HANA), timeout_s, "Hana's nudge outcome"
        )
        texts = [m.body for m in system.twilio.messages if m.to == HANA.phone]
        result.expect(len(texts) == 2, "Hana was texted after STOP")
        say(f"  11:00 Hana  her nudge is not sent: she opted out of texts ({hana_nudge}).")
    return result


def _texts_to(
    system: LocalSystem, person: Person, count: int
) -> Callable[[], Awaitable[list[str]]]:
    async def probe() -> list[str]:
        bodies = [m.body for m in system.twilio.messages if m.to == person.phone]
        return bodies if len(bodies) >= count else []

    return probe


def _timers_started(
    system: LocalSystem, community: Community, count: int
) -> Callable[[], Awaitable[bool]]:
    """Whether the scheduler watches ``count`` sent prompts for an answer (a nudge timer runs
    from the actual send, which it learns from the notifier's PromptSent)."""

    async def probe() -> bool:
        scheduler = system.clients["scheduler"]
        timers = await scheduler.get(f"/v1/rituals/{community.ritual_id}/nudge-timers")
        return len(timers) >= count

    return probe


def _nudge_outcome(
    system: LocalSystem, community: Community, person: Person
) -> Callable[[], Awaitable[str]]:
    """The delivery log's word on the person's nudge, once it has one ("failed: opted_out")."""
    member = community.member_ids[person.email]

    async def probe() -> str:
        log = await system.clients["notifier"].get(f"/v1/deliveries?member_id={member}")
        for row in log["items"]:
            if row["nudge_number"] >= 1 and row["status"] not in ("queued", "sending"):
                return f"{row['status']}: {row['failure_reason']}"
        return ""

    return probe


class _Mailbox:
    """E-mails as the SMTP server received them, each person's in order."""

    def __init__(self, system: LocalSystem) -> None:
        self._system = system
        self._seen: dict[str, int] = {}

    def next_for(self, person: Person) -> Callable[[], Awaitable[ReceivedMail | None]]:
        async def probe() -> ReceivedMail | None:
            theirs = [m for m in self._system.smtp.messages if person.email in m.envelope_to]
            seen = self._seen.get(person.email, 0)
            if len(theirs) <= seen:
                return None
            self._seen[person.email] = seen + 1
            return theirs[seen]

        return probe


async def _within(probe: Callable[[], Awaitable[T | None]], timeout_s: float, what: str) -> T:
    """Poll ``probe`` until it returns something (messages flow asynchronously; the clock
    stands still meanwhile)."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        found = await probe()
        if found:
            return found
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"{what} did not come within {timeout_s:g} s")
        await asyncio.sleep(0.02)

"""Weekly check-ins played through the real path: the clock moves to each due instant, the
prompts arrive by SMTP or SMS, and each person answers as planned (signed link and form, or an
SMS reply through the provider's signed webhook)."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime

import aiohttp

from services.demo.scenario import (
    Community,
    Person,
    answer_form,
    answer_links,
    form_link,
    submit_form,
    text_from,
)
from services.demo.system import LocalSystem
from shared.devsmtp import ReceivedMail
from shared.messaging.consumer import ConsumerSpec


@dataclass(frozen=True)
class Cohort:
    """A community and the people in it, with what each answers week by week."""

    community: Community
    people: tuple[Person, ...]


@dataclass(frozen=True)
class CheckIn:
    """One prompt a person received, and what they answered (None: they let it pass)."""

    cohort: Cohort
    person: Person
    due: datetime
    week: int  # their n-th check-in, from 0
    answers: dict[str, int] | None


class Inbox:
    """The prompts each person was sent, read from the SMTP server and the SMS provider as
    they arrive (support messages and replies are not prompts)."""

    def __init__(self, system: LocalSystem) -> None:
        self._system = system
        self._mails: dict[str, list[ReceivedMail]] = defaultdict(list)
        self._texts: dict[str, list[str]] = defaultdict(list)
        self._read_mails = 0
        self._read_texts = 0

    def _refresh(self) -> None:
        mails = self._system.smtp.messages
        for mail in mails[self._read_mails :]:
            if answer_links(mail):  # a check-in; support messages carry no answer links
                for address in mail.envelope_to:
                    self._mails[address.lower()].append(mail)
        self._read_mails = len(mails)
        texts = self._system.twilio.messages
        for text in texts[self._read_texts :]:
            if "STOP" in text.body:  # prompts carry opt-out guidance; replies do not
                self._texts[text.to].append(text.body)
        self._read_texts = len(texts)

    def count(self, person: Person) -> int:
        if person.channel == "sms":
            return len(self._texts[person.phone or ""])
        return len(self._mails[person.email.lower()])

    def latest_mail(self, person: Person) -> ReceivedMail:
        return self._mails[person.email.lower()][-1]

    def first_mail(self, person: Person) -> ReceivedMail:
        return self._mails[person.email.lower()][0]

    def texts(self, person: Person) -> list[str]:
        return list(self._texts[person.phone or ""])

    def counts(self, people: list[Person]) -> dict[str, int]:
        """How many prompts each of ``people`` has had so far, by e-mail address."""
        self._refresh()
        return {person.email: self.count(person) for person in people}

    async def arrivals(
        self,
        people: list[Person],
        before: dict[str, int],
        timeout_s: float = ConsumerSpec.ack_wait_s + 90,
    ) -> AsyncIterator[list[Person]]:
        """Each of ``people`` once their next prompt has come (one more than ``before``), in
        batches as they arrive, until all have. ``before`` is ``counts`` taken before the
        clock moved: a prompt may already arrive while ``advance_to`` waits for the services,
        and counting after that would wait for one more that never comes.

        Patient: on a busy machine a pull from JetStream can time out in a way FastStream does
        not expect (nats-py raises asyncio's TimeoutError, FastStream suppresses only its own
        subclass); the consumer task restarts and a message that pull had taken comes back
        only after the consumer's ack wait, a little late but not lost.
        """
        deadline = asyncio.get_running_loop().time() + timeout_s
        waiting = list(people)
        while True:
            self._refresh()
            came = [p for p in waiting if self.count(p) > before[p.email]]
            if came:
                waiting = [p for p in waiting if self.count(p) <= before[p.email]]
                yield came
            if not waiting:
                return
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"{len(waiting)} of {len(people)} prompts did not arrive")
            await asyncio.sleep(0.05)

    async def wait_for_prompts(
        self,
        people: list[Person],
        before: dict[str, int],
        timeout_s: float = ConsumerSpec.ack_wait_s + 90,
    ) -> None:
        """Until each of ``people`` has had their next prompt (see ``arrivals``)."""
        async for _ in self.arrivals(people, before, timeout_s):
            pass


async def play_check_ins(
    system: LocalSystem,
    cohorts: list[Cohort],
    on_instant: Callable[[datetime, list[CheckIn]], None],
    concurrency: int = 8,
) -> Inbox:
    """Every occurrence the scheduler has planned, in order, until none is left: move the
    clock there and answer each prompt as planned as soon as it comes (``concurrency`` people
    at a time, as many people answer at once), while the rest are still being sent. Reports
    each instant's check-ins to ``on_instant`` once they are answered."""
    scheduler = system.clients["scheduler"]
    inbox = Inbox(system)
    slots = asyncio.Semaphore(concurrency)
    async with aiohttp.ClientSession() as browser:
        while upcoming := await scheduler.get_all("/v1/schedule/upcoming"):
            due = min(datetime.fromisoformat(row["due_at"]) for row in upcoming)
            firing = {
                (row["ritual_id"], row["timezone"])
                for row in upcoming
                if datetime.fromisoformat(row["due_at"]) == due
            }
            here = [
                (cohort, person)
                for cohort in cohorts
                for person in cohort.people
                if (cohort.community.ritual_id, person.timezone) in firing
            ]
            people = [person for _, person in here]
            cohort_of = {id(person): cohort for cohort, person in here}
            before = inbox.counts(people)
            await system.advance_to(due)  # the compressed clock: the next due instant

            async def respond(check_in: CheckIn) -> None:
                if check_in.answers is not None:
                    async with slots:
                        await _answer(system, browser, inbox, check_in.person, check_in.answers)

            # Answering as the prompts come, not once all have, overlaps the answers with the
            # sending of the rest (the weeks took ~15% less time so, on 2 loaded cores).
            arrived: dict[int, CheckIn] = {}
            answering: list[asyncio.Task[None]] = []
            try:
                async for came in inbox.arrivals(people, before):
                    for person in came:
                        week = inbox.count(person) - 1
                        check_in = CheckIn(
                            cohort_of[id(person)], person, due, week, person.answers_in(week)
                        )
                        arrived[id(person)] = check_in
                        answering.append(asyncio.create_task(respond(check_in)))
                await asyncio.gather(*answering)
            finally:
                for task in answering:  # after a failure, none is left running
                    task.cancel()
            on_instant(due, [arrived[id(person)] for person in people])  # in plan order
    return inbox


async def _answer(
    system: LocalSystem,
    browser: aiohttp.ClientSession,
    inbox: Inbox,
    person: Person,
    answers: dict[str, int],
) -> None:
    if person.channel == "sms":
        # The text asks the anchor question: one number in reply. The week's other questions
        # are on the form it links, which those who answer them open.
        anchor, *others = answers.items()
        await text_from(system, person.phone or "", str(anchor[1]))
        if others:
            await submit_form(browser, form_link(inbox.texts(person)[-1]), dict(others))
    else:
        await answer_form(browser, inbox.latest_mail(person), answers)

"""Steps the demo and the end-to-end tests share: set up a community, answer an e-mail."""

from __future__ import annotations

import asyncio
import csv
import io
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field

import aiohttp

from services.demo.system import SMS_NUMBER, LocalSystem
from shared.devsmtp import ReceivedMail

# One-tap links preselect one answer: /r/<token>?<item>=<code>
ANSWER_LINK = re.compile(r"(https?://\S+/r/[A-Za-z0-9_.-]+)\?([a-z0-9_]+)=(\d+)")
# The bare form link (an SMS carries this one, for the questions beyond the anchor).
FORM_LINK = re.compile(r"https?://\S+/r/[A-Za-z0-9_.-]+")
ANCHOR_ITEM = "ons_loneliness"  # asked every week; the demo answers it


@dataclass(frozen=True)
class Person:
    name: str
    email: str
    timezone: str
    shares_answers: bool
    # What they answer in each week: a code for the anchor question alone, codes by item key
    # (the anchor and the week's module), or None (they skip that week).
    answers: tuple[int | Mapping[str, int] | None, ...] = ()
    phone: str | None = None
    channel: str = "email"
    fallback: str | None = None
    quiet_hours: tuple[str, str] | None = None  # local (start, end); None: the default
    locale: str = "en"

    def registration(self) -> dict[str, object]:
        body: dict[str, object] = {
            "email": self.email,
            "locale": self.locale,
            "preferred_channel": self.channel,
            "prompt_consent": {"given": True, "source": "sign-up form"},
            "insights_consent": {"given": self.shares_answers, "source": "sign-up form"},
        }
        if self.phone:
            body["phone"] = self.phone
        if self.fallback:
            body["fallback_channel"] = self.fallback
        if self.quiet_hours:
            body["quiet_hours"] = {"start": self.quiet_hours[0], "end": self.quiet_hours[1]}
        return body

    def import_row(self) -> dict[str, str]:
        """The same registration as a row of the notifier's CSV import (``IMPORT_COLUMNS``)."""
        quiet_start, quiet_end = self.quiet_hours or ("", "")
        return {
            "email": self.email,
            "phone": self.phone or "",
            "locale": self.locale,
            "preferred_channel": self.channel,
            "fallback_channel": self.fallback or "",
            "quiet_start": quiet_start,
            "quiet_end": quiet_end,
            "prompt_consent": "yes",
            "insights_consent": "yes" if self.shares_answers else "no",
            "consent_source": "sign-up form",
        }

    def answers_in(self, week: int) -> dict[str, int] | None:
        """Codes by item key they give in week ``week`` (0-based), or None if they skip it."""
        given = self.answers[week] if week < len(self.answers) else None
        if given is None:
            return None
        return {ANCHOR_ITEM: given} if isinstance(given, int) else dict(given)


@dataclass
class Community:
    id: str
    ritual_id: str
    member_ids: dict[str, str] = field(default_factory=dict)  # e-mail -> member id

    def person_for(self, people: tuple[Person, ...], mail: ReceivedMail) -> Person:
        return next(p for p in people if p.email == mail.envelope_to[0])


IMPORT_COLUMNS = (
    "email",
    "phone",
    "locale",
    "preferred_channel",
    "fallback_channel",
    "quiet_start",
    "quiet_end",
    "prompt_consent",
    "insights_consent",
    "consent_source",
)


def members_csv(people: tuple[Person, ...]) -> str:
    """The people as the CSV file an operator uploads to ``/v1/members/import``."""
    out = io.StringIO()
    writer = csv.DictWriter(out, IMPORT_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(person.import_row() for person in people)
    return out.getvalue()


async def set_up_weekly_check_in(
    system: LocalSystem,
    people: tuple[Person, ...],
    community_id: str = "riverside",
    community_zone: str = "Europe/London",
    dtstart: str = "2027-01-04T09:00",
    *,
    name: str = "Riverside Neighbours",
    region_code: str = "E08000035",
    concurrency: int = 1,
    by_import: bool = False,
    **ritual_fields: object,
) -> Community:
    """A community with a Monday 09:00 check-in (each member's own 09:00) and its members,
    registered one by one or, ``by_import``, all in one CSV upload (as an operator brings a
    few hundred: one request instead of one each), then enrolled ``concurrency`` at a time."""
    scheduler = system.clients["scheduler"]
    notifier = system.clients["notifier"]
    await scheduler.post(
        "/v1/communities",
        {
            "id": community_id,
            "name": name,
            "timezone": community_zone,
            "region_code": region_code,
        },
    )
    ritual = await scheduler.post(
        "/v1/rituals",
        {
            "id": f"{community_id}-monday",
            "community_id": community_id,
            "kind": "check_in",
            "title": "Monday check-in",
            "rrule": "FREQ=WEEKLY;BYDAY=MO",
            "dtstart": dtstart,
            "template_key": "check_in",
            "response_window_minutes": 48 * 60,
        }
        | ritual_fields,
    )
    community = Community(id=community_id, ritual_id=ritual["id"])
    slots = asyncio.Semaphore(concurrency)
    imported: dict[str, str] = {}
    if by_import:
        report = await notifier.post_csv("/v1/members/import", members_csv(people))
        if report["failed"]:
            raise RuntimeError(f"the member import refused rows: {report['rows']}")
        # Rows are numbered as a spreadsheet shows them: the header is row 1.
        imported = {people[row["row"] - 2].email: row["member_id"] for row in report["rows"]}

    async def enrol(person: Person) -> None:
        async with slots:
            member_id = imported.get(person.email)
            if member_id is None:
                member_id = (await notifier.post("/v1/members", person.registration()))["id"]
            await scheduler.post(
                "/v1/enrolments",
                {
                    "community_id": community_id,
                    "member_id": member_id,
                    "timezone": person.timezone,
                },
            )
            community.member_ids[person.email] = member_id

    # One at a time (the default) registers them in order: the semaphore is first come, first
    # served.
    await asyncio.gather(*(enrol(person) for person in people))
    return community


def answer_links(mail: ReceivedMail, item: str = ANCHOR_ITEM) -> dict[int, str]:
    """The signed one-tap links for one question of a prompt, by answer code."""
    return {
        int(value): f"{url}?{key}={value}"
        for url, key, value in ANSWER_LINK.findall(mail.text())
        if key == item
    }


async def answer(
    session: aiohttp.ClientSession, mail: ReceivedMail, value: int, item: str = ANCHOR_ITEM
) -> str:
    """Do what a person does: tap the link for their answer, then confirm on the page (the
    other questions of the week are skipped, as people may)."""
    return await answer_form(session, mail, {item: value})


async def answer_form(
    session: aiohttp.ClientSession, mail: ReceivedMail, codes: Mapping[str, int]
) -> str:
    """Tap the link of the first answer in ``codes`` (item key -> code), then send the page's
    form with every one of them (the week's other questions are skipped)."""
    item, value = next(iter(codes.items()))
    return await submit_form(session, answer_links(mail, item)[value], codes)


def form_link(text: str) -> str:
    """The answer form's link in a text message."""
    found = FORM_LINK.search(text)
    if found is None:
        raise ValueError("the text links no answer form")
    return found.group(0)


# How often a member's page request or text is made again when the connection failed (a
# pooled keep-alive connection the server closed just as it was reused, or a busy machine
# slower than the provider waits). Both are safe to repeat: an answer is stored once per
# question, and a text keeps its message id, so the notifier handles it once.
ATTEMPTS = 3


async def submit_form(session: aiohttp.ClientSession, url: str, codes: Mapping[str, int]) -> str:
    """Open the answer form at ``url`` (a bare or one-tap link), then send it with ``codes``
    (item key -> code); the page's other questions are skipped."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return await _submit_form_once(session, url, codes)
        except aiohttp.ClientConnectionError:
            if attempt == ATTEMPTS:
                raise
    raise AssertionError("unreachable")


async def _submit_form_once(
    session: aiohttp.ClientSession, url: str, codes: Mapping[str, int]
) -> str:
    async with session.get(url) as page:
        if page.status != 200:
            raise RuntimeError(f"answer page answered {page.status}")
    form = {key: str(code) for key, code in codes.items()}
    async with session.post(url.split("?")[0], data=form) as confirmation:
        if confirmation.status != 200:
            raise RuntimeError(f"answer submission answered {confirmation.status}")
        return await confirmation.text()


async def text_from(system: LocalSystem, phone: str, body: str) -> None:
    """Do what a member does: send ``body`` by SMS to the service's number (through the
    provider's signed inbound webhook)."""
    message_sid = f"SM{secrets.token_hex(16)}"
    status = 0
    for _ in range(ATTEMPTS):
        status = await system.twilio.send_inbound(
            system.sms_webhook("inbound"), phone, SMS_NUMBER, body, message_sid=message_sid
        )
        if status != 0:
            break
    if status != 200:
        raise RuntimeError(f"the SMS webhook answered {status}")

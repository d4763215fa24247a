"""The members' preferences page end to end: the signed link in every prompt (and the reply to
PREFS), each change in the notifier (state and consent trail) and, for a ritual's pause, stop
or resume, in the scheduler (the event, its stored choice, and the prompts that stop and start
again); bad links, bad form tokens and bad input refused with a 4xx saying why."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from services.demo.scenario import Community, Person, set_up_weekly_check_in
from services.demo.system import SMS_NUMBER, DatabaseFor, LocalSystem
from services.notifier.adapters.contacts import ConsentEntry, ContactRecord, Contacts
from services.notifier.adapters.tables import deliveries
from services.notifier.domain.signed_links import LinkSigner
from services.notifier.handlers.compose import (
    ANSWER_PURPOSE,
    PREFERENCES_FORM_PURPOSE,
    PREFERENCES_PURPOSE,
)
from services.scheduler.adapters.tables import member_ritual_choices
from shared.clock import ManualClock
from shared.contracts import MemberRitualChoiceV1, RitualChoice, RitualDueV1
from shared.devsmtp import ReceivedMail
from tests.integration.member_pages.test_member_pages import (
    PREVIOUS_KEY,
    assert_member_page_headers,
)
from tests.support import NatsTap, eventually

MONDAY_0900 = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)
WEEK = timedelta(days=7)
ANA = Person(
    "Ana", "ana@riverside.example", "Europe/London", True, phone="+447911123450", fallback="sms"
)
PREFERENCES_LINK = re.compile(r"https?://\S+/p/[A-Za-z0-9_.-]+")
FORM_TOKEN = re.compile(r'name="form_token" value="([A-Za-z0-9_.-]+)"')
CHECK_IN = "riverside-monday"
REACH_OUT = "riverside-reach"


@dataclass
class Prompted:
    system: LocalSystem
    community: Community
    tap: NatsTap
    mail: ReceivedMail

    @property
    def member_id(self) -> str:
        return self.community.member_ids[ANA.email]

    @property
    def preferences_url(self) -> str:
        (url,) = set(PREFERENCES_LINK.findall(self.mail.text()))
        return str(url)

    @property
    def base(self) -> str:
        return self.system.url("notifier-public")

    async def contact(self) -> tuple[ContactRecord, list[ConsentEntry], dict[str, RitualChoice]]:
        async with self.system.runtimes["notifier"].plumbing.sessions() as session:
            contacts = Contacts(session, default_quiet_hours=None)
            record = await contacts.record(self.member_id)
            assert record is not None
            return (
                record,
                await contacts.consent_trail(self.member_id),
                await contacts.ritual_choices(self.member_id),
            )

    async def scheduler_choices(self) -> dict[str, str]:
        async with self.system.runtimes["scheduler"].plumbing.sessions() as session:
            rows = await session.execute(
                select(member_ritual_choices).where(
                    member_ritual_choices.c.member_id == self.member_id
                )
            )
            return {row.ritual_id: row.choice for row in rows}

    def choice_events(self) -> list[MemberRitualChoiceV1]:
        return [
            MemberRitualChoiceV1.model_validate_json(message.data)
            for message in self.tap.on(MemberRitualChoiceV1.subject)
        ]

    def due_events(self, ritual_id: str) -> list[RitualDueV1]:
        events = [RitualDueV1.model_validate_json(m.data) for m in self.tap.on(RitualDueV1.subject)]
        return [event for event in events if event.ritual_id == ritual_id]

    def mails_for(self, ritual_kind_word: str) -> list[ReceivedMail]:
        return [mail for mail in self.system.smtp.messages if ritual_kind_word in mail.text()]


async def _with_two_rituals(system: LocalSystem) -> Community:
    community = await set_up_weekly_check_in(system, (ANA,))
    await system.clients["scheduler"].post(
        "/v1/rituals",
        {
            "id": REACH_OUT,
            "community_id": community.id,
            "kind": "reach_out",
            "title": "Monday reach-out",
            "rrule": "FREQ=WEEKLY;BYDAY=MO",
            "dtstart": "2027-01-04T09:00",
            "template_key": "reach_out",
            "response_window_minutes": 24 * 60,
        },
    )
    return community


@pytest.fixture
async def prompted(
    tmp_path: Path, clock: ManualClock, database_for: DatabaseFor
) -> AsyncIterator[Prompted]:
    overrides = {"link_signing_previous_key": PREVIOUS_KEY}
    async with LocalSystem(tmp_path, clock, database_for, notifier_overrides=overrides) as system:
        tap = NatsTap()
        await tap.start(system.nats.url)
        try:
            community = await _with_two_rituals(system)
            await system.advance_to(MONDAY_0900)
            mails = await system.smtp.wait_for(2)
            check_in = next(mail for mail in mails if "/r/" in mail.text())
            yield Prompted(system, community, tap, check_in)
        finally:
            await tap.stop()


async def _open(http: aiohttp.ClientSession, url: str) -> tuple[int, str]:
    async with http.get(url) as response:
        assert_member_page_headers(response)
        return response.status, await response.text()


async def _save(
    http: aiohttp.ClientSession, url: str, fields: dict[str, str], form_token: str | None = None
) -> tuple[int, str, str | None]:
    """Open the page (for its form token, unless given), post the fields; (status, body,
    Location)."""
    if form_token is None:
        status, page = await _open(http, url)
        assert status == 200, page
        found = FORM_TOKEN.search(page)
        assert found is not None
        form_token = found.group(1)
    data = {"form_token": form_token, **fields}
    async with http.post(url, data=data, allow_redirects=False) as response:
        assert_member_page_headers(response)
        return response.status, await response.text(), response.headers.get("Location")


async def test_every_prompt_links_a_plain_accessible_preferences_form(prompted: Prompted) -> None:
    for mail in prompted.system.smtp.messages:
        (link,) = set(PREFERENCES_LINK.findall(mail.text()))
        assert link in (mail.html() or "")
    async with aiohttp.ClientSession() as http:
        status, page = await _open(http, prompted.preferences_url)
    assert status == 200
    assert "<script" not in page
    assert f'<form method="post" action="/p/{prompted.preferences_url.rsplit("/", 1)[1]}">' in page
    # Every control has a label tied to it, and each group its legend.
    controls = re.findall(r'<input type="(?:radio|time)" id="([^"]+)"', page)
    assert controls, page
    for ident in controls:
        assert f'<label for="{ident}">' in page, ident
    legends = re.findall(r"<legend>([^<]+)</legend>", page)
    assert legends == [
        f"Check-in ({CHECK_IN})",
        f"Reach-out reminder ({REACH_OUT})",
        "Send my messages by",
        "Quiet hours",
        "Language of your messages",
    ]
    assert f'id="ritual-{CHECK_IN}-active" name="ritual-{CHECK_IN}" value="active" checked' in page
    assert 'value="sms"' in page  # Ana has a phone: SMS may be chosen


async def test_pausing_a_ritual_stops_its_prompts_until_resumed(prompted: Prompted) -> None:
    url = prompted.preferences_url
    async with aiohttp.ClientSession() as http:
        status, _, location = await _save(http, url, {f"ritual-{CHECK_IN}": "paused"})
        assert (status, location) == (303, f"/p/{url.rsplit('/', 1)[1]}?saved=1")
        status, page = await _open(http, f"{url}?saved=1")
    assert status == 200
    assert "Your choices are saved." in page
    assert f'name="ritual-{CHECK_IN}" value="paused" checked' in page

    _, trail, choices = await prompted.contact()
    assert choices == {CHECK_IN: RitualChoice.paused}
    assert [(e.kind, e.given, e.source, e.ritual_id, e.detail) for e in trail[2:]] == [
        ("ritual", False, "preferences page: paused", CHECK_IN, "paused")
    ]
    # Operators see it on the member's consent trail.
    listed = await prompted.system.clients["notifier"].get_all(
        f"/v1/members/{prompted.member_id}/consents"
    )
    assert {key: listed[-1][key] for key in ("kind", "given", "ritual_id", "detail")} == {
        "kind": "ritual",
        "given": False,
        "ritual_id": CHECK_IN,
        "detail": "paused",
    }
    (event,) = await eventually(prompted.choice_events)
    assert (event.member_id, event.ritual_id, event.choice) == (
        prompted.member_id,
        CHECK_IN,
        RitualChoice.paused,
    )
    # Pseudonymous id and the ritual only: nothing of the contact travels.
    raw = prompted.tap.on(MemberRitualChoiceV1.subject)[0].data.decode()
    assert ANA.email not in raw
    assert (ANA.phone or "") not in raw
    assert await eventually(lambda: _equal(prompted.scheduler_choices(), {CHECK_IN: "paused"}))

    # The next Monday: the scheduler emits the reach-out only, and only it is sent.
    await prompted.system.advance_to(MONDAY_0900 + WEEK)
    await prompted.system.smtp.wait_for(3)
    assert len(prompted.due_events(CHECK_IN)) == 1
    assert len(prompted.due_events(REACH_OUT)) == 2
    assert len(prompted.mails_for("/r/")) == 1

    async with aiohttp.ClientSession() as http:
        status, _, _ = await _save(http, url, {f"ritual-{CHECK_IN}": "active"})
    assert status == 303
    assert await eventually(lambda: _equal(prompted.scheduler_choices(), {CHECK_IN: "active"}))
    _, trail, _ = await prompted.contact()
    assert [(e.kind, e.given, e.detail) for e in trail[2:]] == [
        ("ritual", False, "paused"),
        ("ritual", True, "active"),
    ]
    # Resumed: the Monday after, the check-in comes again (and no backlog of the missed one).
    await prompted.system.advance_to(MONDAY_0900 + 2 * WEEK)
    await prompted.system.smtp.wait_for(5)
    assert len(prompted.due_events(CHECK_IN)) == 2
    assert len(prompted.mails_for("/r/")) == 2
    assert [(event.choice, event.sequence) for event in prompted.choice_events()] == [
        (RitualChoice.paused, 0),
        (RitualChoice.active, 1),
    ]


async def test_stopping_one_ritual_leaves_the_others(prompted: Prompted) -> None:
    async with aiohttp.ClientSession() as http:
        status, _, _ = await _save(
            http,
            prompted.preferences_url,
            {f"ritual-{REACH_OUT}": "stopped", f"ritual-{CHECK_IN}": "active"},
        )
    assert status == 303
    _, trail, choices = await prompted.contact()
    assert choices == {REACH_OUT: RitualChoice.stopped}
    assert [(e.kind, e.given, e.ritual_id, e.detail) for e in trail[2:]] == [
        ("ritual", False, REACH_OUT, "stopped")
    ]
    assert await eventually(lambda: _equal(prompted.scheduler_choices(), {REACH_OUT: "stopped"}))
    record, _, _ = await prompted.contact()
    assert record.prompt_consent  # nothing else stopped
    assert record.email_opted_out_at is None

    await prompted.system.advance_to(MONDAY_0900 + WEEK)
    await prompted.system.smtp.wait_for(3)
    assert len(prompted.due_events(REACH_OUT)) == 1
    assert len(prompted.due_events(CHECK_IN)) == 2
    assert len(prompted.mails_for("/r/")) == 2


async def test_channel_quiet_hours_and_language_are_saved_and_on_the_trail(
    prompted: Prompted,
) -> None:
    async with aiohttp.ClientSession() as http:
        status, _, _ = await _save(
            http,
            prompted.preferences_url,
            {
                "channel": "sms",
                "quiet_start": "21:30",
                "quiet_end": "07:00:00",  # as some browsers send it
                "language": "es",
                f"ritual-{CHECK_IN}": "active",
                f"ritual-{REACH_OUT}": "active",
            },
        )
    assert status == 303
    record, trail, choices = await prompted.contact()
    assert (record.preferred_channel, record.quiet_start, record.quiet_end, record.locale) == (
        "sms",
        "21:30",
        "07:00",
        "es",
    )
    assert record.fallback_channel == "email"  # SMS was the fallback: now e-mail is
    assert choices == {}
    assert [(e.kind, e.given, e.source, e.detail) for e in trail[2:]] == [
        ("channel", True, "preferences page", "sms"),
        ("locale", True, "preferences page", "es"),
        ("quiet_hours", True, "preferences page", "21:30-07:00"),
    ]
    # A form without the quiet-hours fields leaves them as they are (empty ones clear them).
    async with aiohttp.ClientSession() as http:
        status, _, _ = await _save(http, prompted.preferences_url, {"language": "es"})
    assert status == 303
    record, again, _ = await prompted.contact()
    assert (record.quiet_start, record.quiet_end, len(again)) == ("21:30", "07:00", len(trail))
    # The page now speaks Spanish, errors included.
    async with aiohttp.ClientSession() as http:
        status, page = await _open(http, prompted.preferences_url)
        assert status == 200
        assert '<html lang="es">' in page
        assert "<h1>Tus preferencias</h1>" in page
        assert "<legend>Horas de silencio</legend>" in page
        status, page, _ = await _save(http, prompted.preferences_url, {"quiet_start": "22:00"})
    assert status == 422
    assert "No se guardó nada: las horas de silencio necesitan un inicio y un final" in page
    assert prompted.choice_events() == []  # the scheduler needs none of these
    # The next Monday's prompts go by SMS, in Spanish.
    await prompted.system.advance_to(MONDAY_0900 + WEEK)
    texts = await eventually(lambda: len(prompted.system.twilio.to(ANA.phone or "")) == 2)
    assert texts
    assert all(
        "Responde STOP" in m.body or "PARA" in m.body.upper()
        for m in prompted.system.twilio.to(ANA.phone or "")
    )
    assert len(prompted.system.smtp.messages) == 2


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({"quiet_start": "22:00"}, "quiet hours need both a start and an end"),
        ({"quiet_start": "25:99", "quiet_end": "07:00"}, "must be a time of day"),
        ({"quiet_start": "07:00", "quiet_end": "07:00"}, "start and end at different times"),
        ({"channel": "pigeon"}, "the channel must be e-mail or text message"),
        ({"language": "tlh"}, "language must be one of en, es"),
        ({f"ritual-{CHECK_IN}": "forever"}, "choose keep, pause or stop"),
    ],
)
async def test_bad_input_is_a_422_saying_what_is_wrong_and_changes_nothing(
    prompted: Prompted, fields: dict[str, str], says: str
) -> None:
    async with aiohttp.ClientSession() as http:
        status, page, _ = await _save(http, prompted.preferences_url, fields)
    assert status == 422
    assert 'role="alert"' in page
    assert says in page
    for value in fields.values():
        assert f">{value}" not in page  # what was sent is not echoed as text
    _, trail, choices = await prompted.contact()
    assert len(trail) == 2  # the two consents given at registration
    assert choices == {}
    assert prompted.choice_events() == []


async def test_sms_cannot_be_chosen_without_a_phone_number(
    tmp_path: Path, clock: ManualClock, database_for: DatabaseFor
) -> None:
    bo = Person("Bo", "bo@riverside.example", "Europe/London", True)
    async with LocalSystem(tmp_path, clock, database_for) as system:
        community = await set_up_weekly_check_in(system, (bo,))
        await system.advance_to(MONDAY_0900)
        (mail,) = await system.smtp.wait_for(1)
        (url,) = set(PREFERENCES_LINK.findall(mail.text()))
        async with aiohttp.ClientSession() as http:
            status, page = await _open(http, url)
            assert 'value="sms"' not in page  # not offered
            status, page, _ = await _save(http, url, {"channel": "sms"})
        assert status == 422
        assert "we have no phone number for you, so sms cannot be chosen" in page
        async with system.runtimes["notifier"].plumbing.sessions() as session:
            record = await Contacts(session, None).record(community.member_ids[bo.email])
        assert record is not None
        assert record.preferred_channel == "email"


async def test_bad_expired_or_foreign_links_and_form_tokens_are_refused(
    prompted: Prompted,
) -> None:
    old = LinkSigner(PREVIOUS_KEY.encode())  # verified like the current key
    now = prompted.system.clock.now()
    later = now + timedelta(days=1)
    member = prompted.member_id
    url = prompted.preferences_url
    expired_link = old.sign(PREFERENCES_PURPOSE, member, now - timedelta(seconds=1))
    answer_link = old.sign(ANSWER_PURPOSE, member, later)  # signed, for something else
    stranger = LinkSigner(b"some-other-key-0123456789abcdef0").sign(
        PREFERENCES_PURPOSE, member, later
    )
    expired_form = old.sign(PREFERENCES_FORM_PURPOSE, member, now - timedelta(seconds=1))
    someone_else = old.sign(PREFERENCES_FORM_PURPOSE, "mbr_someoneelse0000", later)
    link_as_form = old.sign(PREFERENCES_PURPOSE, member, later)
    seen: list[tuple[str, int, bool]] = []
    async with aiohttp.ClientSession() as http:
        for name, target in (
            ("malformed link", f"{prompted.base}/p/not-a-token"),
            ("expired link", f"{prompted.base}/p/{expired_link}"),
            ("answer link", f"{prompted.base}/p/{answer_link}"),
            ("other key", f"{prompted.base}/p/{stranger}"),
        ):
            status, page = await _open(http, target)
            seen.append((name, status, "expired" in page or "not valid" in page))
        for name, token in (
            ("no form token", ""),
            ("expired form token", expired_form),
            ("another member's form token", someone_else),
            ("the link as form token", link_as_form),
        ):
            status, page, _ = await _save(
                http, url, {f"ritual-{CHECK_IN}": "stopped"}, form_token=token
            )
            seen.append((name, status, "Nothing was changed" in page))
    assert seen == [
        ("malformed link", 403, True),
        ("expired link", 410, True),
        ("answer link", 403, True),
        ("other key", 403, True),
        ("no form token", 403, True),
        ("expired form token", 403, True),
        ("another member's form token", 403, True),
        ("the link as form token", 403, True),
    ]
    _, trail, choices = await prompted.contact()
    assert len(trail) == 2
    assert choices == {}


async def test_the_notifier_refuses_a_held_ritual_even_when_the_scheduler_emits_it(
    prompted: Prompted,
) -> None:
    """Defence in depth: a choice the scheduler has not heard of (its event still in flight,
    say) still stops the send."""
    sessions = prompted.system.runtimes["notifier"].plumbing.sessions
    async with sessions() as session, session.begin():
        await Contacts(session, None).record_consent(
            prompted.member_id,
            "ritual",
            False,
            "test: no event",
            prompted.system.clock.now(),
            ritual=(CHECK_IN, RitualChoice.paused),
        )
    await prompted.system.advance_to(MONDAY_0900 + WEEK)
    await prompted.system.smtp.wait_for(3)  # the reach-out

    async def check_in_rows() -> list[Any]:
        async with sessions() as session:
            rows = await session.execute(
                select(deliveries.c.status).where(deliveries.c.ritual_id == CHECK_IN)
            )
            return list(rows.scalars())

    assert len(prompted.due_events(CHECK_IN)) == 2  # the scheduler did emit it
    assert await eventually(lambda: _equal(check_in_rows(), ["sent", "skipped"]))
    assert len(prompted.mails_for("/r/")) == 1


async def test_a_member_picks_a_time_slot_and_the_ritual_comes_then(prompted: Prompted) -> None:
    """The slots a ritual offers reach the page on its due event; the member's pick goes to the
    trail and the scheduler, which then sends at that time and not at the default."""
    evening, system = "riverside-evening", prompted.system
    await system.clients["scheduler"].post(
        "/v1/rituals",
        {
            "id": evening,
            "community_id": prompted.community.id,
            "kind": "reach_out",
            "title": "Monday reach-out, morning or evening",
            "rrule": "FREQ=WEEKLY;BYDAY=MO",
            "dtstart": "2027-01-04T09:00",
            "template_key": "reach_out",
            "time_slots": ["09:00", "18:00"],
        },
    )
    await system.advance_to(MONDAY_0900 + WEEK)  # its first prompt, at the default 09:00
    assert [e.time_slots for e in await eventually(lambda: prompted.due_events(evening))] == [
        ["09:00", "18:00"]
    ]
    await system.smtp.wait_for(5)
    url = prompted.preferences_url
    async with aiohttp.ClientSession() as http:
        _, page = await _open(http, url)
        assert "<legend>Time of day to receive it (Europe/London time)</legend>" in page
        for slot, checked in (("09:00", " checked"), ("18:00", "")):
            ident = f"slot-{evening}-{slot}"
            assert f'<label for="{ident}"><input type="radio" id="{ident}" ' in page
            assert f'name="slot-{evening}" value="{slot}"{checked}>' in page
        refused, _, _ = await _save(http, url, {f"slot-{evening}": "07:00"})
        assert refused == 422
        status, _, _ = await _save(http, url, {f"slot-{evening}": "18:00"})
        assert status == 303
        _, page = await _open(http, url)
    assert f'name="slot-{evening}" value="18:00" checked' in page
    _, trail, _ = await prompted.contact()
    assert [(e.kind, e.ritual_id, e.detail) for e in trail[2:]] == [("time_slot", evening, "18:00")]
    (event,) = await eventually(prompted.choice_events)
    assert (event.ritual_id, event.choice, event.time_slot) == (
        evening,
        RitualChoice.active,
        "18:00",
    )

    async def scheduler_slot() -> str | None:
        async with system.runtimes["scheduler"].plumbing.sessions() as session:
            rows = await session.execute(select(member_ritual_choices.c.time_slot))
            return rows.scalar()

    assert await eventually(lambda: _equal(scheduler_slot(), "18:00"))
    await system.advance_to(MONDAY_0900 + 2 * WEEK)
    await system.advance_to(MONDAY_0900 + 2 * WEEK + timedelta(hours=9))
    assert [e.occurrence_at for e in await eventually(lambda: _after(prompted, evening, 2))] == [
        MONDAY_0900 + WEEK,
        MONDAY_0900 + 2 * WEEK + timedelta(hours=9),
    ]


async def _after(prompted: Prompted, ritual_id: str, count: int) -> list[RitualDueV1]:
    events = prompted.due_events(ritual_id)
    return events if len(events) >= count else []


async def test_the_sms_keyword_prefs_replies_with_the_signed_link(prompted: Prompted) -> None:
    phone = ANA.phone or ""
    system = prompted.system
    status = await system.twilio.send_inbound(
        system.sms_webhook("inbound"), phone, SMS_NUMBER, "Prefs"
    )
    assert status == 200
    (reply,) = await eventually(lambda: system.twilio.to(phone))
    (link,) = PREFERENCES_LINK.findall(reply.body)
    assert reply.body.startswith("Your preferences")
    async with aiohttp.ClientSession() as http:
        status, page = await _open(http, link)
    assert status == 200
    assert "Your preferences" in page
    # A member who texts HELP learns the keyword (an SMS prompt carries no link: see README).
    status = await system.twilio.send_inbound(
        system.sms_webhook("inbound"), phone, SMS_NUMBER, "HELP"
    )
    assert status == 200
    _, help_reply = await eventually(
        lambda: system.twilio.to(phone)[1:] and system.twilio.to(phone)
    )
    assert "PREFS to change times or pause" in help_reply.body


async def _equal(value: Any, expected: Any) -> bool:
    return (
        bool(sorted(await value) == sorted(expected))
        if isinstance(expected, list)
        else bool(await value == expected)
    )

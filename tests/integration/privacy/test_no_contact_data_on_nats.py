"""No phone number or e-mail address appears in any event published on NATS, or in a log line."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest

from services.demo.scenario import Person, answer, set_up_weekly_check_in
from services.demo.system import SMS_NUMBER, LocalSystem
from shared.clock import ManualClock
from tests.support import NatsTap, eventually

PEOPLE = (
    Person("Ana", "ana.lopez@riverside.example", "Europe/London", shares_answers=True),
    Person("Chen", "chen+rituals@mail.example", "America/New_York", shares_answers=True),
    Person("Dipa", "dipa@kathmandu.example", "Asia/Kathmandu", shares_answers=False),
    Person(
        "Sam",
        "sam@riverside.example",
        "Europe/London",
        shares_answers=True,
        phone="+447911123456",
        channel="sms",
    ),
)
FREE_TEXT = "Feeling low this week, my sister's number is 07912 345678"
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
# E.164, and the national shapes people type (07700 900123, (415) 555-0100).
PHONE = re.compile(r"\+[1-9]\d{6,14}\b|\b0\d{3,4} ?\d{6}\b|\(\d{3}\) ?\d{3}-\d{4}")


async def test_no_contact_data_in_events_or_logs(
    system: LocalSystem,
    clock: ManualClock,
    nats_tap: NatsTap,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    await set_up_weekly_check_in(system, PEOPLE)
    start = datetime(2027, 1, 3, 12, 0, tzinfo=UTC)
    for quarter in range(30 * 4):
        await system.advance_to(start + timedelta(minutes=15 * quarter))
    mails = await system.smtp.wait_for(3)
    async with aiohttp.ClientSession() as browser:
        for mail in mails:
            await answer(browser, mail, 2)
    sms_webhook = system.sms_webhook("inbound")
    for body in ("3", FREE_TEXT, "HELP", "STOP"):
        assert (
            await system.twilio.send_inbound(sms_webhook, "+447911123456", SMS_NUMBER, body) == 200
        )
    await system.close_week("2027-W01")
    await eventually(lambda: len(nats_tap.on("responses.received.v2")) == 3)
    await eventually(lambda: len(nats_tap.on("prompts.sent.v1")) == 4)
    await eventually(lambda: len(nats_tap.on("prompts.delivered.v1")) == 1)

    event_messages = [m for m in nats_tap.messages if not m.subject.startswith(("$JS", "_INBOX"))]
    assert {m.subject for m in event_messages} >= {
        "rituals.due.v1",
        "prompts.sent.v1",
        "responses.received.v2",
    }
    for message in nats_tap.messages:  # JetStream API traffic included
        text = message.text()
        assert not EMAIL.search(text), (message.subject, text)
        assert not PHONE.search(text), (message.subject, text)
        for person in PEOPLE:
            assert person.email not in text
            assert not person.phone or person.phone not in text
        assert "Feeling low" not in text
        assert "345678" not in text
    # "mail.*" is aiosmtpd and "aiohttp.access" the fake Twilio: they stand in for external
    # providers, whose logs are theirs.
    ours = [r for r in caplog.records if not r.name.startswith(("mail.", "aiohttp.access"))]
    assert ours, "expected the services to have logged something"
    for record in ours:
        line = record.getMessage()
        assert not EMAIL.search(line), line
        assert not PHONE.search(line), line
        assert "Feeling low" not in line
    # Insights' events carry a respondent key, never the member id.
    for message in nats_tap.on("responses.received.v2"):
        assert b"mbr_" not in message.data

"""The notifier's delivery policy against a real SMTP server and a local Twilio-like API that
posts status callbacks. Time moves on the ManualClock: retries and quiet hours wait on it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import nats
from sqlalchemy import select

from services.demo.scenario import Person, set_up_weekly_check_in
from services.demo.system import LocalSystem
from services.notifier.adapters.tables import deliveries
from shared.contracts import (
    Event,
    PromptDeliveredV1,
    PromptFailedV1,
    PromptSentV1,
)
from shared.devtwilio import ScriptedReply
from tests.support import NatsTap, eventually

E = TypeVar("E", bound=Event)

MONDAY_0900 = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)
ANA = Person("Ana", "ana@riverside.example", "Europe/London", True)
SAM = Person(
    "Sam", "sam@riverside.example", "Europe/London", True, phone="+447911123456", channel="sms"
)


def events_of(tap: NatsTap, kind: type[E]) -> list[E]:
    return [kind.model_validate_json(m.data) for m in tap.on(kind.subject)]


async def test_email_and_sms_arrive_rendered_and_delivery_is_reported(
    system: LocalSystem, nats_tap: NatsTap
) -> None:
    await set_up_weekly_check_in(system, (ANA, SAM))
    await system.advance_to(MONDAY_0900)
    (mail,) = await system.smtp.wait_for(1)
    assert mail.envelope_to == (ANA.email,)
    assert "How often do you feel lonely?" in mail.text()
    await eventually(lambda: system.twilio.to(SAM.phone or ""))
    (sms,) = system.twilio.to(SAM.phone or "")
    assert "How often do you feel lonely?" in sms.body
    assert "STOP" in sms.body
    # The fake provider reports sent, then delivered: one PromptDelivered, on the SMS only.
    delivered = await eventually(lambda: events_of(nats_tap, PromptDeliveredV1))
    assert [(e.channel.value, e.nudge_number) for e in delivered] == [("sms", 0)]
    await eventually(lambda: len(events_of(nats_tap, PromptSentV1)) == 2)
    sent = events_of(nats_tap, PromptSentV1)
    assert sorted(e.channel.value for e in sent) == ["email", "sms"]


async def test_smtp_451_then_250_is_delivered_once_after_two_attempts(
    system: LocalSystem, nats_tap: NatsTap
) -> None:
    system.smtp.script(ANA.email, "451 4.3.0 Try again later")
    await set_up_weekly_check_in(system, (ANA,))
    await system.advance_to(MONDAY_0900)
    await eventually(lambda: system.smtp.attempts(ANA.email) == 1)
    assert system.smtp.messages == []
    # The retry waits for its backoff on the injected clock (first retry: 30-60 s).
    await system.advance_to(MONDAY_0900 + timedelta(seconds=29))
    assert system.smtp.attempts(ANA.email) == 1
    await system.advance_to(MONDAY_0900 + timedelta(seconds=61))
    await system.smtp.wait_for(1)
    (sent,) = await eventually(lambda: events_of(nats_tap, PromptSentV1))
    assert sent.attempts == 2
    await system.advance_to(MONDAY_0900 + timedelta(hours=2))
    assert system.smtp.attempts(ANA.email) == 2
    assert len(system.smtp.to(ANA.email)) == 1


async def test_smtp_550_fails_without_retry(system: LocalSystem, nats_tap: NatsTap) -> None:
    system.smtp.script(ANA.email, "550 5.1.1 No such user")
    await set_up_weekly_check_in(system, (ANA,))
    await system.advance_to(MONDAY_0900)
    (failed,) = await eventually(lambda: events_of(nats_tap, PromptFailedV1))
    assert (failed.reason.value, failed.provider_status, failed.attempts) == (
        "rejected_permanently",
        550,
        1,
    )
    for hours in (1, 6, 24):
        await system.advance_to(MONDAY_0900 + timedelta(hours=hours))
    assert system.smtp.attempts(ANA.email) == 1
    assert events_of(nats_tap, PromptSentV1) == []


async def test_sms_429_is_retried_after_the_backoff(system: LocalSystem, nats_tap: NatsTap) -> None:
    phone = SAM.phone or ""
    system.twilio.script(phone, ScriptedReply.rate_limited(retry_after_s=120))
    await set_up_weekly_check_in(system, (SAM,))
    await system.advance_to(MONDAY_0900)
    await system.twilio.wait_for_requests(phone, 1)
    # Retry-After says 120 s: nothing before, then one more request, which succeeds.
    await system.advance_to(MONDAY_0900 + timedelta(seconds=119))
    assert system.twilio.request_count(phone) == 1
    await system.advance_to(MONDAY_0900 + timedelta(seconds=121))
    await system.twilio.wait_for_requests(phone, 2)
    await eventually(lambda: len(system.twilio.to(phone)) == 1)
    (sent,) = await eventually(lambda: events_of(nats_tap, PromptSentV1))
    assert sent.attempts == 2


async def test_a_redelivered_ritual_due_sends_one_message(
    system: LocalSystem, nats_tap: NatsTap
) -> None:
    await set_up_weekly_check_in(system, (ANA,))
    await system.advance_to(MONDAY_0900)
    await system.smtp.wait_for(1)
    (original,) = nats_tap.on("rituals.due.v1")
    # The same event again under a fresh Nats-Msg-Id: JetStream cannot drop it, the
    # notifier's delivery ledger must.
    client = await nats.connect(system.nats.url)
    js = client.jetstream()
    for copy in range(3):
        await js.publish("rituals.due.v1", original.data, headers={"Nats-Msg-Id": f"again-{copy}"})
    await client.close()
    event_id = json.loads(original.data)["event_id"]
    await eventually(lambda: len(nats_tap.on("rituals.due.v1")) == 4)
    await system.advance_to(MONDAY_0900 + timedelta(minutes=5))
    assert len(system.smtp.to(ANA.email)) == 1
    sent = await eventually(lambda: events_of(nats_tap, PromptSentV1))  # the relay publishes
    assert [e.due_event_id for e in sent] == [event_id]


async def test_quiet_hours_defer_a_2300_prompt_to_0800_local(
    system: LocalSystem, nats_tap: NatsTap
) -> None:
    night_owl = Person(
        "Nia", "nia@riverside.example", "America/New_York", True, quiet_hours=("22:00", "08:00")
    )
    await set_up_weekly_check_in(system, (night_owl,), dtstart="2027-01-04T23:00")
    due = datetime(2027, 1, 5, 4, 0, tzinfo=UTC)  # Monday 23:00 in New York
    await system.advance_to(due)
    for minutes in (1, 60, 8 * 60 + 59):
        await system.advance_to(due + timedelta(minutes=minutes))
    assert system.smtp.messages == []  # deferred, not dropped
    await system.advance_to(due + timedelta(hours=9))  # Tuesday 08:00 in New York
    (mail,) = await system.smtp.wait_for(1)
    assert mail.envelope_to == (night_owl.email,)
    (sent,) = await eventually(lambda: events_of(nats_tap, PromptSentV1))
    assert sent.occurred_at == datetime(2027, 1, 5, 13, 0, tzinfo=UTC)


async def test_a_permanently_invalid_number_falls_back_to_email(
    system: LocalSystem, nats_tap: NatsTap
) -> None:
    sam = Person(
        "Sam",
        "sam@riverside.example",
        "Europe/London",
        True,
        phone="+447911123456",
        channel="sms",
        fallback="email",
    )
    system.twilio.script(sam.phone or "", ScriptedReply.twilio_error(21211))
    await set_up_weekly_check_in(system, (sam,))
    await system.advance_to(MONDAY_0900)
    (mail,) = await system.smtp.wait_for(1)
    assert mail.envelope_to == (sam.email,)
    failed = await eventually(lambda: events_of(nats_tap, PromptFailedV1))
    assert [(f.channel.value if f.channel else None, f.reason.value) for f in failed] == [
        ("sms", "rejected_permanently")
    ]


async def test_transient_failures_past_the_limit_go_to_the_dead_letters(
    system: LocalSystem, nats_tap: NatsTap
) -> None:
    system.smtp.script(ANA.email, *["421 4.7.0 Busy"] * 10)
    await set_up_weekly_check_in(system, (ANA,))
    await system.advance_to(MONDAY_0900)
    for hours in range(1, 12):
        await system.advance_to(MONDAY_0900 + timedelta(hours=hours))
    dead = await eventually(lambda: nats_tap.on("deadletter.rituals.due.v1"))
    assert "retries exhausted after 6 attempts" in dead[0].headers["Dead-Letter-Reason"]
    assert json.loads(dead[0].data)["member_id"].startswith("mbr_")
    (failed,) = events_of(nats_tap, PromptFailedV1)
    assert (failed.reason.value, failed.attempts) == ("retries_exhausted", 6)
    assert system.smtp.attempts(ANA.email) == 6


async def test_a_dispatcher_whose_lease_lapsed_leaves_the_send_to_the_new_holder(
    system: LocalSystem,
) -> None:
    # The provider hangs on the first send, holding up the batch past its lease; a second
    # dispatch (as another replica would) claims what the first holds and what is queued. When
    # the hang ends, the first dispatcher's late outcome and its remaining sends are dropped:
    # each member gets one message, not one from each dispatcher.
    kim = Person(
        "Kim", "kim@riverside.example", "Europe/London", True, phone="+447911123457", channel="sms"
    )
    phones = [SAM.phone or "", kim.phone or ""]
    for phone in phones:
        system.twilio.script(phone, ScriptedReply.hang())
    await set_up_weekly_check_in(system, (SAM, kim))
    system.clock.set(MONDAY_0900)
    await eventually(lambda: sum(system.twilio.request_count(p) for p in phones) == 1)
    sessions = system.runtimes["notifier"].plumbing.sessions

    async def queued_or_leased() -> int:
        async with sessions() as session:
            return len((await session.execute(select(deliveries.c.id))).all())

    await eventually(lambda: _equals(queued_or_leased(), 2))
    system.clock.advance(timedelta(hours=1))  # past the lease
    replica = asyncio.create_task(system.dispatcher.dispatch_due())

    async def both_claimed_by_the_replica() -> bool:
        async with sessions() as session:
            leases = (await session.execute(select(deliveries.c.lease_until))).scalars().all()
        return all(lease is not None and lease > system.clock.now() for lease in leases)

    await eventually(both_claimed_by_the_replica)
    system.twilio.release_hanging()
    result = await asyncio.wait_for(replica, timeout=30)
    assert result.claimed == 2
    await system.advance_to(MONDAY_0900 + timedelta(hours=2))
    await eventually(lambda: all(system.twilio.to(p) for p in phones))
    assert [len(system.twilio.to(p)) for p in phones] == [1, 1]


async def _equals(count: Awaitable[int], expected: int) -> bool:
    return await count == expected


async def test_a_provider_that_is_down_pauses_its_channel_instead_of_failing_every_message(
    system: LocalSystem,
) -> None:
    # Three SMS prompts held by quiet hours become due in one batch at 08:00. The provider
    # answers the first with a 500: the other two are not tried against it, and no attempt is
    # counted against them; all three go out once the retry is due.
    people = [
        Person(
            name,
            f"{name.lower()}@riverside.example",
            "Europe/London",
            True,
            phone=f"+44791112345{n}",
            channel="sms",
            quiet_hours=("22:00", "08:00"),
        )
        for n, name in enumerate(("Ada", "Ben", "Cy"))
    ]
    phones = [p.phone or "" for p in people]
    for phone in phones:
        system.twilio.script(phone, ScriptedReply.server_error())
    await set_up_weekly_check_in(system, tuple(people), dtstart="2027-01-04T23:00")
    await system.advance_to(datetime(2027, 1, 4, 23, 0, tzinfo=UTC))
    await system.advance_to(datetime(2027, 1, 5, 8, 0, tzinfo=UTC))
    sessions = system.runtimes["notifier"].plumbing.sessions

    async def all_waiting_for_the_retry() -> list[int] | None:
        async with sessions() as session:
            rows = (
                await session.execute(
                    select(deliveries.c.status, deliveries.c.not_before, deliveries.c.attempts)
                )
            ).all()
        waiting = [r for r in rows if r.status == "queued" and r.not_before > system.clock.now()]
        return sorted(r.attempts for r in rows) if len(waiting) == 3 else None

    assert await eventually(all_waiting_for_the_retry) == [0, 0, 1]
    assert sum(system.twilio.request_count(p) for p in phones) == 1
    for minutes in range(1, 60):  # each retry pays for at most one scripted 500
        await system.advance_to(datetime(2027, 1, 5, 8, minutes, tzinfo=UTC))
    await eventually(lambda: all(system.twilio.to(p) for p in phones))
    assert [len(system.twilio.to(p)) for p in phones] == [1, 1, 1]
    assert sum(system.twilio.request_count(p) for p in phones) == 6  # 3 x (500, then 201)

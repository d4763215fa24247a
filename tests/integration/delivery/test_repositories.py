"""The repositories' promises, on the real schema (SQLite here, PostgreSQL with CI=true): a
provider state never moves backwards, a consent change always leaves its trail row, erasure
takes answers with the deliveries, and nothing is committed unless the caller commits."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.notifier.adapters.contacts import ContactRecord, Contacts
from services.notifier.adapters.deliveries import Deliveries
from services.notifier.adapters.ritual_slots import learn_time_slots, time_slots_of
from services.notifier.adapters.tables import answers
from shared.contracts import RitualDueV1, RitualKind, deterministic_event_id
from tests.integration.delivery.rows import NOW, sent_sms_delivery

pytestmark = pytest.mark.database


def _contact(member_id: str) -> ContactRecord:
    return ContactRecord(
        member_id=member_id,
        email=f"{member_id}@example.org",
        phone=None,
        locale="en",
        preferred_channel="email",
        fallback_channel=None,
        quiet_start=None,
        quiet_end=None,
        sms_opted_out_at=None,
        email_opted_out_at=None,
        prompt_consent=True,
        prompt_consent_at=NOW,
        prompt_consent_source="form",
        insights_consent=False,
        insights_consent_at=NOW,
        insights_consent_source="form",
        pseudonym_seed="seed-" + member_id,
        created_at=NOW,
        updated_at=NOW,
    )


async def test_a_provider_state_never_moves_backwards(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session, session.begin():
        await Deliveries(session).add_new([sent_sms_delivery("d1", "m1", "msg-1", rank=5)])
    async with sessions() as session, session.begin():
        ledger = Deliveries(session)
        # A late 'sent' (rank 3), one at a time and in a group: both refused by the WHERE.
        await ledger.advance_provider_state("d1", 3, {"provider_state": "sent"})
        await ledger.advance_provider_states(
            {"d1": {"provider_state": "sent", "provider_state_rank": 3}}
        )
    async with sessions() as session:
        found = await Deliveries(session).lock_by_message_ids(["msg-1"])
    assert (found["msg-1"].provider_state, found["msg-1"].provider_state_rank) == ("delivered", 5)
    async with sessions() as session, session.begin():
        await Deliveries(session).advance_provider_state("d1", 6, {"provider_state": "read"})
    async with sessions() as session:
        read = (await Deliveries(session).lock_by_message_ids(["msg-1"]))["msg-1"]
    assert (read.provider_state, read.provider_state_rank) == ("read", 6)


async def test_every_consent_change_leaves_its_trail_row(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session, session.begin():
        contacts = Contacts(session, default_quiet_hours=None)
        await contacts.add([_contact("m1")])
        await contacts.record_consent("m1", "sms", False, "provider:twilio", NOW)
        await contacts.record_consent("m1", "insights", True, "form", NOW + timedelta(hours=1))
    async with sessions() as session:
        contacts = Contacts(session, default_quiet_hours=None)
        record = await contacts.record("m1")
        trail = await contacts.consent_trail("m1")
    assert record is not None
    assert record.sms_opted_out_at == NOW
    assert record.insights_consent is True
    assert record.insights_consent_at == NOW + timedelta(hours=1)
    assert [(e.kind, e.given, e.source) for e in trail] == [
        ("prompts", True, "form"),  # as given at registration
        ("insights", False, "form"),
        ("sms", False, "provider:twilio"),
        ("insights", True, "form"),
    ]


async def test_nothing_is_committed_unless_the_caller_commits(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        await Contacts(session, default_quiet_hours=None).add([_contact("m1")])
        await Deliveries(session).add_new([sent_sms_delivery("d1", "m1", "msg-1", rank=0)])
        await session.rollback()
    async with sessions() as session:
        assert await Contacts(session, default_quiet_hours=None).record("m1") is None
        assert await Deliveries(session).get("d1") is None


async def test_erasure_takes_the_members_deliveries_answers_and_trail_only(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session, session.begin():
        contacts = Contacts(session, default_quiet_hours=None)
        for member in ("m1", "m2"):
            await contacts.add([_contact(member)])  # with its two consents on the trail
        await Deliveries(session).add_new(
            [
                sent_sms_delivery("d1", "m1", "msg-1", rank=0),
                sent_sms_delivery("d2", "m2", "msg-2", rank=0),
            ]
        )
        await session.execute(
            answers.insert(),
            [
                {"delivery_id": d, "item_key": "ritual_kept", "value": 1, "on_time": True}
                | {"answered_at": NOW}
                for d in ("d1", "d2")
            ],
        )
    async with sessions() as session, session.begin():
        await Deliveries(session).erase_member("m1")
        await Contacts(session, default_quiet_hours=None).erase("m1")
    async with sessions() as session:
        contacts = Contacts(session, default_quiet_hours=None)
        ledger = Deliveries(session)
        assert await contacts.record("m1") is None
        assert await contacts.consent_trail("m1") == []
        assert await ledger.of_member("m1") == []
        assert await ledger.answers_of_member("m1") == []
        assert await contacts.record("m2") is not None
        assert len(await contacts.consent_trail("m2")) == 2
        assert [d.id for d in await ledger.of_member("m2")] == ["d2"]
        assert [a.delivery_id for a in await ledger.answers_of_member("m2")] == ["d2"]


def _due(ritual_id: str, version: int, slots: list[str], member: int = 1) -> RitualDueV1:
    return RitualDueV1(
        event_id=deterministic_event_id("ritual.due", ritual_id, member, version),
        occurred_at=NOW,
        ritual_id=ritual_id,
        ritual_version=version,
        ritual_kind=RitualKind.check_in,
        community_id="riverside",
        member_id=f"mbr_member{member:012d}",
        template_key="check_in",
        timezone="Europe/London",
        occurrence_at=NOW,
        occurrence_local_date=NOW.date(),
        respond_by=NOW + timedelta(days=1),
        time_slots=slots,
    )


async def test_a_rituals_time_slots_are_those_of_its_newest_version(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    batches = [
        [_due("monday", 1, ["09:00", "18:00"]), _due("plain", 1, [])],
        [_due("monday", 3, ["07:00", "12:00"], member=2), _due("monday", 2, ["08:00"])],
        [_due("monday", 2, ["10:00", "20:00"])],  # a late redelivery of an older version
    ]
    for batch in batches:
        async with sessions() as session, session.begin():
            await learn_time_slots(session, batch, NOW)
    async with sessions() as session:
        known = await time_slots_of(session, ["monday", "plain", "unknown"])
    assert known == {"monday": ("07:00", "12:00")}

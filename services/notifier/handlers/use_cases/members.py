"""Registering, changing, consenting, exporting and erasing members: the notifier owns these facts.

Nothing here publishes contact data. Erasure publishes two events that are never joined: one
with the member id (for the scheduler, at once) and one with the respondent keys (for insights,
in the next daily batch, among the day's other erasures).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.notifier.adapters.contacts import ContactRecord, Contacts
from services.notifier.adapters.deliveries import Deliveries
from services.notifier.adapters.tables import (
    erased_members,
    erasure_scrubs,
    inbound_messages,
    outbox,
    signposts,
)
from services.notifier.domain.pseudonyms import member_hash, new_member_id, new_pseudonym_seed
from services.notifier.handlers.workers.insights_release import every_respondent_key
from services.notifier.handlers.workers.tombstones import queue_tombstones
from shared.contracts import MemberErasedV1, RitualChoice, deterministic_event_id
from shared.db import insert_ignoring_duplicates
from shared.outbox import stage_events

CONSENT_KINDS = ("prompts", "insights", "sms", "email")
# Members stored per transaction by ``register_all``, each table's rows in one statement: an
# import of 1,000 took ~16 s with a transaction and six statements a member, 0.6 s so (PostgreSQL,
# the 2-core machine); a chunk that loses a race is redone one member at a time.
REGISTER_CHUNK = 200


class MemberConflict(ValueError):
    """The phone number belongs to another member."""


@dataclass(frozen=True)
class NewMember:
    email: str | None
    phone: str | None
    locale: str
    preferred_channel: str
    fallback_channel: str | None
    quiet_start: str | None
    quiet_end: str | None
    prompt_consent: bool
    prompt_consent_source: str
    insights_consent: bool
    insights_consent_source: str


def _contacts(session: AsyncSession) -> Contacts:
    # Nothing here reads contacts for sending: the default quiet hours do not apply.
    return Contacts(session, default_quiet_hours=None)


async def phone_taken(session: AsyncSession, phone: str, except_member: str | None = None) -> bool:
    return await _contacts(session).phone_taken(phone, except_member)


async def register(session: AsyncSession, member: NewMember, now: datetime) -> str:
    """Store a member with their consents; returns the new pseudonymous id."""
    (outcome,) = await register_many(session, [member], now)
    if isinstance(outcome, MemberConflict):
        raise outcome
    return outcome


async def register_many(
    session: AsyncSession, members: Sequence[NewMember], now: datetime
) -> list[str | MemberConflict]:
    """Store members with their consents (on the trail as given at registration), in one
    statement per table: each one's new pseudonymous id, or the conflict that keeps it out (a
    phone number another member has, or an earlier one of ``members``)."""
    taken = await _contacts(session).phones_taken([m.phone for m in members if m.phone])
    outcomes: list[str | MemberConflict] = []
    records: list[ContactRecord] = []
    for member in members:
        if member.phone and member.phone in taken:
            outcomes.append(MemberConflict("phone number already registered to another member"))
            continue
        if member.phone:
            taken.add(member.phone)
        records.append(_new_record(member, now))
        outcomes.append(records[-1].member_id)
    await _contacts(session).add(records)
    return outcomes


def _new_record(member: NewMember, now: datetime) -> ContactRecord:
    return ContactRecord(
        member_id=new_member_id(),
        email=member.email,
        phone=member.phone,
        locale=member.locale,
        preferred_channel=member.preferred_channel,
        fallback_channel=member.fallback_channel,
        quiet_start=member.quiet_start,
        quiet_end=member.quiet_end,
        sms_opted_out_at=None,
        email_opted_out_at=None,
        prompt_consent=member.prompt_consent,
        prompt_consent_at=now,
        prompt_consent_source=member.prompt_consent_source,
        insights_consent=member.insights_consent,
        insights_consent_at=now,
        insights_consent_source=member.insights_consent_source,
        pseudonym_seed=new_pseudonym_seed(),
        created_at=now,
        updated_at=now,
    )


async def register_all(
    sessions: async_sessionmaker[AsyncSession], members: Sequence[NewMember], now: datetime
) -> list[str | MemberConflict]:
    """``register_many`` for an import, ``REGISTER_CHUNK`` members to a transaction.

    A chunk the database refuses (another request registered one of its phone numbers between
    the check and the insert) is rolled back and done again one member a transaction, where
    the check sees that number.
    """
    outcomes: list[str | MemberConflict] = []
    for start in range(0, len(members), REGISTER_CHUNK):
        chunk = members[start : start + REGISTER_CHUNK]
        try:
            async with sessions() as session, session.begin():
                stored = await register_many(session, chunk, now)
        except IntegrityError:
            stored = []
            for member in chunk:
                async with sessions() as session, session.begin():
                    stored += await register_many(session, [member], now)
        outcomes += stored
    return outcomes


async def record_consent(
    session: AsyncSession,
    member_id: str,
    kind: str,
    given: bool,
    source: str,
    now: datetime,
    *,
    ritual: tuple[str, RitualChoice] | None = None,
) -> None:
    """Append to the consent trail and update the member's current state: every consent
    change goes through here (the API, SMS keywords, one-click unsubscribe, opt-outs providers
    report).

    Consent to contribute counts as it stands when a week closes: withdrawn before, nothing of
    that week reaches insights.
    """
    await _contacts(session).record_consent(member_id, kind, given, source, now, ritual=ritual)


async def record_provider_sms_opt_out(
    session: AsyncSession, member_id: str, source: str, now: datetime
) -> bool:
    """An opt-out an SMS provider reported (refusing a send, or in a status callback),
    through the consent trail like every other change, and once: a member already opted out
    (by keyword, by an earlier report) gets no second row for the same fact. Returns whether
    it was recorded."""
    current = await _contacts(session).lock(member_id)
    if current is None or current.sms_opted_out_at is not None:
        return False
    await record_consent(session, member_id, "sms", False, source, now)
    return True


async def erased_among(
    session: AsyncSession, member_ids: Collection[str], secret: bytes
) -> set[str]:
    """Which of these member ids belong to erased members."""
    if not member_ids:
        return set()
    hashes = {member_hash(member_id, secret): member_id for member_id in member_ids}
    found = await session.execute(
        select(erased_members.c.member_hash).where(erased_members.c.member_hash.in_(hashes))
    )
    return {hashes[value] for value in found.scalars()}


async def is_erased(session: AsyncSession, member_id: str, secret: bytes) -> bool:
    found = await session.execute(
        select(erased_members.c.member_hash).where(
            erased_members.c.member_hash == member_hash(member_id, secret)
        )
    )
    return found.first() is not None


async def erase(
    session: AsyncSession,
    member_id: str,
    secret: bytes,
    now: datetime,
    scrub_delay: timedelta = timedelta(minutes=10),
) -> bool:
    """Forget the member here and have every other copy forgotten.

    Deletes contact data (and with it the pseudonym seed: no key of theirs can be derived
    again), the consent trail, inbound messages, deliveries, answers and support records (so
    nothing of theirs is in a week released later); remembers the erasure by a keyed hash only,
    so that a late event about them is dropped; stages MemberErased now and queues the
    respondent-key tombstones for the next daily batch, and the scrub of their messages from
    the streams.
    """
    contacts = _contacts(session)
    contact = await contacts.record(member_id)
    if contact is None:
        return False
    keys = every_respondent_key(contact, secret, now)
    await Deliveries(session).erase_member(member_id)
    await session.execute(delete(inbound_messages).where(inbound_messages.c.member_id == member_id))
    await session.execute(delete(signposts).where(signposts.c.member_id == member_id))
    await contacts.erase(member_id)
    await insert_ignoring_duplicates(
        session,
        erased_members,
        [{"member_hash": member_hash(member_id, secret), "erased_at": now}],
    )
    await stage_events(
        session,
        outbox,
        [
            MemberErasedV1(
                event_id=deterministic_event_id("member.erased", member_id),
                occurred_at=now,
                member_id=member_id,
            )
        ],
        now,
    )
    await queue_tombstones(session, keys, now)
    await session.execute(
        erasure_scrubs.insert().values(
            member_id=member_id,
            respondent_keys=json.dumps(keys),
            erased_at=now,
            scrub_after=now + scrub_delay,
        )
    )
    return True

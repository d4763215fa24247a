"""What the notifier tells insights, and when: each ISO week's facts, once, after it closes.

When a week closes (``domain.insights_release``), this job reads the notifier's own records of
the week — the sends, the answers (the latest per person and item), the support messages — and
publishes, for members who consent to contribute *at that moment*, one fact per answer, one per
person prompted and one per person signposted, under the person's respondent key for that week,
with keyed event ids, in the order of those ids, all in one transaction. When the week ends a
4-week period, one summary per person of the period goes with them, under a key for that period
alone. Once every fact is in the stream, a WeekClosed marker tells insights it may release the
week. Then:

* nothing insights gets was published next to the identity event it came from (PromptAnswered
  left when the person answered; the fact leaves days later, with everyone's of that week);
* nothing needs taking back: an erasure or a consent withdrawn before the close simply leaves
  nothing to publish (after it, tombstones do the rest, see ``tombstones``);
* an answer recorded after its week closed is not forwarded: alone, its timing would single it
  out. (The week is marked released in the same transaction, so it is published once.)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.notifier.adapters.contacts import ContactRecord, Contacts
from services.notifier.adapters.deliveries import Deliveries, WeekAnswer
from services.notifier.adapters.tables import insights_weeks, outbox, signposts
from services.notifier.domain.insights_release import week_closes_at
from services.notifier.domain.pseudonyms import legacy_respondent_key, respondent_key
from services.notifier.domain.questionnaire import ANCHOR
from shared.clock import Clock
from shared.contracts import (
    Event,
    PeriodSummaryV1,
    PromptedV1,
    ResponseReceivedV2,
    SignpostingSentV2,
    WeekClosedV1,
    keyed_event_id,
)
from shared.db import insert_ignoring_duplicates
from shared.outbox import OutboxRelay, stage_events
from shared.weeks import (
    is_last_week_of_its_period,
    monday_of,
    period_of,
    weeks_between,
    weeks_of,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class InsightsPolicy:
    secret: bytes
    """The notifier's own key for the ids of everything that reaches insights."""
    week_close_after: timedelta
    lookback: timedelta = timedelta(days=90)
    """How far back a week may still be unreleased (the delivery ledger's retention)."""


def _days(weeks: list[str]) -> tuple[date, date]:
    return monday_of(weeks[0]), monday_of(weeks[-1]) + timedelta(days=6)


@dataclass(frozen=True)
class _Records:
    """What the notifier holds of some weeks: prompts sent, answers (oldest first), support."""

    prompted: set[tuple[str, str]]  # (member, community)
    answers: list[WeekAnswer]  # oldest first
    signposted: set[tuple[str, str]]
    consenting: dict[str, str]  # member id -> pseudonym seed


async def _records(session: AsyncSession, weeks: list[str]) -> _Records:
    first, last = _days(weeks)
    ledger = Deliveries(session)
    prompted = await ledger.prompted_between(first, last)
    # Oldest first, so that the latest answer to an item is the one kept.
    given = await ledger.answers_between(first, last)
    signposted = {
        (row.member_id, row.community_id)
        for row in await session.execute(
            select(signposts.c.member_id, signposts.c.community_id).where(
                signposts.c.iso_week.in_(weeks)
            )
        )
    }
    people = (
        {m for m, _ in prompted} | {row.member_id for row in given} | {m for m, _ in signposted}
    )
    consenting = await Contacts(session, default_quiet_hours=None).consenting_seeds(people)
    return _Records(prompted, given, signposted, consenting)


def _key(records: _Records, member_id: str, scope: str) -> str:
    return respondent_key(records.consenting[member_id], scope)


async def week_facts(
    session: AsyncSession, policy: InsightsPolicy, iso_week: str, now: datetime
) -> list[Event]:
    """The facts of one week, for consenting members, as they stand now: each person's latest
    answer to each item, whether they were prompted, whether they were sent support."""
    records = await _records(session, [iso_week])
    latest: dict[tuple[str, str, str], int] = {}
    for row in records.answers:
        if row.member_id in records.consenting:
            latest[(row.member_id, row.community_id, row.item_key)] = row.value
    facts: list[Event] = []
    for (member_id, community_id, item), value in latest.items():
        key = _key(records, member_id, iso_week)
        facts.append(
            ResponseReceivedV2(
                event_id=keyed_event_id(
                    policy.secret, "response.received", key, community_id, item
                ),
                occurred_at=now,  # the release, not the answer: no event says when anyone answered
                respondent_key=key,
                community_id=community_id,
                iso_week=iso_week,
                item=item,
                value=value,
            )
        )
    for kind, pairs in (("signposting.sent", records.signposted), ("prompted", records.prompted)):
        for member_id, community_id in pairs:
            if member_id not in records.consenting:
                continue
            key = _key(records, member_id, iso_week)
            event_id = keyed_event_id(policy.secret, kind, key, community_id)
            fields = {"respondent_key": key, "community_id": community_id, "iso_week": iso_week}
            facts.append(
                SignpostingSentV2(event_id=event_id, occurred_at=now, **fields)
                if kind == "signposting.sent"
                else PromptedV1(event_id=event_id, occurred_at=now, **fields)
            )
    # The order of keyed ids: nobody can relate it to the order in which people answered.
    return sorted(facts, key=lambda event: event.event_id)


async def period_facts(
    session: AsyncSession, policy: InsightsPolicy, period: str, now: datetime
) -> list[Event]:
    """One summary per consenting member and community of the period, under a key for that
    period alone: their latest anchor answer, whether they answered, whether they were sent
    support. No week in it: the weeks someone answered in stay unknowable."""
    records = await _records(session, weeks_of(period))
    anchor: dict[tuple[str, str], int] = {}
    answered: set[tuple[str, str]] = set()
    for row in records.answers:
        answered.add((row.member_id, row.community_id))
        if row.item_key == ANCHOR.key:
            anchor[(row.member_id, row.community_id)] = row.value
    facts: list[Event] = []
    for member_id, community_id in records.prompted | answered | records.signposted:
        if member_id not in records.consenting:
            continue
        key = _key(records, member_id, period)
        facts.append(
            PeriodSummaryV1(
                event_id=keyed_event_id(policy.secret, "period.summary", key, community_id),
                occurred_at=now,
                respondent_key=key,
                community_id=community_id,
                period=period,
                anchor_value=anchor.get((member_id, community_id)),
                answered=(member_id, community_id) in answered,
                signposted=(member_id, community_id) in records.signposted,
            )
        )
    return sorted(facts, key=lambda event: event.event_id)


async def _had_prompts(session: AsyncSession, weeks: list[str]) -> bool:
    first, last = _days(weeks)
    return await Deliveries(session).any_between(first, last)


async def release_closed_weeks(
    sessions: async_sessionmaker[AsyncSession],
    policy: InsightsPolicy,
    clock: Clock,
    relay: OutboxRelay,
) -> list[str]:
    """Publish every closed week not yet released, oldest first, then announce them (see
    ``announce_released_weeks``); returns the weeks released by this run."""
    now = clock.now()
    candidates = [
        week
        for week in weeks_between((now - policy.lookback).date(), now.date())
        if week_closes_at(week, policy.week_close_after) <= now
    ]
    released: list[str] = []
    for week in candidates:
        async with sessions() as session, session.begin():
            done = (
                await session.execute(
                    select(insights_weeks.c.iso_week).where(insights_weeks.c.iso_week == week)
                )
            ).first()
            if done is not None:
                continue
            ends_period = is_last_week_of_its_period(week)
            with_week = await _had_prompts(session, [week])
            with_period = ends_period and await _had_prompts(session, weeks_of(period_of(week)))
            if not (with_week or with_period):
                continue  # nobody was prompted: nothing to say (and nothing to announce)
            facts = await week_facts(session, policy, week, now) if with_week else []
            if with_period:
                facts += await period_facts(session, policy, period_of(week), now)
            marked = await insert_ignoring_duplicates(
                session,
                insights_weeks,
                [{"iso_week": week, "released_at": now, "facts": len(facts), "announced": False}],
            )
            if not marked:  # another replica released it meanwhile
                continue
            await stage_events(session, outbox, facts, now)
        released.append(week)
        log.info("insights release: week=%s facts=%s", week, len(facts))
    await announce_released_weeks(sessions, policy, clock, relay)
    return released


async def announce_released_weeks(
    sessions: async_sessionmaker[AsyncSession],
    policy: InsightsPolicy,
    clock: Clock,
    relay: OutboxRelay,
) -> int:
    """Publish WeekClosed for released weeks once their facts are in the stream: the outbox is
    drained (every fact acknowledged by JetStream) before the marker is even staged, so insights
    never sees a week closed with some of its facts still on the way."""
    async with sessions() as session:
        pending = (
            (
                await session.execute(
                    select(insights_weeks.c.iso_week)
                    .where(insights_weeks.c.announced.is_(False))
                    .order_by(insights_weeks.c.iso_week)
                )
            )
            .scalars()
            .all()
        )
    if not pending:
        return 0
    await relay.drain()
    now = clock.now()
    async with sessions() as session, session.begin():
        markers: list[Event] = [
            WeekClosedV1(
                event_id=keyed_event_id(policy.secret, "week.closed", week),
                occurred_at=now,
                iso_week=week,
                period_closed=period_of(week) if is_last_week_of_its_period(week) else None,
            )
            for week in pending
        ]
        await stage_events(session, outbox, markers, now)
        await session.execute(
            update(insights_weeks)
            .where(insights_weeks.c.iso_week.in_(pending))
            .values(announced=True)
        )
    relay.kick()
    return len(markers)


def every_respondent_key(contact: ContactRecord, secret: bytes, now: datetime) -> list[str]:
    """Every key insights may hold facts under for this member: one per week since a week
    before they registered (an occurrence's local date can precede it) until tomorrow, and the
    key of releases before per-week keys."""
    weeks = weeks_between(
        (contact.created_at - timedelta(weeks=1)).date(), (now + timedelta(days=1)).date()
    )
    keys = [respondent_key(contact.pseudonym_seed, week) for week in weeks]
    return [*keys, legacy_respondent_key(contact.member_id, secret)]

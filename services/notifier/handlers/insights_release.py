"""What the notifier tells insights, and when: each ISO week's facts, once, after it closes.

When a week closes (``domain.insights_release``), this job reads the notifier's own records of
the week — the sends, the answers (the latest per person and item), the support messages — and
publishes, for members who consent to contribute *at that moment*, one fact per answer and one
per person signposted, under the person's respondent key for that week, with keyed event ids, in
the order of those ids, all in one transaction. Then:

* nothing insights gets was published next to the identity event it came from (PromptAnswered
  left when the person answered; the fact leaves days later, with everyone's of that week);
* nothing needs taking back: an erasure or a consent withdrawn before the close simply leaves
  nothing to publish (after it, tombstones do the rest, see ``tombstones``);
* an answer recorded after its week closed is not forwarded: alone, its timing would single it
  out. (The week is marked released in the same transaction, so it is published once.)
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.notifier.adapters.tables import (
    answers,
    contacts,
    deliveries,
    insights_weeks,
    outbox,
    signposts,
)
from services.notifier.domain.insights_release import week_closes_at
from services.notifier.domain.pseudonyms import (
    legacy_respondent_key,
    monday_of,
    respondent_key,
    weeks_between,
)
from shared.clock import Clock
from shared.contracts import Event, ResponseReceivedV2, SignpostingSentV2, keyed_event_id
from shared.db import insert_ignoring_duplicates
from shared.outbox import OutboxRelay, stage_events

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class InsightsPolicy:
    secret: bytes
    """The notifier's own key for the ids of everything that reaches insights."""
    week_close_after: timedelta
    lookback: timedelta = timedelta(days=90)
    """How far back a week may still be unreleased (the delivery ledger's retention)."""


def _week_bounds(iso_week: str) -> tuple[date, date]:
    monday = monday_of(iso_week)
    return monday, monday + timedelta(days=6)


async def _consenting(session: AsyncSession, member_ids: Iterable[str]) -> dict[str, Any]:
    ids = sorted(set(member_ids))
    if not ids:
        return {}
    rows = (
        await session.execute(
            select(contacts.c.member_id, contacts.c.pseudonym_seed).where(
                contacts.c.member_id.in_(ids) & contacts.c.insights_consent.is_(True)
            )
        )
    ).all()
    return {row.member_id: row for row in rows}


async def week_facts(
    session: AsyncSession, policy: InsightsPolicy, iso_week: str, now: datetime
) -> list[Event]:
    """The facts of one week, for consenting members, as they stand now."""
    first, last = _week_bounds(iso_week)
    given = (
        await session.execute(
            select(
                deliveries.c.member_id,
                deliveries.c.community_id,
                answers.c.item_key,
                answers.c.value,
                answers.c.answered_at,
            )
            .join(deliveries, deliveries.c.id == answers.c.delivery_id)
            .where(deliveries.c.occurrence_local_date.between(first, last))
            .order_by(answers.c.answered_at, answers.c.item_key)
        )
    ).all()
    signposted = (
        await session.execute(
            select(signposts.c.member_id, signposts.c.community_id).where(
                signposts.c.iso_week == iso_week
            )
        )
    ).all()
    members = await _consenting(
        session, [row.member_id for row in given] + [row.member_id for row in signposted]
    )
    latest: dict[tuple[str, str, str], int] = {}
    for row in given:  # oldest first: the latest answer to an item wins
        if row.member_id in members:
            latest[(row.member_id, row.community_id, row.item_key)] = row.value
    facts: list[Event] = []
    for (member_id, community_id, item), value in latest.items():
        key = respondent_key(members[member_id].pseudonym_seed, iso_week)
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
    for member_id, community_id in sorted({(r.member_id, r.community_id) for r in signposted}):
        if member_id not in members:
            continue
        key = respondent_key(members[member_id].pseudonym_seed, iso_week)
        facts.append(
            SignpostingSentV2(
                event_id=keyed_event_id(policy.secret, "signposting.sent", key, community_id),
                occurred_at=now,
                respondent_key=key,
                community_id=community_id,
                iso_week=iso_week,
            )
        )
    # The order of keyed ids: nobody can relate it to the order in which people answered.
    return sorted(facts, key=lambda event: event.event_id)


async def release_closed_weeks(
    sessions: async_sessionmaker[AsyncSession],
    policy: InsightsPolicy,
    clock: Clock,
    relay: OutboxRelay,
) -> list[str]:
    """Publish every closed week not yet released, oldest first; returns the weeks released."""
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
                    select(insights_weeks.c.iso_week)
                    .where(insights_weeks.c.iso_week == week)
                    .with_for_update()
                )
            ).first()
            if done is not None:
                continue
            facts = await week_facts(session, policy, week, now)
            marked = await insert_ignoring_duplicates(
                session,
                insights_weeks,
                [{"iso_week": week, "released_at": now, "facts": len(facts)}],
            )
            if not marked:  # another replica released it meanwhile
                continue
            await stage_events(session, outbox, facts, now)
        released.append(week)
        log.info("insights release: week=%s facts=%s", week, len(facts))
    if released:
        relay.kick()
    return released


def every_respondent_key(contact: Row[Any], secret: bytes, now: datetime) -> list[str]:
    """Every key insights may hold facts under for this member: one per week since a week
    before they registered (an occurrence's local date can precede it) until tomorrow, and the
    key of releases before per-week keys."""
    weeks = weeks_between(
        (contact.created_at - timedelta(weeks=1)).date(), (now + timedelta(days=1)).date()
    )
    keys = [respondent_key(contact.pseudonym_seed, week) for week in weeks]
    return [*keys, legacy_respondent_key(contact.member_id, secret)]

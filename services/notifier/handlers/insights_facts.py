"""What the notifier tells insights, and how it keeps it unlinkable.

Only members who consented to contribute appear. Their answers and signposting become facts
under a respondent key for the week (``domain.pseudonyms``) with keyed event ids, held in the
outbox until the week closes (``domain.insights_release``) and then released with the rest of
the week, in the order of their keyed ids. Nothing staged here is ever published next to the
identity event (PromptAnswered) it came from.

Held facts can still change: the latest answer of the week to an item replaces an earlier one
(same keyed id), and an erasure or a consent withdrawn retracts them unpublished.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from services.notifier.adapters.tables import outbox
from services.notifier.domain.insights_release import week_closes_at
from services.notifier.domain.pseudonyms import (
    legacy_respondent_key,
    respondent_key,
    weeks_between,
)
from shared.contracts import Event, ResponseReceivedV2, SignpostingSentV2, keyed_event_id
from shared.outbox import retract_held_events, stage_held_events


@dataclass(frozen=True)
class InsightsPolicy:
    secret: bytes
    """The notifier's own key for the ids of everything that reaches insights."""
    week_close_after: timedelta


@dataclass(frozen=True)
class FactOutcome:
    staged: int
    reason: str  # "staged", "no_consent", "week_closed"


def _open_week(policy: InsightsPolicy, contact: Row[Any], iso_week: str, now: datetime) -> str:
    if not contact.insights_consent:
        return "no_consent"
    if now >= week_closes_at(iso_week, policy.week_close_after):
        return "week_closed"
    return "open"


async def stage_answer_facts(
    session: AsyncSession,
    policy: InsightsPolicy,
    contact: Row[Any],
    community_id: str,
    iso_week: str,
    values: Mapping[str, int],
    now: datetime,
) -> FactOutcome:
    """Hold one ResponseReceived per answered item until the week closes (latest wins)."""
    state = _open_week(policy, contact, iso_week, now)
    if state != "open":
        return FactOutcome(0, state)
    release_at = week_closes_at(iso_week, policy.week_close_after)
    key = respondent_key(contact.pseudonym_seed, iso_week)
    events: list[tuple[Event, str | None]] = [
        (
            ResponseReceivedV2(
                event_id=keyed_event_id(
                    policy.secret, "response.received", key, community_id, item
                ),
                # The release, not the answer: no event says when anyone answered.
                occurred_at=release_at,
                respondent_key=key,
                community_id=community_id,
                iso_week=iso_week,
                item=item,
                value=value,
            ),
            key,
        )
        for item, value in values.items()
    ]
    await stage_held_events(session, outbox, events, now, release_at)
    return FactOutcome(len(events), "staged")


async def stage_signposting_fact(
    session: AsyncSession,
    policy: InsightsPolicy,
    contact: Row[Any],
    community_id: str,
    iso_week: str,
    now: datetime,
) -> FactOutcome:
    """Hold one SignpostingSent for the person's week (once per person, community and week)."""
    state = _open_week(policy, contact, iso_week, now)
    if state != "open":
        return FactOutcome(0, state)
    release_at = week_closes_at(iso_week, policy.week_close_after)
    key = respondent_key(contact.pseudonym_seed, iso_week)
    event = SignpostingSentV2(
        event_id=keyed_event_id(policy.secret, "signposting.sent", key, community_id),
        occurred_at=release_at,
        respondent_key=key,
        community_id=community_id,
        iso_week=iso_week,
    )
    await stage_held_events(session, outbox, [(event, key)], now, release_at)
    return FactOutcome(1, "staged")


def every_respondent_key(contact: Row[Any], secret: bytes, now: datetime) -> list[str]:
    """Every key insights may hold facts under for this member: one per week since a week
    before they registered (an occurrence's local date can precede it) until tomorrow, and the
    key of releases before per-week keys."""
    weeks = weeks_between(
        (contact.created_at - timedelta(weeks=1)).date(), (now + timedelta(days=1)).date()
    )
    keys = [respondent_key(contact.pseudonym_seed, week) for week in weeks]
    return [*keys, legacy_respondent_key(contact.member_id, secret)]


async def retract_unreleased_facts(
    session: AsyncSession, contact: Row[Any], secret: bytes, now: datetime
) -> int:
    """Drop the member's facts that have not left yet (consent withdrawn, or erasure)."""
    return await retract_held_events(
        session, outbox, every_respondent_key(contact, secret, now), now
    )

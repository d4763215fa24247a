"""Hand-made facts, stored through insights' own handlers (as the consumers do)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.insights.handlers.facts import store_fact
from shared.contracts import (
    PeriodSummaryV1,
    PromptedV1,
    ResponseReceivedV2,
    SignpostingSentV2,
    keyed_event_id,
)

NOW = datetime(2027, 2, 10, tzinfo=UTC)
KEY = b"k" * 32
Sessions = async_sessionmaker[AsyncSession]


def rk(person: str, scope: str) -> str:
    """A stand-in respondent key: one per person and week (or period), as the notifier makes."""
    return "rk_" + keyed_event_id(KEY, person, scope).replace("-", "")


async def answer(
    sessions: Sessions, person: str, week: str, item: str, value: int, community: str = "c1"
) -> None:
    key = rk(person, week)
    await store_fact(
        sessions,
        ResponseReceivedV2(
            event_id=keyed_event_id(KEY, "r", key, community, item),
            occurred_at=NOW,
            respondent_key=key,
            community_id=community,
            iso_week=week,
            item=item,
            value=value,
        ),
    )


async def prompted(sessions: Sessions, person: str, week: str, community: str = "c1") -> None:
    key = rk(person, week)
    await store_fact(
        sessions,
        PromptedV1(
            event_id=keyed_event_id(KEY, "p", key, community),
            occurred_at=NOW,
            respondent_key=key,
            community_id=community,
            iso_week=week,
        ),
    )


async def signposted(sessions: Sessions, person: str, week: str, community: str = "c1") -> None:
    key = rk(person, week)
    await store_fact(
        sessions,
        SignpostingSentV2(
            event_id=keyed_event_id(KEY, "s", key, community),
            occurred_at=NOW,
            respondent_key=key,
            community_id=community,
            iso_week=week,
        ),
    )


async def summary(
    sessions: Sessions,
    person: str,
    period: str,
    anchor: int | None,
    answered: bool,
    support: bool = False,
    community: str = "c1",
) -> None:
    key = rk(person, period)
    await store_fact(
        sessions,
        PeriodSummaryV1(
            event_id=keyed_event_id(KEY, "ps", key, community),
            occurred_at=NOW,
            respondent_key=key,
            community_id=community,
            period=period,
            anchor_value=anchor,
            answered=answered,
            signposted=support,
        ),
    )

"""Anonymised facts in: answers, signposting, prompted, period summaries. Stored in batches (one
transaction for a whole pull, one statement a kind of fact), idempotent on each fact's own key,
and never under the key of an erased respondent (tombstones, see ``erasures``; a fact and its
tombstone stored in the same instant by two consumers are settled by the periodic purge)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.insights.adapters.tables import (
    erased_respondents,
    period_facts,
    prompted_facts,
    response_facts,
    signposting_facts,
)
from shared.contracts import PeriodSummaryV1, PromptedV1, ResponseReceivedV2, SignpostingSentV2
from shared.db import insert_many_ignoring_duplicates

Fact = ResponseReceivedV2 | SignpostingSentV2 | PromptedV1 | PeriodSummaryV1


def _row(fact: Fact) -> dict[str, Any]:
    row: dict[str, Any] = {"respondent_key": fact.respondent_key, "community_id": fact.community_id}
    if isinstance(fact, ResponseReceivedV2):
        row |= {"iso_week": fact.iso_week, "item": fact.item, "value": fact.value}
    elif isinstance(fact, PeriodSummaryV1):
        row |= {
            "period": fact.period,
            "anchor_value": fact.anchor_value,
            "answered": fact.answered,
            "signposted": fact.signposted,
        }
    else:
        row["iso_week"] = fact.iso_week
    return row


def _table(fact: Fact) -> Table:
    if isinstance(fact, ResponseReceivedV2):
        return response_facts
    if isinstance(fact, SignpostingSentV2):
        return signposting_facts
    if isinstance(fact, PromptedV1):
        return prompted_facts
    return period_facts


async def store_facts(sessions: async_sessionmaker[AsyncSession], facts: Sequence[Fact]) -> int:
    """Store a batch of facts (of any kinds) in one transaction, one statement a kind; returns
    how many were new (neither stored before nor under an erased respondent's key)."""
    by_table: dict[str, tuple[Table, list[dict[str, Any]]]] = {}
    for fact in facts:
        table = _table(fact)
        by_table.setdefault(table.name, (table, []))[1].append(_row(fact))
    stored = 0
    async with sessions() as session, session.begin():
        for table, rows in by_table.values():
            stored += await insert_many_ignoring_duplicates(
                session, table, rows, unless_listed_in=erased_respondents.c.respondent_key
            )
    return stored


async def store_fact(sessions: async_sessionmaker[AsyncSession], fact: Fact) -> str:
    return "stored" if await store_facts(sessions, [fact]) else "already stored, or erased"

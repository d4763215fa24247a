"""Rebuild insights' facts by replay: what the streams still hold, into a fresh database.

Order matters: every erasure first (the ERASURES stream never expires), so that no fact of an
erased respondent is stored even for a moment; then the communities (kept for good too); then
the facts RESPONSES still holds (90 days). Each goes through the same handler the live
consumer uses, so the rebuilt facts are the ones a live insights would hold. Stored releases,
the budget ledger and the closed weeks are copied from the current database: releases are
already public, and the ledger must keep what they spent.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import nats
from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.insights.adapters.tables import budget_ledger, closed_weeks, release_values, releases
from services.insights.handlers.areas import record_closed_week, record_community
from services.insights.handlers.erasures import forget_respondents, purge_tombstoned_facts
from services.insights.handlers.facts import store_fact
from shared.contracts import (
    CommunityChangedV1,
    PeriodSummaryV1,
    PromptedV1,
    RespondentsErasedV2,
    ResponseReceivedV2,
    SignpostingSentV2,
    WeekClosedV1,
)
from shared.db import create_engine, insert_ignoring_duplicates, session_factory
from shared.messaging.stream_scan import scan_stream
from shared.migrations import upgrade_to_head
from shared.streams import COMMUNITIES, ERASURES, RESPONSES, StreamSpec

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).parent / "migrations"
KEPT_TABLES = (releases, release_values, budget_ledger, closed_weeks)

Handler = Callable[[Any], Awaitable[str]]


@dataclass
class RebuildReport:
    replayed: dict[str, int] = field(default_factory=dict)
    unreadable: int = 0
    copied: dict[str, int] = field(default_factory=dict)
    purged: int = 0


def _replays(
    sessions: async_sessionmaker[AsyncSession],
) -> list[tuple[StreamSpec, type[BaseModel], Handler]]:
    return [
        (ERASURES, RespondentsErasedV2, partial(forget_respondents, sessions)),
        (COMMUNITIES, CommunityChangedV1, partial(record_community, sessions)),
        (RESPONSES, ResponseReceivedV2, partial(store_fact, sessions)),
        (RESPONSES, SignpostingSentV2, partial(store_fact, sessions)),
        (RESPONSES, PromptedV1, partial(store_fact, sessions)),
        (RESPONSES, PeriodSummaryV1, partial(store_fact, sessions)),
        (RESPONSES, WeekClosedV1, partial(record_closed_week, sessions)),
    ]


async def _copy_kept(
    source: async_sessionmaker[AsyncSession],
    target: async_sessionmaker[AsyncSession],
    report: RebuildReport,
) -> None:
    for table in KEPT_TABLES:
        async with source() as session:
            rows = [dict(row._mapping) for row in await session.execute(select(table))]
        async with target() as session, session.begin():
            # (WeekClosed markers the stream still held are there already.)
            await insert_ignoring_duplicates(session, table, rows)
        report.copied[table.name] = len(rows)


async def rebuild(
    nats_url: str,
    source_url: str,
    source_schema: str | None,
    target_url: str,
    target_schema: str | None,
) -> RebuildReport:
    """Replay into the (fresh, empty) database at ``target_url``; returns what it did."""
    report = RebuildReport()
    source_engine = create_engine(source_url, source_schema)
    target_engine = create_engine(target_url, target_schema)
    client = await nats.connect(nats_url.split(","))
    try:
        await upgrade_to_head(target_engine, MIGRATIONS, target_schema)
        target = session_factory(target_engine)
        js = client.jetstream()
        for stream, model, handle in _replays(target):
            subject = str(model.subject)  # type: ignore[attr-defined]
            count = 0
            async for message in scan_stream(js, stream, subject):
                try:
                    event = model.model_validate_json(message.data)
                except ValidationError:
                    report.unreadable += 1  # the live consumer dead-lettered it
                    continue
                await handle(event)
                count += 1
            report.replayed[subject] = count
        await _copy_kept(session_factory(source_engine), target, report)
        report.purged = await purge_tombstoned_facts(target)
    finally:
        await client.close()
        await source_engine.dispose()
        await target_engine.dispose()
    log.info("rebuild: %s", report)
    return report

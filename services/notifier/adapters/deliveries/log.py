"""The delivery log, read side: what was sent, to whom (by pseudonymous id), how it went
(``Deliveries.log_page``, for ``GET /v1/deliveries``).

Only reads ``deliveries``. The columns it selects are listed here on purpose: the stored source
event, the template and anything else a row may come to hold stay out of every page; the table
holds no address or phone, and this module never joins ``contacts``.

Pages are newest first on ``(created_at, id)``: ``id`` breaks ties between rows created in the
same instant (a whole community's prompts are queued together), so the order is total and a
page can start strictly after the last row of the previous one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select

from services.notifier.adapters.deliveries.base import DeliveriesBase
from services.notifier.adapters.tables import deliveries
from services.notifier.domain.delivery import DeliveryStatus

LOGGED_COLUMNS = (
    deliveries.c.id,
    deliveries.c.member_id,
    deliveries.c.community_id,
    deliveries.c.ritual_id,
    deliveries.c.ritual_kind,
    deliveries.c.channel,
    deliveries.c.status,
    deliveries.c.attempts,
    deliveries.c.failure_reason,
    deliveries.c.provider_status,
    deliveries.c.provider_state,
    deliveries.c.created_at,
    deliveries.c.not_before,
    deliveries.c.sent_at,
    deliveries.c.delivered_at,
    deliveries.c.nudge_number,
)


@dataclass(frozen=True)
class DeliveryFilter:
    member_id: str | None = None
    ritual_id: str | None = None
    status: DeliveryStatus | None = None
    channel: str | None = None
    since: datetime | None = None  # created_at >= since
    until: datetime | None = None  # created_at < until


@dataclass(frozen=True)
class Position:
    """The sort key of the last row of a page: the next page starts strictly after it."""

    created_at: datetime
    delivery_id: str


@dataclass(frozen=True)
class DeliveryPage:
    rows: list[dict[str, Any]]
    next_position: Position | None  # None: this was the last page


def _conditions(log_filter: DeliveryFilter, after: Position | None) -> list[Any]:
    table = deliveries.c
    conditions: list[Any] = []
    if log_filter.member_id is not None:
        conditions.append(table.member_id == log_filter.member_id)
    if log_filter.ritual_id is not None:
        conditions.append(table.ritual_id == log_filter.ritual_id)
    if log_filter.status is not None:
        conditions.append(table.status == log_filter.status.value)
    if log_filter.channel is not None:
        conditions.append(table.channel == log_filter.channel)
    if log_filter.since is not None:
        conditions.append(table.created_at >= log_filter.since)
    if log_filter.until is not None:
        conditions.append(table.created_at < log_filter.until)
    if after is not None:
        # "(created_at, id) < (after)" spelled out: row-value comparison binds its parameters
        # without the column's type (UTC normalisation on SQLite), and the leading "<=" lets
        # the (created_at, id) index bound the scan.
        conditions.append(table.created_at <= after.created_at)
        conditions.append(
            or_(
                table.created_at < after.created_at,
                and_(table.created_at == after.created_at, table.id < after.delivery_id),
            )
        )
    return conditions


class DeliveryLog(DeliveriesBase):
    async def log_page(
        self, log_filter: DeliveryFilter, limit: int, after: Position | None
    ) -> DeliveryPage:
        """Up to ``limit`` deliveries matching ``log_filter``, newest first, after ``after``;
        each row holds the ``LOGGED_COLUMNS`` only."""
        query = (
            select(*LOGGED_COLUMNS)
            .where(*_conditions(log_filter, after))
            .order_by(deliveries.c.created_at.desc(), deliveries.c.id.desc())
            .limit(limit + 1)  # one more than asked: whether a next page exists, without a count
        )
        rows = [dict(row) for row in (await self._session.execute(query)).mappings().all()]
        return _page(rows, limit)


def _page(rows: list[dict[str, Any]], limit: int) -> DeliveryPage:
    if len(rows) <= limit:
        return DeliveryPage(rows, None)
    last = rows[limit - 1]
    return DeliveryPage(rows[:limit], Position(last["created_at"], last["id"]))

"""What SMS providers report about deliveries after accepting them (``provider_state``), for
``handlers/use_cases/provider_status``.

A state only ever moves forward: every UPDATE here carries ``provider_state_rank < new rank``
in its WHERE, so a row read before another transaction moved it on is never set back (without
the guard a late 'sent' overwrote a 'delivered' about once in 500). Rows are read locked and in
message-id order, so two replicas' groups cannot deadlock.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from sqlalchemy import bindparam, select, update

from services.notifier.adapters.deliveries.base import DeliveriesBase, chunks
from services.notifier.adapters.tables import deliveries, provider_status_backlog
from services.notifier.domain.delivery import Delivery


class ProviderStates(DeliveriesBase):
    async def lock_by_message_ids(self, message_ids: Collection[str]) -> dict[str, Delivery]:
        """provider message id -> its delivery, for those recorded; locked (FOR UPDATE) in
        message-id order."""
        found: dict[str, Delivery] = {}
        for chunk in chunks(sorted(set(message_ids))):
            rows = await self._session.execute(
                select(deliveries)
                .where(deliveries.c.provider_message_id.in_(chunk))
                .order_by(deliveries.c.provider_message_id)
                .with_for_update()
            )
            found.update({row.provider_message_id: Delivery.from_row(row) for row in rows})
        return found

    async def advance_provider_states(self, progress: Mapping[str, Mapping[str, Any]]) -> None:
        """delivery id -> the columns to write, each including ``provider_state_rank``: one
        statement per shape of change, each row written only if its rank is still lower."""
        shapes: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for delivery_id, values in progress.items():
            shapes.setdefault(tuple(sorted(values)), []).append(
                {"row_id": delivery_id, **{f"new_{name}": value for name, value in values.items()}}
            )
        for names, params in shapes.items():
            await self._session.execute(
                update(deliveries)
                .where(
                    (deliveries.c.id == bindparam("row_id"))
                    & (deliveries.c.provider_state_rank < bindparam("new_provider_state_rank"))
                )
                .values({name: bindparam(f"new_{name}") for name in names}),
                params,
            )

    async def advance_provider_state(
        self, delivery_id: str, rank: int, values: Mapping[str, object]
    ) -> None:
        """Write ``values`` (with ``provider_state_rank=rank``) unless the row's rank is
        already ``rank`` or higher."""
        await self._session.execute(
            update(deliveries)
            .where((deliveries.c.id == delivery_id) & (deliveries.c.provider_state_rank < rank))
            .values(**values, provider_state_rank=rank)
        )

    async def kept_statuses_now_recorded(
        self, message_ids: Collection[str] | None = None, limit: int | None = None
    ) -> list[str]:
        """Message ids with a status kept in ``provider_status_backlog`` whose delivery has
        been recorded since (among ``message_ids`` if given; at most ``limit``). Here, not
        with the backlog's other statements, because it reads ``deliveries``."""
        query = (
            select(provider_status_backlog.c.provider_message_id)
            .join(
                deliveries,
                deliveries.c.provider_message_id == provider_status_backlog.c.provider_message_id,
            )
            .distinct()
        )
        if message_ids is not None:
            query = query.where(provider_status_backlog.c.provider_message_id.in_(message_ids))
        if limit is not None:
            query = query.limit(limit)
        return list((await self._session.execute(query)).scalars().all())

"""The send queue's part of the delivery ledger: claims, leases, outcomes, new rows and what the
dispatcher reads for a batch, inside the caller's transaction.

A claim leases its rows until ``lease_until`` and marks them with a fresh ``lease_token`` (a
fencing token): every later write by that claimant (renewal, outcome) applies only where the
row still carries its token. A dispatcher that stalled past its lease therefore cannot
overwrite the outcome of the replica that claimed the row after it. Renewing moves the expiry,
never the token, so an outcome committed while a renewal runs still finds its row.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, or_, select, update

from services.notifier.adapters.deliveries.base import DeliveriesBase, chunks
from services.notifier.adapters.tables import answers, deliveries
from services.notifier.domain.delivery import Delivery, DeliveryStatus
from services.notifier.domain.prompt_job import delivery_id_for
from shared.contracts import Channel
from shared.db import insert_ignoring_duplicates


class SendQueue(DeliveriesBase):
    # -- the send queue -------------------------------------------------------------------

    async def claim_due(
        self, now: datetime, lease_until: datetime, token: str, limit: int
    ) -> list[Delivery]:
        """Up to ``limit`` rows due now (queued, or sending under a lease that has ended),
        leased until ``lease_until`` with this attempt counted; as claimed. Replicas skip each
        other's locked rows (PostgreSQL; SQLite has one writer at a time)."""
        rows = (
            await self._session.execute(
                select(deliveries)
                .where(
                    or_(
                        (deliveries.c.status == DeliveryStatus.queued)
                        & or_(deliveries.c.not_before.is_(None), deliveries.c.not_before <= now),
                        (deliveries.c.status == DeliveryStatus.sending)
                        & (deliveries.c.lease_until < now),
                    )
                )
                .order_by(deliveries.c.not_before)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        ).all()
        if not rows:
            return []
        await self._session.execute(
            update(deliveries)
            .where(deliveries.c.id.in_([row.id for row in rows]))
            .values(
                status=DeliveryStatus.sending.value,
                lease_until=lease_until,
                lease_token=token,
                attempts=deliveries.c.attempts + 1,
            )
        )
        return [Delivery.from_row(row).claimed(lease_until, token) for row in rows]

    async def renew_leases(self, ids: Collection[str], token: str, renewed: datetime) -> set[str]:
        """Extend to ``renewed`` the leases on ``ids`` that still carry ``token``; returns the
        ids renewed (the others have been claimed by someone else since, or have their
        outcome)."""
        done: set[str] = set()
        for chunk in chunks(sorted(ids)):
            result = await self._session.execute(
                update(deliveries)
                .where(
                    deliveries.c.id.in_(chunk)
                    & (deliveries.c.status == DeliveryStatus.sending)
                    & (deliveries.c.lease_token == token)
                )
                .values(lease_until=renewed)
                .returning(deliveries.c.id)
            )
            done.update(result.scalars())
        return done

    async def apply_outcomes(
        self, tokens: Mapping[str, str], changes: Mapping[str, Mapping[str, Any]]
    ) -> set[str]:
        """Write each row's ``changes`` (releasing its lease) where it still carries the
        token we claimed it with; returns the ids written. Rows are locked and checked first
        (a bulk UPDATE cannot say which of its rows matched), then updated in groups of the
        same columns, one statement a group, each row still guarded by its token."""
        held: dict[str, str | None] = {}
        for chunk in chunks(sorted(tokens)):
            found = await self._session.execute(
                select(deliveries.c.id, deliveries.c.lease_token)
                .where(deliveries.c.id.in_(chunk))
                .with_for_update()
            )
            held.update({row.id: row.lease_token for row in found})
        ours = {key for key, token in tokens.items() if held.get(key) == token}
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
        for key in sorted(ours):
            values = {**changes[key], "lease_until": None, "lease_token": None}
            groups[tuple(sorted(values))].append(
                {
                    "row_id": key,
                    "row_token": tokens[key],
                    **{f"new_{name}": value for name, value in values.items()},
                }
            )
        for names, params in groups.items():
            statement = (
                update(deliveries)
                .where(
                    (deliveries.c.id == bindparam("row_id"))
                    & (deliveries.c.lease_token == bindparam("row_token"))
                )
                .values({name: bindparam(f"new_{name}") for name in names})
            )
            await self._session.execute(statement, params)
        return ours

    # -- reading --------------------------------------------------------------------------

    async def answered(self, delivery_ids: Collection[str]) -> set[str]:
        """Which of these deliveries have an answer."""
        found: set[str] = set()
        for chunk in chunks(sorted(delivery_ids)):
            result = await self._session.execute(
                select(answers.c.delivery_id).where(answers.c.delivery_id.in_(chunk)).distinct()
            )
            found.update(result.scalars())
        return found

    async def due_event_ids_of(self, delivery_ids: Collection[str]) -> dict[str, str]:
        """delivery id -> the event its row answers to (a nudge's original RitualDue)."""
        found: dict[str, str] = {}
        for chunk in chunks(sorted(delivery_ids)):
            result = await self._session.execute(
                select(deliveries.c.id, deliveries.c.due_event_id).where(deliveries.c.id.in_(chunk))
            )
            found.update({row.id: row.due_event_id for row in result})
        return found

    async def recorded_sends(self, send_event_ids: Collection[str]) -> set[str]:
        """Which of these due events already have a delivery row."""
        found: set[str] = set()
        for chunk in chunks(sorted(send_event_ids)):
            result = await self._session.execute(
                select(deliveries.c.due_event_id).where(deliveries.c.due_event_id.in_(chunk))
            )
            found.update(result.scalars())
        return found

    async def sent_for(self, due_event_id: str) -> Delivery | None:
        """The latest sent delivery of a due event (what a nudge follows)."""
        row = (
            await self._session.execute(
                select(deliveries)
                .where(
                    (deliveries.c.due_event_id == due_event_id)
                    & (deliveries.c.status == DeliveryStatus.sent)
                )
                .order_by(deliveries.c.sent_at.desc())
            )
        ).first()
        return Delivery.from_row(row) if row is not None else None

    async def get(self, delivery_id: str) -> Delivery | None:
        row = (
            await self._session.execute(select(deliveries).where(deliveries.c.id == delivery_id))
        ).first()
        return Delivery.from_row(row) if row is not None else None

    # -- writing new rows -----------------------------------------------------------------

    async def add_new(self, rows: Sequence[Mapping[str, Any]]) -> int:
        """Insert rows, skipping any whose id exists; returns how many were new."""
        return await insert_ignoring_duplicates(self._session, deliveries, [dict(r) for r in rows])

    async def queue_fallback(self, failed: Delivery, channel: Channel, now: datetime) -> bool:
        """A second delivery of the same send on ``channel``; idempotent (one per channel)."""
        row = {
            **{name: getattr(failed, name) for name in _COPIED},
            "id": delivery_id_for(failed.due_event_id, channel),
            "channel": channel.value,
            "ritual_kind": failed.ritual_kind.value,
            "status": DeliveryStatus.queued.value,
            "attempts": 0,
            "not_before": now,
            "created_at": now,
            "provider_state_rank": 0,
        }
        return bool(await self.add_new([row]))


# What a fallback delivery keeps of the one that failed; the rest starts afresh.
_COPIED = (
    "due_event_id",
    "member_id",
    "community_id",
    "ritual_id",
    "template_key",
    "item_key",
    "occurrence_at",
    "occurrence_local_date",
    "respond_by",
    "timezone",
    "nudge_number",
    "answers_delivery_id",
    "source_event",
)

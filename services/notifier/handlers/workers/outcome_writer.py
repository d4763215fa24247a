"""Outcomes of sends, committed in groups with everything they imply.

One transaction per group (``shared.group_commit``): the rows' new states (where our lease
still holds), their events in the outbox, dead letters, provider-reported opt-outs (through
the consent trail) and fallback deliveries. A hand-over stays in doubt until its group commits.
Provider statuses that arrived before the sends were recorded are applied right after the
commit (``apply_kept_statuses``), one query finding them all.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.notifier.adapters.deliveries import Deliveries
from services.notifier.adapters.tables import outbox
from services.notifier.domain.contact import Contact
from services.notifier.domain.delivery import Delivery
from services.notifier.domain.outcomes import Outcome
from services.notifier.handlers.use_cases.members import record_provider_sms_opt_out
from services.notifier.handlers.use_cases.provider_status import (
    apply_kept_statuses,
    opt_out_source,
)
from shared.clock import Clock
from shared.contracts import Channel, NudgeDueV1, RitualDueV1, deterministic_event_id
from shared.group_commit import GroupCommit
from shared.messaging.consumer import safe_header_value
from shared.outbox import OutboxRelay, stage_events, stage_raw
from shared.subjects import dead_letter_subject

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Written:
    delivery: Delivery
    outcome: Outcome
    token: str  # the lease token of the claim
    contact: Contact | None


class OutcomeWriter:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        relay: OutboxRelay,
        sms_provider: str,
    ) -> None:
        # Who refused a send because the recipient opted out, for the consent trail.
        self._opt_out_source = opt_out_source(sms_provider)
        self._sessions = sessions
        self._clock = clock
        self._relay = relay
        self._groups = GroupCommit(self._commit)

    async def write(self, item: Written) -> bool:
        """Commit the outcome; False if another dispatcher holds the row now (its outcome is
        the one that counts: a stale one written here would, say, re-queue a prompt the
        other has just sent)."""
        return await self._groups.submit(item)

    async def _commit(self, items: list[Written]) -> list[bool]:
        now = self._clock.now()
        async with self._sessions() as session, session.begin():
            deliveries = Deliveries(session)
            written = await deliveries.apply_outcomes(
                {item.delivery.id: item.token for item in items},
                {item.delivery.id: item.outcome.changes for item in items},
            )
            kept = [item for item in items if item.delivery.id in written]
            await stage_events(
                session, outbox, [event for item in kept for event in item.outcome.events], now
            )
            for item in kept:
                await self._side_effects(session, deliveries, item, now)
        for item in items:
            if item.delivery.id not in written:
                log.warning(
                    "delivery %s: another dispatcher holds it; outcome dropped", item.delivery.id
                )
        recorded = [
            provider_id
            for item in kept
            if isinstance(provider_id := item.outcome.changes.get("provider_message_id"), str)
        ]
        if recorded:
            await apply_kept_statuses(self._sessions, recorded, now)
        if kept:
            self._relay.kick()
        return [item.delivery.id in written for item in items]

    async def _side_effects(
        self, session: AsyncSession, deliveries: Deliveries, item: Written, now: datetime
    ) -> None:
        outcome, delivery = item.outcome, item.delivery
        if outcome.dead_letter_reason is not None and delivery.source_event:
            await _stage_dead_letter(session, delivery, outcome.dead_letter_reason, now)
        if outcome.opted_out is Channel.sms:
            await record_provider_sms_opt_out(
                session, delivery.member_id, self._opt_out_source, now
            )
        if outcome.fallback is not None:
            await deliveries.queue_fallback(delivery, outcome.fallback, now)


async def _stage_dead_letter(
    session: AsyncSession, delivery: Delivery, reason: str, now: datetime
) -> None:
    subject = NudgeDueV1.subject if delivery.is_nudge else RitualDueV1.subject
    assert delivery.source_event is not None
    await stage_raw(
        session,
        outbox,
        deterministic_event_id("dead-letter", delivery.id),
        dead_letter_subject(subject),
        delivery.source_event.encode(),
        {
            "Dead-Letter-Reason": safe_header_value(reason),
            "Dead-Letter-Subject": subject,
            "Dead-Letter-Consumer": "notifier-dispatcher",
            "Dead-Letter-Deliveries": str(delivery.attempts),
        },
        now,
    )

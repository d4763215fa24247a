"""Provider status callbacks, in the provider-neutral vocabulary (``SmsState``; each provider's
package maps its own): ranked, so that a late or repeated callback never moves a delivery's
status backwards (they arrive out of order), and kept aside when they arrive before the send
that caused them was recorded. A recipient who opted out at the provider is opted out here too,
through the consent trail like every other change."""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.notifier.adapters.contacts import Contacts
from services.notifier.adapters.deliveries import Deliveries
from services.notifier.adapters.deliveries.base import chunks
from services.notifier.adapters.sms.base import SmsState, StatusReport
from services.notifier.adapters.tables import outbox, provider_status_backlog
from services.notifier.domain.delivery import Delivery
from services.notifier.domain.events import prompt_delivered, prompt_failed
from services.notifier.handlers.use_cases.members import record_provider_sms_opt_out
from shared.clock import Clock
from shared.contracts import Channel, Event, FailureReason
from shared.db import insert_ignoring_duplicates
from shared.group_commit import GroupCommit
from shared.outbox import OutboxRelay, stage_events

# Message states by how far along they are; terminal ones share the top rank but one.
STATUS_RANK: dict[str, int] = {
    SmsState.ACCEPTED: 1,
    SmsState.QUEUED: 1,
    SmsState.SENDING: 2,
    SmsState.SENT: 3,
    SmsState.DELIVERED: 5,
    SmsState.UNDELIVERED: 5,
    SmsState.FAILED: 5,
    SmsState.OPTED_OUT: 5,
    SmsState.READ: 6,
}
FAILED_STATES = frozenset({SmsState.UNDELIVERED, SmsState.FAILED, SmsState.OPTED_OUT})
# The consent-trail source of an opt-out a provider reported: "provider:<name>". A status kept
# for later does not say which provider sent it, so its opt-out is recorded as "provider".
BACKLOG_OPT_OUT_SOURCE = "provider"


def opt_out_source(provider: str) -> str:
    return f"provider:{provider}"


class StatusDeps:
    """Provider statuses are recorded in groups (``shared.group_commit``): at thousands of
    messages a second every message brings two or three callbacks, and a transaction each
    (SQLite's writers queue on one lock) was what held the sends back. A callback is answered
    only once its group has committed, so a provider that got its 2xx has nothing to resend.
    A group takes its rows in message-id order, so two replicas' groups cannot deadlock."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        relay: OutboxRelay,
        wake_dispatcher: Callable[[], None],
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._relay = relay
        self._wake_dispatcher = wake_dispatcher
        self._groups: GroupCommit[tuple[str, StatusReport], str] = GroupCommit(self._apply)

    async def record(self, provider: str, report: StatusReport) -> str:
        """Record ``provider``'s status for a message; returns what happened."""
        if report.state is None:
            return "unknown_status"
        return await self._groups.submit((provider, report))

    async def _apply(self, items: list[tuple[str, StatusReport]]) -> list[str]:
        now = self._clock.now()
        async with self._sessions() as session, session.begin():
            outcomes = await apply_reports(
                session, [(opt_out_source(provider), report) for provider, report in items], now
            )
        kept = [
            report.provider_message_id
            for (_, report), outcome in zip(items, outcomes, strict=True)
            if outcome == KEPT_FOR_LATER
        ]
        if kept:
            await apply_kept_statuses(self._sessions, kept, now)
        if any(outcome != KEPT_FOR_LATER for outcome in outcomes):
            self._relay.kick()
            self._wake_dispatcher()  # a fallback may be queued
        return outcomes


KEPT_FOR_LATER = "kept_for_later"


async def apply_status(deps: StatusDeps, provider: str, report: StatusReport) -> str:
    """Record ``provider``'s status for a message; returns what happened."""
    return await deps.record(provider, report)


async def apply_reports(
    session: AsyncSession, items: list[tuple[str, StatusReport]], now: datetime
) -> list[str]:
    """Apply a group of statuses in one transaction, in arrival order; returns what happened
    to each. Each comes with the consent-trail source of an opt-out it reports. The group's
    deliveries are read and locked with one query (in message-id order, so two replicas'
    groups cannot deadlock); progress (accepted ... delivered, read) is written with one
    statement per shape of change; a failure takes the full path (events, opt-out, fallback)
    one status at a time."""
    ledger = Deliveries(session)
    rows = await ledger.lock_by_message_ids({report.provider_message_id for _, report in items})
    ranks = {message_id: row.provider_state_rank for message_id, row in rows.items()}
    outcomes: list[str] = []
    kept: list[dict[str, Any]] = []
    progress: dict[str, dict[str, Any]] = {}
    events: list[Event] = []
    for source, report in items:
        state, message_id = report.state, report.provider_message_id
        assert state is not None
        row = rows.get(message_id)
        if row is None:
            kept.append(
                {
                    "provider_message_id": message_id,
                    "state": state.value,
                    "error_code": report.error_code,
                    "received_at": now,
                }
            )
            outcomes.append(KEPT_FOR_LATER)
            continue
        rank = STATUS_RANK[state]
        if rank <= ranks[message_id]:
            outcomes.append("stale")
            continue
        ranks[message_id] = rank
        if state in FAILED_STATES:
            if row.id in progress:  # what came before it in this group, first
                await ledger.advance_provider_states({row.id: progress.pop(row.id)})
            outcomes.append(
                await apply_to_delivery(session, row, state, report.error_code, now, source)
            )
            continue
        values = progress.setdefault(row.id, {})
        values |= {"provider_state": state.value, "provider_state_rank": rank}
        if state == SmsState.DELIVERED:
            values["delivered_at"] = now
            events.append(prompt_delivered(row.job(), row.channel, now))
        outcomes.append(state.value)
    await ledger.advance_provider_states(progress)
    await stage_events(session, outbox, events, now)
    await insert_ignoring_duplicates(session, provider_status_backlog, kept)
    return outcomes


async def apply_backlog(
    session: AsyncSession, provider_message_ids: Collection[str], now: datetime
) -> None:
    """Statuses that came before these messages' sends were recorded (the caller has just
    recorded or found them, in this transaction): applied as a group of callbacks would be,
    each message's in rank order, with one read, one lock and one write per shape of change
    for them all (a burst keeps most statuses for later: one query each was the notifier's
    largest cost)."""
    pending = [
        status
        for chunk in chunks(sorted(set(provider_message_ids)))
        for status in (
            await session.execute(
                select(provider_status_backlog).where(
                    provider_status_backlog.c.provider_message_id.in_(chunk)
                )
            )
        ).all()
    ]
    if not pending:
        return
    # A status from a vocabulary since retired is dropped with the rest.
    known = sorted(
        (status for status in pending if status.state in STATUS_RANK),
        key=lambda status: (status.provider_message_id, STATUS_RANK[status.state]),
    )
    reports = [
        (
            BACKLOG_OPT_OUT_SOURCE,
            StatusReport(status.provider_message_id, SmsState(status.state), status.error_code),
        )
        for status in known
    ]
    await apply_reports(session, reports, now)
    # Only what was read and applied: a status kept while this ran (its sender did not see
    # the send yet) stays for the next sweep (``apply_matched_backlog``) instead of being
    # deleted unapplied.
    read = [(status.provider_message_id, status.state) for status in pending]
    for chunk in chunks(read):
        await session.execute(
            delete(provider_status_backlog).where(
                tuple_(
                    provider_status_backlog.c.provider_message_id, provider_status_backlog.c.state
                ).in_(chunk)
            )
        )


async def apply_to_delivery(
    session: AsyncSession,
    row: Delivery,
    state: str,
    error_code: int | None,
    now: datetime,
    opt_out_source: str,
) -> str:
    """Apply one status to the delivery in ``row`` (locked by the caller). ``state`` is an
    ``SmsState`` value (a str: kept statuses come back from the database as text)."""
    rank = STATUS_RANK.get(state)
    if rank is None:
        return "unknown_status"  # a kept status from a vocabulary since retired
    if rank <= row.provider_state_rank:
        return "stale"
    ledger = Deliveries(session)
    values: dict[str, object] = {"provider_state": state}
    events: list[Event] = []
    job = row.job()
    channel = row.channel
    if state == SmsState.DELIVERED:
        values["delivered_at"] = now
        events.append(prompt_delivered(job, channel, now))
    elif state in FAILED_STATES:
        opted_out = state == SmsState.OPTED_OUT
        reason = FailureReason.opted_out if opted_out else FailureReason.undelivered
        values |= {"failure_reason": reason.value, "provider_status": error_code}
        events.append(prompt_failed(job, channel, reason, row.attempts, now, error_code))
        if opted_out and channel is Channel.sms:
            await record_provider_sms_opt_out(session, row.member_id, opt_out_source, now)
        contact = await Contacts(session, default_quiet_hours=None).get(row.member_id)
        if contact is not None:
            fallback, _ = contact.first_usable(after=channel)
            if fallback is not None:
                await ledger.queue_fallback(row, fallback, now)
    # Never backwards, even against a row read before another transaction moved it on (the
    # rank is in the UPDATE's WHERE).
    await ledger.advance_provider_state(row.id, rank, values)
    await stage_events(session, outbox, events, now)
    return state


async def apply_kept_statuses(
    sessions: async_sessionmaker[AsyncSession], message_ids: list[str], now: datetime
) -> int:
    """Kept statuses of these messages whose send is recorded by now; returns how many
    messages were updated. Called after each commit that keeps a status and after each that
    records sends: whichever of the two commits last finds the other's work, so a status
    kept while its send was being recorded never waits for the periodic sweep."""
    async with sessions() as session, session.begin():
        matched = await Deliveries(session).kept_statuses_now_recorded(message_ids)
        await apply_backlog(session, matched, now)
    return len(matched)


async def apply_matched_backlog(
    sessions: async_sessionmaker[AsyncSession], now: datetime, keep: timedelta
) -> int:
    """Kept statuses whose send has been recorded since (a callback that raced the record);
    forget ones that never matched within ``keep``. Returns how many messages were updated."""
    async with sessions() as session, session.begin():
        matched = await Deliveries(session).kept_statuses_now_recorded(limit=500)
        await apply_backlog(session, matched, now)
        await session.execute(
            delete(provider_status_backlog).where(
                provider_status_backlog.c.received_at < now - keep
            )
        )
    return len(matched)

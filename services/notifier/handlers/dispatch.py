"""The send queue: claim due deliveries, send them within provider limits, record outcomes.

* Claiming leases rows (``FOR UPDATE SKIP LOCKED`` on PostgreSQL), so replicas share the queue
  and a crashed sender's rows are taken up again when the lease ends.
* Consent, opt-out and quiet hours are checked again at send time: what was true when the
  event arrived may not be now.
* Transient failures (SMTP 4xx, HTTP 429/5xx, timeouts) go back to the queue after an
  exponential, jittered delay (at least the provider's Retry-After); after the attempt limit
  the delivery fails and the event that asked for it goes to the dead letters with the reason.
* Permanent failures (SMTP 5xx, invalid number, the provider's opt-out) are recorded without
  retry, and the member's fallback channel, if any, is tried.
* Every outcome commits together with its event (PromptSent / PromptFailed) in the outbox.
* When a provider itself fails (unreachable, timing out, 429, 5xx, our credentials refused),
  its channel pauses until that message's retry: the rest of the channel's queue waits with
  it, uncounted, instead of paying a timeout each and holding up everything behind them.
* At most one hand-over per process is ever in doubt. A message the provider may have taken
  (SMTP: the final "." sent) is a duplicate if the process dies before its outcome commits,
  since the next lease holder sends it again; exactly-once to SMTP is impossible. Checks,
  rendering and waits for rate-limit tokens run concurrently, but each send and the commit of
  its outcome run one at a time, so a crash repeats at most one message (measured by
  ``tests/fault/test_notifier_sigkill.py``). Replicas scale the throughput.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Row, exists, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.notifier.adapters.channels import ChannelSenders, DeliveryFailed
from services.notifier.adapters.tables import answers, contacts, deliveries, outbox
from services.notifier.domain.contact import Contact
from services.notifier.domain.quiet_hours import QuietHours, defer_until_quiet_hours_end
from services.notifier.domain.rate_limit import TokenBucket
from services.notifier.handlers.compose import Composer, TemplateProblem
from services.notifier.handlers.events import prompt_failed, prompt_sent
from services.notifier.handlers.fallback import queue_fallback
from services.notifier.handlers.prompt_job import PromptJob, job_from_delivery
from services.notifier.handlers.provider_status import apply_backlog, apply_matched_backlog
from services.notifier.handlers.statuses import FAILED, QUEUED, SENDING, SENT, SKIPPED
from shared.clock import Clock
from shared.contracts import (
    Channel,
    Event,
    FailureReason,
    NudgeDueV1,
    RitualDueV1,
    deterministic_event_id,
)
from shared.messaging.consumer import RetryPolicy, safe_header_value
from shared.outbox import OutboxRelay, stage_events, stage_raw
from shared.subjects import dead_letter_subject

log = logging.getLogger(__name__)

# Provider refusals that mean "this member opted out": honoured as an opt-out, not retried.
_OPT_OUT_REASONS = {"recipient_opted_out"}
# A status for a message id we never recorded is kept this long, then forgotten.
STATUS_BACKLOG_KEEP = timedelta(days=1)


@dataclass(frozen=True)
class DispatchPolicy:
    batch_size: int = 100
    lease: timedelta = timedelta(minutes=2)
    retry: RetryPolicy = field(
        default_factory=lambda: RetryPolicy(max_attempts=6, base_delay_s=60, max_delay_s=3600)
    )
    concurrency: int = 16


LEASE_LOST = "lease_lost"
PAUSED = "paused"


def _paused(row: Row[Any], until: datetime) -> Outcome:
    """Not tried: its channel's provider is down (unreachable, timing out, 429, 5xx) and the
    send that found out retries at ``until``. Trying every queued message against it would
    cost each a timeout, one at a time, and hold up the batch (other channels included) for
    the lot; instead they wait with it, and no attempt is counted against them."""
    return Outcome(PAUSED, {"status": QUEUED, "not_before": until, "attempts": row.attempts})


def _rowcount(result: object) -> int:
    return int(getattr(result, "rowcount", 0))


# The hand-over to the provider, prepared and not yet started; it returns the outcome.
SendNow = Callable[[], Awaitable["Outcome"]]


@dataclass
class DispatchResult:
    claimed: int = 0
    sent: int = 0
    deferred: int = 0
    retried: int = 0
    failed: int = 0
    skipped: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)

    def count(self, outcome: str) -> None:
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1
        if hasattr(self, outcome):
            setattr(self, outcome, getattr(self, outcome) + 1)


@dataclass(frozen=True)
class Outcome:
    """How a delivery row ends this attempt, and what that publishes."""

    name: str  # sent | deferred | retried | failed | skipped
    values: Mapping[str, Any]
    events: tuple[Event, ...] = ()
    dead_letter_reason: str | None = None
    fallback: Channel | None = None
    opted_out: Channel | None = None
    pause_channel_until: datetime | None = None


class Dispatcher:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        senders: ChannelSenders,
        composer: Composer,
        relay: OutboxRelay,
        buckets: Mapping[Channel, TokenBucket],
        default_quiet_hours: QuietHours | None,
        policy: DispatchPolicy,
        interval_s: float = 1.0,
        rng: random.Random | None = None,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._senders = senders
        self._composer = composer
        self._relay = relay
        self._buckets = buckets
        self._default_quiet = default_quiet_hours
        self._policy = policy
        self._interval_s = interval_s
        self._rng = rng or random.Random()
        self._wake = asyncio.Event()
        # Held from a provider hand-over until its outcome is committed (see the module doc).
        self._in_doubt = asyncio.Lock()
        # A channel whose provider is down waits until its retry is due (see ``_paused``).
        self._paused_until: dict[Channel, datetime] = {}
        self.last_run_at: datetime | None = None

    def owes_run_at(self, instant: datetime) -> bool:
        """Whether, by ``instant``, a sweep of the queue is due that has not run yet."""
        last = self.last_run_at
        return last is None or instant >= last + timedelta(seconds=self._interval_s)

    def kick(self) -> None:
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            started = self._clock.now()
            try:
                while (await self.dispatch_due()).claimed:
                    pass
                if await apply_matched_backlog(self._sessions, started, STATUS_BACKLOG_KEEP):
                    self._relay.kick()
            except Exception as error:  # the database or a provider is down: try again soon
                log.warning("dispatch failed: %s; will retry", type(error).__name__)
            sleeper = asyncio.ensure_future(
                self._clock.sleep_until(started + timedelta(seconds=self._interval_s))
            )
            waker = asyncio.ensure_future(self._wake.wait())
            await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
            for task in (sleeper, waker):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            self._wake.clear()

    async def dispatch_due(self) -> DispatchResult:
        """Send one batch of what is due now; returns counts (``claimed`` 0: queue is idle)."""
        now = self._clock.now()
        claimed = await self._claim(now)
        held = now + self._policy.lease  # the lease this batch holds: a fencing token
        result = DispatchResult(claimed=len(claimed))
        slots = asyncio.Semaphore(self._policy.concurrency)

        async def one(row: Row[Any]) -> None:
            async with slots:
                prepared = await self._prepare(row, now)
                if isinstance(prepared, Outcome):
                    recorded = await self._record(row, prepared, now, held)
                    result.count(prepared.name if recorded else LEASE_LOST)
                    return
                async with self._in_doubt:
                    channel = Channel(row.channel)
                    paused_until = self._paused_until.get(channel)
                    if paused_until is not None and self._clock.now() < paused_until:
                        recorded = await self._record(row, _paused(row, paused_until), now, held)
                        result.count(PAUSED if recorded else LEASE_LOST)
                        return
                    lease = await self._renew_lease(row.id, held)
                    if lease is None:
                        result.count(LEASE_LOST)  # another replica has it now: leave it
                        return
                    outcome = await prepared()
                    if outcome.pause_channel_until is not None:
                        self._paused_until[channel] = outcome.pause_channel_until
                    recorded = await self._record(row, outcome, now, lease)
                result.count(outcome.name if recorded else LEASE_LOST)

        await asyncio.gather(*(one(row) for row in claimed))
        self.last_run_at = now
        if claimed:
            self._relay.kick()
        return result

    async def _claim(self, now: datetime) -> list[Row[Any]]:
        async with self._sessions() as session, session.begin():
            rows = (
                await session.execute(
                    select(deliveries)
                    .where(
                        or_(
                            (deliveries.c.status == QUEUED)
                            & or_(
                                deliveries.c.not_before.is_(None), deliveries.c.not_before <= now
                            ),
                            (deliveries.c.status == SENDING) & (deliveries.c.lease_until < now),
                        )
                    )
                    .order_by(deliveries.c.not_before)
                    .limit(self._policy.batch_size)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            if rows:
                await session.execute(
                    update(deliveries)
                    .where(deliveries.c.id.in_([row.id for row in rows]))
                    .values(
                        status=SENDING,
                        lease_until=now + self._policy.lease,
                        attempts=deliveries.c.attempts + 1,
                    )
                )
        return list(rows)

    async def _renew_lease(self, delivery_id: str, held: datetime) -> datetime | None:
        """Just before the hand-over: extend our lease if it is still ours, compared by value
        (a fencing token), not by time; returns the new lease, or None if it was taken.

        Waiting for the send slot can outlast the lease (a provider hanging on earlier rows of
        the batch); by then another replica may have claimed the row, and sending it here too
        would be a duplicate without any crash."""
        lease = self._clock.now() + self._policy.lease
        async with self._sessions() as session, session.begin():
            renewed = await session.execute(
                update(deliveries)
                .where(
                    (deliveries.c.id == delivery_id)
                    & (deliveries.c.status == SENDING)
                    & (deliveries.c.lease_until == held)
                )
                .values(lease_until=lease)
            )
        return lease if _rowcount(renewed) == 1 else None

    async def _job(self, row: Row[Any]) -> PromptJob:
        if not row.nudge_number:
            return job_from_delivery(row, row.due_event_id)
        async with self._sessions() as session:
            original_due = (
                await session.execute(
                    select(deliveries.c.due_event_id).where(
                        deliveries.c.id == row.answers_delivery_id
                    )
                )
            ).scalar()
        return job_from_delivery(row, original_due or row.due_event_id)

    async def _prepare(self, row: Row[Any], now: datetime) -> Outcome | SendNow:
        """Everything up to the hand-over: an outcome without sending (refused, answered,
        deferred, not renderable), or the send itself, ready to run."""
        attempts = row.attempts + 1
        channel = Channel(row.channel)
        job = await self._job(row)
        async with self._sessions() as session:
            contact_row = (
                await session.execute(select(contacts).where(contacts.c.member_id == row.member_id))
            ).first()
            answered = bool(
                row.answers_delivery_id
                and (
                    await session.execute(
                        select(exists().where(answers.c.delivery_id == row.answers_delivery_id))
                    )
                ).scalar()
            )
        if contact_row is None:
            return self._fail(job, channel, FailureReason.no_contact, attempts, now)
        contact = Contact.from_row(contact_row, self._default_quiet)
        refusal = contact.refusal(channel)
        if refusal is not None:
            return self._fail(job, channel, refusal, attempts, now, contact=contact)
        if answered:
            return Outcome(SKIPPED, {"status": SKIPPED, "attempts": attempts - 1})
        if contact.quiet_hours is not None:
            send_at = defer_until_quiet_hours_end(now, ZoneInfo(row.timezone), contact.quiet_hours)
            if send_at > now:
                return Outcome(
                    "deferred",
                    {"status": QUEUED, "not_before": send_at, "attempts": attempts - 1},
                )
        address = contact.address(channel)
        assert address is not None
        hand_over: Callable[[], Awaitable[str | None]]
        try:
            if channel is Channel.email:
                message = await self._composer.email(job, row.id, address, contact.locale, now)
                await self._buckets[channel].take()

                def hand_over() -> Awaitable[str | None]:
                    return self._senders.send_email(message)

            else:
                sms = await self._composer.sms(job, contact.locale, now)
                # Providers meter segments, not messages.
                await self._buckets[channel].take(sms.segments)

                def hand_over() -> Awaitable[str | None]:
                    return self._senders.send_sms(address, sms.text, row.id)

        except TemplateProblem:
            return self._fail(job, channel, FailureReason.template_error, attempts, now)

        async def send() -> Outcome:
            try:
                provider_id = await hand_over()
            except DeliveryFailed as failure:
                return self._after_failure(job, channel, failure, attempts, now, contact)
            return self._sent(job, channel, attempts, now, provider_id)

        return send

    def _sent(
        self,
        job: PromptJob,
        channel: Channel,
        attempts: int,
        now: datetime,
        provider_id: str | None,
    ) -> Outcome:
        return Outcome(
            SENT,
            {
                "status": SENT,
                "sent_at": now,
                "attempts": attempts,
                "provider_message_id": provider_id,
                "provider_state": "accepted",
                "provider_state_rank": 1,
            },
            (prompt_sent(job, channel, attempts, now),),
        )

    def _fail(
        self,
        job: PromptJob,
        channel: Channel,
        reason: FailureReason,
        attempts: int,
        now: datetime,
        status: int | None = None,
        contact: Contact | None = None,
    ) -> Outcome:
        fallback = None
        if contact is not None and reason is not FailureReason.no_consent:
            fallback, _ = contact.first_usable(after=channel)
        return Outcome(
            FAILED,
            {
                "status": FAILED,
                "attempts": attempts,
                "failure_reason": reason.value,
                "provider_status": status,
            },
            (prompt_failed(job, channel, reason, attempts, now, status),),
            fallback=fallback,
        )

    def _after_failure(
        self,
        job: PromptJob,
        channel: Channel,
        failure: DeliveryFailed,
        attempts: int,
        now: datetime,
        contact: Contact,
    ) -> Outcome:
        if failure.permanent:
            reason = (
                FailureReason.opted_out
                if failure.reason in _OPT_OUT_REASONS
                else FailureReason.rejected_permanently
            )
            outcome = self._fail(job, channel, reason, attempts, now, failure.status, contact)
            if reason is FailureReason.opted_out:
                return Outcome(
                    outcome.name, outcome.values, outcome.events, None, outcome.fallback, channel
                )
            return outcome
        if attempts >= self._policy.retry.max_attempts:
            outcome = self._fail(
                job, channel, FailureReason.retries_exhausted, attempts, now, failure.status
            )
            reason_text = f"retries exhausted after {attempts} attempts: {failure.reason}"
            return Outcome(outcome.name, outcome.values, outcome.events, reason_text)
        delay = self._policy.retry.delay_s(attempts, self._rng)
        if failure.retry_after_s is not None:
            delay = max(delay, failure.retry_after_s)
        log.info("send retry in %.0fs after %s (attempt %s)", delay, failure.reason, attempts)
        retry_at = now + timedelta(seconds=delay)
        return Outcome(
            "retried",
            {
                "status": QUEUED,
                "attempts": attempts,
                "not_before": retry_at,
                "provider_status": failure.status,
            },
            pause_channel_until=retry_at if failure.provider_down else None,
        )

    async def _record(
        self, row: Row[Any], outcome: Outcome, now: datetime, lease: datetime
    ) -> bool:
        """Commit the outcome and its events, if the row is still under our ``lease``. If
        another replica has claimed it since, its outcome is the one that counts: a stale one
        written here would, say, re-queue a prompt the other has just sent."""
        async with self._sessions() as session, session.begin():
            updated = await session.execute(
                update(deliveries)
                .where((deliveries.c.id == row.id) & (deliveries.c.lease_until == lease))
                .values(**outcome.values, lease_until=None)
            )
            if _rowcount(updated) != 1:
                log.warning("delivery %s: another dispatcher holds it; outcome dropped", row.id)
                return False
            await stage_events(session, outbox, list(outcome.events), now)
            provider_id = outcome.values.get("provider_message_id")
            if isinstance(provider_id, str):
                await apply_backlog(session, provider_id, now)
            if outcome.dead_letter_reason is not None and row.source_event:
                await self._stage_dead_letter(session, row, outcome.dead_letter_reason, now)
            if outcome.opted_out is Channel.sms:
                await session.execute(
                    update(contacts)
                    .where(
                        (contacts.c.member_id == row.member_id)
                        & contacts.c.sms_opted_out_at.is_(None)
                    )
                    .values(sms_opted_out_at=now)
                )
            if outcome.fallback is not None:
                await queue_fallback(session, row, outcome.fallback, now)
        return True

    async def _stage_dead_letter(
        self, session: AsyncSession, row: Row[Any], reason: str, now: datetime
    ) -> None:
        subject = NudgeDueV1.subject if row.nudge_number else RitualDueV1.subject
        await stage_raw(
            session,
            outbox,
            deterministic_event_id("dead-letter", row.id),
            dead_letter_subject(subject),
            row.source_event.encode(),
            {
                "Dead-Letter-Reason": safe_header_value(reason),
                "Dead-Letter-Subject": subject,
                "Dead-Letter-Consumer": "notifier-dispatcher",
                "Dead-Letter-Deliveries": str(row.attempts + 1),
            },
            now,
        )

"""The send queue: claim due deliveries in batches, hand them over concurrently within
provider limits, commit their outcomes in groups.

* A batch is claimed in one transaction (``FOR UPDATE SKIP LOCKED`` on PostgreSQL), so
  replicas share the queue; a crashed sender's rows are taken up again when their lease ends.
* What the batch needs (contacts, answers, nudges' originals) is read in one go; consent,
  opt-out, answers and quiet hours are checked again at send time, since what was true when the
  event arrived may not be now (``domain.outcomes``).
* Messages are composed and handed over concurrently: SMTP connections from the pool, HTTP
  keep-alive for SMS. Outcomes and their events commit in groups (``outcome_writer``).
* **At most ``max_in_doubt`` hand-overs per process are in doubt**: a message the provider may
  have taken whose outcome is not committed yet. If the process dies, the next lease holder
  sends those again; exactly-once to SMTP is impossible. A hand-over takes one of
  ``max_in_doubt`` slots before it starts and frees it when its outcome is committed, so a
  crash repeats at most that many messages (``tests/fault/test_notifier_sigkill.py``).
* A provider that fails as a whole pauses its channel; the first message after a pause (or
  after start-up) goes alone as a probe (``channel_gate``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.notifier.adapters.channels import ChannelSenders
from services.notifier.adapters.deliveries import Deliveries
from services.notifier.domain import outcomes
from services.notifier.domain.contact import Contact
from services.notifier.domain.delivery import Delivery
from services.notifier.domain.outcomes import DeliveryFailed, Outcome, OutcomeKind
from services.notifier.domain.quiet_hours import QuietHours
from services.notifier.domain.rate_limit import RateLimiter, RateLimitUnavailable
from services.notifier.handlers.compose import Composer, TemplateProblem
from services.notifier.handlers.use_cases.provider_status import apply_matched_backlog
from services.notifier.handlers.workers.batch_context import BatchContext, read_context
from services.notifier.handlers.workers.channel_gate import ChannelGate
from services.notifier.handlers.workers.leases import BatchLease
from services.notifier.handlers.workers.outcome_writer import OutcomeWriter, Written
from services.notifier.handlers.workers.send_backlog import SendBacklog
from services.notifier.metrics import NotifierMetrics
from shared.clock import Clock
from shared.contracts import Channel, FailureReason
from shared.messaging.consumer import RetryPolicy
from shared.outbox import OutboxRelay

log = logging.getLogger(__name__)

# A status for a message id we never recorded is kept this long, then forgotten.
STATUS_BACKLOG_KEEP = timedelta(days=1)
LEASE_LOST = "lease_lost"
# A send whose shared rate limit could not be consulted is tried again after this.
LIMIT_UNAVAILABLE_RETRY = timedelta(seconds=5)

# The hand-over to the provider, ready to start; returns the provider's message id, if any.
HandOver = Callable[[], Awaitable[str | None]]


@dataclass(frozen=True)
class DispatchPolicy:
    batch_size: int = 200
    lease: timedelta = timedelta(minutes=2)
    retry: RetryPolicy = field(
        default_factory=lambda: RetryPolicy(max_attempts=6, base_delay_s=60, max_delay_s=3600)
    )
    max_in_doubt: int = 64


@dataclass
class DispatchResult:
    claimed: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)

    def count(self, outcome: str) -> None:
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1

    @property
    def sent(self) -> int:
        return self.outcomes.get(OutcomeKind.sent, 0)


class Dispatcher:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        senders: ChannelSenders,
        composer: Composer,
        relay: OutboxRelay,
        limiters: Mapping[Channel, RateLimiter],
        default_quiet_hours: QuietHours | None,
        policy: DispatchPolicy,
        interval_s: float = 1.0,
        rng: random.Random | None = None,
        metrics: NotifierMetrics | None = None,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._senders = senders
        self._composer = composer
        self._relay = relay
        self._limiters = limiters
        self._default_quiet = default_quiet_hours
        self._policy = policy
        self._interval_s = interval_s
        self._rng = rng or random.Random()
        self._wake = asyncio.Event()
        self._in_doubt = asyncio.Semaphore(policy.max_in_doubt)
        self._gates = {channel: ChannelGate() for channel in Channel}
        self._writer = OutcomeWriter(sessions, clock, relay, senders.sms_provider)
        self._metrics = metrics or NotifierMetrics()
        self.backlog = SendBacklog(self._metrics.send_backlog.set)
        self.last_run_at: datetime | None = None

    def owes_run_at(self, instant: datetime) -> bool:
        """Whether, by ``instant``, a sweep of the queue is due that has not run yet."""
        last = self.last_run_at
        return last is None or instant >= last + timedelta(seconds=self._interval_s)

    def kick(self) -> None:
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        try:
            await self._sweep_until(stop)
        finally:
            self.backlog.dispatcher_stopped()

    async def _sweep_until(self, stop: asyncio.Event) -> None:
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
        held, token = now + self._policy.lease, uuid.uuid4().hex
        async with self._sessions() as session, session.begin():
            batch = await Deliveries(session).claim_due(now, held, token, self._policy.batch_size)
        self.backlog.claimed(len(batch), self._policy.batch_size)
        result = DispatchResult(claimed=len(batch))
        if batch:
            lease = BatchLease(
                self._sessions, self._clock, self._policy.lease, [d.id for d in batch], held, token
            )
            context = await read_context(self._sessions, batch, self._default_quiet)
            done = await asyncio.gather(
                *(self._attempt(delivery, context, lease, now) for delivery in batch),
                return_exceptions=True,
            )
            for outcome in done:
                if isinstance(outcome, BaseException):
                    raise outcome  # the rest of the batch has finished; its lease lapses
                result.count(outcome)
            self._relay.kick()
        self.last_run_at = now
        return result

    async def _attempt(
        self, delivery: Delivery, context: BatchContext, lease: BatchLease, now: datetime
    ) -> str:
        """``now``: the batch's claim time, which every outcome of the batch is dated and
        every retry counted from (as a replica's claim would see them)."""
        job = delivery.job(context.ritual_due_id(delivery))
        contact = context.contacts.get(delivery.member_id)
        decided = outcomes.before_send(
            delivery,
            job,
            contact,
            context.is_answered(delivery),
            now,
            held=context.is_held(delivery),
        )
        if decided is not None or contact is None:
            assert decided is not None  # no contact: before_send decided it fails
            return await self._write(delivery, decided, lease, contact)
        address = contact.address(delivery.channel)
        assert address is not None
        hand_over: HandOver
        try:
            if delivery.channel is Channel.email:
                message = await self._composer.email(job, delivery.id, address, contact.locale, now)
                await self._limiters[Channel.email].take(1)

                def hand_over() -> Awaitable[str | None]:
                    return self._senders.send_email(message)

            else:
                sms = await self._composer.sms(job, delivery.id, contact.locale, now)
                await self._limiters[Channel.sms].take(sms.segments)  # providers meter segments

                def hand_over() -> Awaitable[str | None]:
                    return self._senders.send_sms(address, sms.text, delivery.id)

        except TemplateProblem:
            failed = outcomes.failed(delivery, job, FailureReason.template_error, now)
            return await self._write(delivery, failed, lease, contact)
        except RateLimitUnavailable:
            # The shared limit could not be consulted: nothing may go on its account. Back to
            # the queue, uncounted, rather than waiting for the lease to lapse.
            later = outcomes.paused(delivery, now + LIMIT_UNAVAILABLE_RETRY)
            return await self._write(delivery, later, lease, contact)

        async def send() -> Outcome:
            try:
                provider_id = await hand_over()
            except DeliveryFailed as failure:
                return outcomes.after_failure(
                    delivery,
                    job,
                    failure,
                    contact,
                    self._policy.retry,
                    now,
                    self._rng,
                )
            return outcomes.sent(delivery, job, now, provider_id)

        return await self._through_gate(delivery, send, lease, contact)

    async def _through_gate(
        self,
        delivery: Delivery,
        send: Callable[[], Awaitable[Outcome]],
        lease: BatchLease,
        contact: Contact,
    ) -> str:
        gate = self._gates[delivery.channel]
        while not gate.trusted:
            async with gate.probing:
                if not gate.trusted:
                    return await self._hand_over(delivery, send, lease, gate, contact)
        return await self._hand_over(delivery, send, lease, gate, contact)

    async def _hand_over(
        self,
        delivery: Delivery,
        send: Callable[[], Awaitable[Outcome]],
        lease: BatchLease,
        gate: ChannelGate,
        contact: Contact,
    ) -> str:
        async with self._in_doubt:  # held until the outcome is committed
            until = gate.paused(self._clock.now())
            if until is not None:
                return await self._write(delivery, outcomes.paused(delivery, until), lease, contact)
            if not await lease.still_ours(delivery.id):
                return LEASE_LOST  # another replica has it now: leave it
            outcome = await send()
            if outcome.pause_channel_until is not None:
                gate.provider_down(outcome.pause_channel_until)
            else:
                gate.provider_answered()
            return await self._write(delivery, outcome, lease, contact)

    async def _write(
        self, delivery: Delivery, outcome: Outcome, lease: BatchLease, contact: Contact | None
    ) -> str:
        decided_at = self._clock.now()  # metrics: when the provider answered
        written = await self._writer.write(Written(delivery, outcome, lease.token, contact))
        lease.finished(delivery.id)
        if written:
            self._metrics.outcome(delivery, outcome, decided_at)
        return outcome.kind.value if written else LEASE_LOST

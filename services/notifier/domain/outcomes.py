"""How a claimed delivery ends this attempt: the pure decisions, no I/O.

Before the hand-over: refused (no contact, no consent, opted out: failed, and the member's
fallback channel queued where one may be used), a ritual the member paused or stopped
(skipped), already answered (skipped), inside quiet hours
(deferred), its provider paused (paused). After it: sent, or per the failure: permanent
(failed; an opt-out reported by the provider also records the opt-out), transient (retried
after an exponential, jittered delay, at least the provider's Retry-After), or out of attempts
(failed, and the event that asked for it goes to the dead letters with the reason).

An ``Outcome`` is what the row becomes, the events it publishes and its side effects; the
repository commits it together with them, if the row is still under the dispatcher's lease.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from services.notifier.domain.contact import Contact
from services.notifier.domain.delivery import Delivery, DeliveryStatus
from services.notifier.domain.events import prompt_failed, prompt_sent
from services.notifier.domain.prompt_job import PromptJob
from services.notifier.domain.quiet_hours import defer_until_quiet_hours_end
from shared.contracts import Channel, Event, FailureReason
from shared.messaging.consumer import RetryPolicy

# Provider refusals that mean "this member opted out": honoured as an opt-out, not retried.
OPT_OUT_REASONS = frozenset({"recipient_opted_out"})


class DeliveryFailed(Exception):
    """The provider did not take the message. ``reason`` is a code, never a provider's text
    (it can quote the address); ``provider_down``: the provider, not this message, failed
    (unreachable, timing out, 429, 5xx, our credentials refused): its channel pauses."""

    def __init__(
        self,
        reason: str,
        permanent: bool,
        status: int | None = None,
        retry_after_s: float | None = None,
        provider_down: bool = False,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        self.status = status
        self.retry_after_s = retry_after_s
        self.provider_down = provider_down


class OutcomeKind(StrEnum):
    sent = "sent"
    deferred = "deferred"
    retried = "retried"
    failed = "failed"
    skipped = "skipped"
    paused = "paused"


@dataclass(frozen=True)
class Outcome:
    kind: OutcomeKind
    changes: Mapping[str, Any]  # the row's new column values
    events: tuple[Event, ...] = ()
    dead_letter_reason: str | None = None
    fallback: Channel | None = None
    opted_out: Channel | None = None  # the provider said the member opted out of it
    pause_channel_until: datetime | None = None


def _unsent(delivery: Delivery, status: DeliveryStatus, **changes: Any) -> Outcome:
    """Back to the queue or set aside without an attempt: the claim's count is undone."""
    kind = OutcomeKind.skipped if status is DeliveryStatus.skipped else OutcomeKind.deferred
    return Outcome(kind, {"status": status.value, "attempts": delivery.attempts - 1, **changes})


def before_send(
    delivery: Delivery,
    job: PromptJob,
    contact: Contact | None,
    answered: bool,
    now: datetime,
    held: bool = False,
) -> Outcome | None:
    """An outcome reached without sending, or None: go ahead. ``delivery`` is as claimed
    (``attempts`` counts this one). ``held``: the member paused or stopped this ritual (their
    choice, not a failure: skipped, and no fallback is tried)."""
    if contact is None:
        return failed(delivery, job, FailureReason.no_contact, now)
    if held:
        return _unsent(delivery, DeliveryStatus.skipped)
    refusal = contact.refusal(delivery.channel)
    if refusal is not None:
        return failed(delivery, job, refusal, now, contact=contact)
    if answered:
        return _unsent(delivery, DeliveryStatus.skipped)
    if contact.quiet_hours is not None:
        send_at = defer_until_quiet_hours_end(now, ZoneInfo(delivery.timezone), contact.quiet_hours)
        if send_at > now:
            return _unsent(delivery, DeliveryStatus.queued, not_before=send_at)
    return None


def paused(delivery: Delivery, until: datetime) -> Outcome:
    """Not tried: its channel's provider is down and the send that found out retries at
    ``until``. Trying every queued message against it would cost each a timeout and hold up
    the batch; instead they wait with it, and no attempt is counted against them."""
    outcome = _unsent(delivery, DeliveryStatus.queued, not_before=until)
    return Outcome(OutcomeKind.paused, outcome.changes)


def sent(delivery: Delivery, job: PromptJob, now: datetime, provider_id: str | None) -> Outcome:
    return Outcome(
        OutcomeKind.sent,
        {
            "status": DeliveryStatus.sent.value,
            "sent_at": now,
            "attempts": delivery.attempts,
            "provider_message_id": provider_id,
            "provider_state": "accepted",
            "provider_state_rank": 1,
        },
        (prompt_sent(job, delivery.channel, delivery.attempts, now),),
    )


def failed(
    delivery: Delivery,
    job: PromptJob,
    reason: FailureReason,
    now: datetime,
    status: int | None = None,
    contact: Contact | None = None,
    dead_letter_reason: str | None = None,
) -> Outcome:
    """Failed for good on this channel; the member's next usable channel, if any, is tried
    (never after a withdrawn consent: that refuses every channel)."""
    fallback = None
    if contact is not None and reason is not FailureReason.no_consent:
        fallback, _ = contact.first_usable(after=delivery.channel)
    return Outcome(
        OutcomeKind.failed,
        {
            "status": DeliveryStatus.failed.value,
            "attempts": delivery.attempts,
            "failure_reason": reason.value,
            "provider_status": status,
        },
        (prompt_failed(job, delivery.channel, reason, delivery.attempts, now, status),),
        dead_letter_reason=dead_letter_reason,
        fallback=fallback,
    )


def after_failure(
    delivery: Delivery,
    job: PromptJob,
    failure: DeliveryFailed,
    contact: Contact,
    retry: RetryPolicy,
    now: datetime,
    rng: random.Random,
) -> Outcome:
    if failure.permanent:
        opted_out = failure.reason in OPT_OUT_REASONS
        reason = FailureReason.opted_out if opted_out else FailureReason.rejected_permanently
        outcome = failed(delivery, job, reason, now, failure.status, contact)
        return replace(outcome, opted_out=delivery.channel) if opted_out else outcome
    if delivery.attempts >= retry.max_attempts:
        return failed(
            delivery,
            job,
            FailureReason.retries_exhausted,
            now,
            failure.status,
            dead_letter_reason=(
                f"retries exhausted after {delivery.attempts} attempts: {failure.reason}"
            ),
        )
    delay = retry.delay_s(delivery.attempts, rng)
    if failure.retry_after_s is not None:
        delay = max(delay, failure.retry_after_s)
    retry_at = now + timedelta(seconds=delay)
    return Outcome(
        OutcomeKind.retried,
        {
            "status": DeliveryStatus.queued.value,
            "attempts": delivery.attempts,
            "not_before": retry_at,
            "provider_status": failure.status,
        },
        pause_channel_until=retry_at if failure.provider_down else None,
    )

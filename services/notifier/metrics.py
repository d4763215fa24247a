"""The notifier's series: sends and failures by channel and reason, and how late prompts go
out (``rituals_due_to_handover_seconds``), besides the shared ones (``shared.metrics``).

Labels are channels and failure codes only: never a member, a ritual or a community.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from prometheus_client import Counter, Gauge, Histogram

from services.notifier.domain.delivery import Delivery
from services.notifier.domain.outcomes import Outcome, OutcomeKind
from shared.contracts import FailureReason
from shared.metrics import ServiceMetrics

# Seconds from an occurrence's due time to the hand-over: a healthy send is within a tick or
# two; quiet hours defer by hours; a provider outage retries over minutes to hours.
LATENESS_BUCKETS = (1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 4 * 3600, 12 * 3600, 86400)
NO_CHANNEL = "none"  # refused before a channel was chosen (no contact, no consent on any)
_FAILURE_CODES = frozenset(reason.value for reason in FailureReason)


class NotifierMetrics(ServiceMetrics):
    def __init__(self) -> None:
        super().__init__("notifier")
        self.sent = Counter(
            "rituals_notifier_sent",
            "Prompts and nudges handed over to a provider (and recorded), by channel.",
            ["channel"],
            registry=self.registry,
        )
        self.failed = Counter(
            "rituals_notifier_failed",
            "Prompts and nudges failed for good on a channel, by channel and reason (a code: "
            "no_consent, opted_out, rejected_permanently, retries_exhausted...).",
            ["channel", "reason"],
            registry=self.registry,
        )
        self.retried = Counter(
            "rituals_notifier_retried",
            "Hand-overs that failed transiently and went back to the queue, by channel.",
            ["channel"],
            registry=self.registry,
        )
        self.due_to_handover = Histogram(
            "rituals_due_to_handover_seconds",
            "Prompts: the hand-over to the provider minus the occurrence's due time, on the "
            "service's clock (quiet hours and retries included), by channel.",
            ["channel"],
            buckets=LATENESS_BUCKETS,
            registry=self.registry,
        )
        self.send_backlog = Gauge(
            "rituals_notifier_send_backlog",
            "1 while more prompts are due than the dispatcher claims at a time: the notifier is "
            "sending as fast as it can and takes due events in only as it catches up (they "
            "wait in the stream: the consumer's pending count); 0 otherwise.",
            registry=self.registry,
        )
        for reason in FailureReason:  # every series exists from the start, at 0
            for channel in ("email", "sms"):
                self.failed.labels(channel=channel, reason=reason.value)
        for channel in ("email", "sms"):
            self.sent.labels(channel=channel)

    def outcome(self, delivery: Delivery, outcome: Outcome, handed_over_at: datetime) -> None:
        """A dispatcher outcome that was committed; ``handed_over_at``: the clock when the
        provider answered (or the outcome was decided without one)."""
        channel = delivery.channel.value
        if outcome.kind is OutcomeKind.sent:
            self.sent.labels(channel=channel).inc()
            if delivery.nudge_number == 0:  # a nudge's lateness is by design
                lateness = (handed_over_at - delivery.occurrence_at).total_seconds()
                self.due_to_handover.labels(channel=channel).observe(max(0.0, lateness))
        elif outcome.kind is OutcomeKind.failed:
            reason = str(outcome.changes.get("failure_reason", "unknown"))
            self.failed.labels(channel=channel, reason=reason).inc()
        elif outcome.kind is OutcomeKind.retried:
            self.retried.labels(channel=channel).inc()

    def enqueued(self, results: Iterable[str]) -> None:
        """Results of recording due events: a failure code is a prompt refused before any
        channel was tried (no contact, no consent...)."""
        for result in results:
            if result in _FAILURE_CODES:
                self.failed.labels(channel=NO_CHANNEL, reason=result).inc()

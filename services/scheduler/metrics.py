"""The scheduler's series: occurrences and nudges emitted (staged in the outbox with the
cursor's advance), late and missed, besides the shared ones (``shared.metrics``)."""

from __future__ import annotations

from prometheus_client import Counter

from services.scheduler.handlers.emit_due import TickResult
from shared.metrics import ServiceMetrics


class SchedulerMetrics(ServiceMetrics):
    def __init__(self) -> None:
        super().__init__("scheduler")
        self.emitted = Counter(
            "rituals_scheduler_occurrences_emitted",
            "RitualDue events emitted (one per member and occurrence), late ones included.",
            registry=self.registry,
        )
        self.emitted_late = Counter(
            "rituals_scheduler_occurrences_late",
            "Occurrences (per member) emitted after their due time by more than the late threshold "
            "(downtime within the misfire grace).",
            registry=self.registry,
        )
        self.missed = Counter(
            "rituals_scheduler_occurrences_missed",
            "Occurrences (per member) missed beyond the ritual's misfire grace (recorded, "
            "not sent).",
            registry=self.registry,
        )
        self.nudges = Counter(
            "rituals_scheduler_nudges_emitted",
            "NudgeDue events emitted.",
            registry=self.registry,
        )

    def ticked(self, result: TickResult) -> None:
        self.emitted.inc(result.emitted)
        self.emitted_late.inc(result.emitted_late)
        self.missed.inc(result.missed)
        self.nudges.inc(result.nudges)

"""What a ritual is, as the scheduler reasons about it: pure data, no I/O."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from services.scheduler.domain.recurrence import (
    Schedule,
    load_zone,
    parse_exdates,
    parse_local_datetime,
)
from services.scheduler.domain.time_slots import at_slot
from shared.contracts import NudgeDueV1, RitualDueV1, RitualKind, deterministic_event_id


@dataclass(frozen=True)
class NudgePolicy:
    """One gentle reminder (or a few) if a prompt goes unanswered for ``after``."""

    after: timedelta | None
    max_nudges: int

    @property
    def enabled(self) -> bool:
        return self.after is not None and self.max_nudges > 0


@dataclass(frozen=True)
class Ritual:
    id: str
    community_id: str
    community_timezone: str
    kind: RitualKind
    rrule: str
    dtstart_local: str
    exdates: tuple[str, ...]
    pinned_to_community_zone: bool
    template_key: str
    response_window_s: int
    misfire_grace_s: int
    nudges: NudgePolicy
    version: int
    active: bool
    # Local times of day ("HH:MM") members choose among; the first is the default. Empty: the
    # one slot is DTSTART's time. Slot numbers (cursors) index this tuple from 0.
    time_slots: tuple[str, ...] = ()

    @property
    def schedule(self) -> Schedule:
        """The default slot's schedule."""
        return self.schedule_for(0)

    @property
    def slot_count(self) -> int:
        return len(self.time_slots) or 1

    def schedule_for(self, slot: int) -> Schedule:
        base = Schedule(
            self.rrule, parse_local_datetime(self.dtstart_local), parse_exdates(self.exdates)
        )
        if not self.time_slots:
            if slot != 0:
                raise IndexError(f"ritual {self.id} has one slot")
            return base
        return at_slot(base, self.time_slots[slot])

    def slot_of(self, chosen_time: str | None) -> int:
        """The slot a member who chose ``chosen_time`` gets: that one if the ritual still
        offers it, else the default (0): an operator's edit never moves a member to a time
        other than the one they picked or the default."""
        if chosen_time in self.time_slots:
            return self.time_slots.index(chosen_time)
        return 0

    @property
    def misfire_grace(self) -> timedelta:
        return timedelta(seconds=self.misfire_grace_s)

    def zone_for(self, member_timezone: str) -> str:
        """Where "09:00" is read: the member's own zone, unless the ritual is pinned."""
        return self.community_timezone if self.pinned_to_community_zone else member_timezone

    def next_occurrence(self, timezone: str, after: datetime, slot: int = 0) -> datetime | None:
        return self.schedule_for(slot).next_after(load_zone(timezone), after)

    def due_event(
        self,
        member_id: str,
        timezone: str,
        occurrence_at: datetime,
        emitted_at: datetime,
        late: bool,
    ) -> RitualDueV1:
        """The RitualDue for one member; its id is f(ritual, member, occurrence, version)."""
        return self.due_events([member_id], timezone, occurrence_at, emitted_at, late)[0]

    def due_events(
        self,
        member_ids: Sequence[str],
        timezone: str,
        occurrence_at: datetime,
        emitted_at: datetime,
        late: bool,
    ) -> list[RitualDueV1]:
        """The RitualDue of each member for one occurrence, in the order given.

        The occurrence is identified as the member sees it, by its local wall time (RFC 5545's
        RECURRENCE-ID): a member who moves to another zone on the day of an occurrence they
        already had gets the same id again, which the stream and the notifier drop. What the
        members share is worked out once: a burst is many members of few occurrences.
        """
        local = occurrence_at.astimezone(ZoneInfo(timezone))
        local_wall_time = local.replace(tzinfo=None).isoformat(timespec="minutes")
        shared = {
            "occurred_at": emitted_at,
            "ritual_id": self.id,
            "ritual_version": self.version,
            "ritual_kind": self.kind,
            "community_id": self.community_id,
            "template_key": self.template_key,
            "timezone": timezone,
            "occurrence_at": occurrence_at,
            "occurrence_local_date": local.date(),
            "respond_by": occurrence_at + timedelta(seconds=self.response_window_s),
            "late": late,
            "time_slots": list(self.time_slots),
        }
        return [
            RitualDueV1(
                event_id=deterministic_event_id(
                    "ritual.due", self.id, member_id, local_wall_time, self.version
                ),
                member_id=member_id,
                **shared,
            )
            for member_id in member_ids
        ]


def nudge_event(
    due_event_id: str,
    nudge_number: int,
    ritual_id: str,
    community_id: str,
    member_id: str,
    respond_by: datetime,
    now: datetime,
) -> NudgeDueV1:
    return NudgeDueV1(
        event_id=deterministic_event_id("nudge.due", due_event_id, nudge_number),
        occurred_at=now,
        due_event_id=due_event_id,
        nudge_number=nudge_number,
        ritual_id=ritual_id,
        community_id=community_id,
        member_id=member_id,
        respond_by=respond_by,
    )

"""What a ritual is, as the scheduler reasons about it: pure data, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from services.scheduler.domain.recurrence import Schedule, load_zone, parse_local_datetime
from shared.contracts import RitualDueV1, RitualKind, deterministic_event_id


@dataclass(frozen=True)
class Ritual:
    id: str
    community_id: str
    community_timezone: str
    kind: RitualKind
    rrule: str
    dtstart_local: str
    pinned_to_community_zone: bool
    template_key: str
    response_window_s: int
    misfire_grace_s: int
    version: int
    active: bool

    @property
    def schedule(self) -> Schedule:
        return Schedule(self.rrule, parse_local_datetime(self.dtstart_local))

    def zone_for(self, member_timezone: str) -> str:
        """Where "09:00" is read: the member's own zone, unless the ritual is pinned."""
        return self.community_timezone if self.pinned_to_community_zone else member_timezone

    def next_occurrence(self, timezone: str, after: datetime) -> datetime | None:
        return self.schedule.next_after(load_zone(timezone), after)

    def due_event(
        self,
        member_id: str,
        timezone: str,
        occurrence_at: datetime,
        emitted_at: datetime,
        late: bool,
    ) -> RitualDueV1:
        """The RitualDue for one member; its id is f(ritual, member, occurrence, version)."""
        return RitualDueV1(
            event_id=deterministic_event_id(
                "ritual.due", self.id, member_id, occurrence_at, self.version
            ),
            occurred_at=emitted_at,
            ritual_id=self.id,
            ritual_version=self.version,
            ritual_kind=self.kind,
            community_id=self.community_id,
            member_id=member_id,
            template_key=self.template_key,
            timezone=timezone,
            occurrence_at=occurrence_at,
            occurrence_local_date=occurrence_at.astimezone(ZoneInfo(timezone)).date(),
            respond_by=occurrence_at + timedelta(seconds=self.response_window_s),
            late=late,
        )

"""Request and response bodies of the scheduler API; validation errors become 422s."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from services.scheduler.domain.recurrence import (
    Schedule,
    ScheduleError,
    load_zone,
    parse_local_datetime,
)
from shared.contracts import RitualKind

SLUG = r"^[a-z0-9][a-z0-9_-]{1,63}$"


def _valid_zone(name: str) -> str:
    try:
        load_zone(name)
    except ScheduleError as error:
        raise ValueError(str(error)) from error
    return name


class CommunityIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str | None = Field(default=None, pattern=SLUG, description="Omit to have one minted.")
    name: str = Field(min_length=1, max_length=200)
    timezone: str = Field(description="IANA zone, e.g. Europe/London.")
    region_code: str = Field(
        min_length=1, max_length=32, description="Official area code, e.g. E08000035."
    )
    locale: str = Field(default="en", pattern=r"^[a-z]{2,3}(-[A-Z]{2})?$")

    _zone = field_validator("timezone")(_valid_zone)


class CommunityOut(BaseModel):
    id: str
    name: str
    timezone: str
    region_code: str
    locale: str


class RitualIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str | None = Field(default=None, pattern=SLUG)
    community_id: str = Field(pattern=SLUG)
    kind: RitualKind
    title: str = Field(min_length=1, max_length=200)
    rrule: str = Field(
        min_length=1, max_length=500, description="RFC 5545 RRULE, e.g. FREQ=WEEKLY;BYDAY=MO."
    )
    dtstart: str = Field(description="Local wall time of the first occurrence, 2027-01-04T09:00.")
    pinned_to_community_zone: bool = Field(
        default=False,
        description="Fire at the same instant for everyone (the community's zone) instead of "
        "at the same local time where each member lives.",
    )
    template_key: str = Field(default="check_in", pattern=r"^[a-z0-9_]{1,64}$")
    response_window_minutes: int = Field(default=24 * 60, ge=5, le=14 * 24 * 60)
    misfire_grace_minutes: int | None = Field(default=None, ge=0, le=7 * 24 * 60)

    @model_validator(mode="after")
    def _schedule_parses(self) -> RitualIn:
        try:
            Schedule(self.rrule, parse_local_datetime(self.dtstart))
        except ScheduleError as error:
            raise ValueError(str(error)) from error
        return self


class RitualOut(BaseModel):
    id: str
    community_id: str
    kind: RitualKind
    title: str
    rrule: str
    dtstart: str
    pinned_to_community_zone: bool
    template_key: str
    response_window_minutes: int
    misfire_grace_minutes: int
    version: int
    active: bool


class EnrolmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    community_id: str = Field(pattern=SLUG)
    member_id: str = Field(
        pattern=r"^mbr_[A-Za-z0-9]{12,40}$", description="Pseudonymous id from the notifier."
    )
    timezone: str | None = Field(
        default=None, description="The member's own IANA zone; the community's if omitted."
    )

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        return None if value is None else _valid_zone(value)


class EnrolmentOut(BaseModel):
    community_id: str
    member_id: str
    timezone: str


class UpcomingOccurrence(BaseModel):
    ritual_id: str
    timezone: str
    due_at: datetime

"""Request and response bodies of the scheduler API; validation errors become 422s."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from services.scheduler.domain.recurrence import ScheduleError, load_zone
from shared.contracts import RitualKind
from shared.contracts.communities import REGION_CODE

SLUG = r"^[a-z0-9][a-z0-9_-]{1,63}$"
MEMBER_ID = r"^mbr_[A-Za-z0-9]{12,40}$"


def valid_zone(name: str) -> str:
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
        pattern=REGION_CODE,
        description="Official area code, e.g. E08000035: releases roll communities up by it.",
    )
    locale: str = Field(default="en", pattern=r"^[a-z]{2,3}(-[A-Z]{2})?$")

    _zone = field_validator("timezone")(valid_zone)


class CommunityPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    timezone: str | None = None
    region_code: str | None = Field(default=None, pattern=REGION_CODE)
    locale: str | None = Field(default=None, pattern=r"^[a-z]{2,3}(-[A-Z]{2})?$")

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        return None if value is None else valid_zone(value)


class CommunityOut(BaseModel):
    id: str
    name: str
    timezone: str
    region_code: str
    locale: str


class ScheduleFields(BaseModel):
    """Fields shared by creating and editing a ritual (all optional in a PATCH)."""

    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(default=None, min_length=1, max_length=200)
    rrule: str | None = Field(
        default=None,
        min_length=1,
        max_length=500,
        description="RFC 5545 RRULE, e.g. FREQ=WEEKLY;BYDAY=MO. UNTIL, if any, in UTC (…Z).",
    )
    dtstart: str | None = Field(
        default=None, description="Local wall time of the first occurrence, 2027-01-04T09:00."
    )
    exdates: list[str] | None = Field(
        default=None,
        max_length=500,
        description="RFC 5545 EXDATEs as local wall times (2027-12-27T09:00): skipped.",
    )
    pinned_to_community_zone: bool | None = Field(
        default=None,
        description="Fire at one instant for everyone (the community's zone) instead of at "
        "the same local time where each member lives.",
    )
    template_key: str | None = Field(default=None, pattern=r"^[a-z0-9_]{1,64}$")
    response_window_minutes: int | None = Field(default=None, ge=5, le=14 * 24 * 60)
    misfire_grace_minutes: int | None = Field(default=None, ge=0, le=7 * 24 * 60)
    nudge_after_minutes: int | None = Field(
        default=None,
        ge=15,
        le=7 * 24 * 60,
        description="Send a gentle nudge if no answer this long after the prompt was sent.",
    )
    max_nudges: int | None = Field(default=None, ge=0, le=3)
    time_slots: list[str] | None = Field(
        default=None,
        min_length=1,
        max_length=3,
        description="Local times of day (HH:MM, distinct) members choose among, the default "
        "first: each fires on the rule's days at that time where the member lives (the "
        "community's zone if pinned). Omit (or null in an edit) for one, DTSTART's time. The "
        "rule must then fire at DTSTART's time of day (FREQ DAILY or coarser, no BYHOUR, "
        "BYMINUTE or BYSECOND).",
    )


class RitualIn(ScheduleFields):
    id: str | None = Field(default=None, pattern=SLUG)
    community_id: str = Field(pattern=SLUG)
    kind: RitualKind
    title: str = Field(min_length=1, max_length=200)
    rrule: str = Field(min_length=1, max_length=500)
    dtstart: str


# In an edit, null means "none" only where a ritual can have none; elsewhere it is refused
# (omit a field to leave it unchanged).
NULLABLE_IN_PATCH = frozenset({"exdates", "nudge_after_minutes", "time_slots"})


def _not_null_in_schema(schema: dict[str, Any]) -> None:
    """The OpenAPI of a patch says which fields take null, as the validator below does."""
    for name, spec in schema.get("properties", {}).items():
        if name in NULLABLE_IN_PATCH or "anyOf" not in spec:
            continue
        types = [option for option in spec["anyOf"] if option.get("type") != "null"]
        if len(types) == 1:
            del spec["anyOf"]
            spec.update(types[0])
        else:
            spec["anyOf"] = types
        spec.pop("default", None)


class RitualPatch(ScheduleFields):
    model_config = ConfigDict(extra="forbid", json_schema_extra=_not_null_in_schema)

    kind: RitualKind | None = None

    @field_validator("*")
    @classmethod
    def _null_only_where_meaningful(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None and info.field_name not in NULLABLE_IN_PATCH:
            raise ValueError("may not be null; omit the field to leave it unchanged")
        return value


class RitualOut(BaseModel):
    id: str
    community_id: str
    kind: RitualKind
    title: str
    rrule: str
    dtstart: str
    exdates: list[str]
    pinned_to_community_zone: bool
    template_key: str
    response_window_minutes: int
    misfire_grace_minutes: int
    nudge_after_minutes: int | None
    max_nudges: int
    time_slots: list[str] = Field(
        description="Local times of day members choose among, the default first; empty: "
        "the one time is DTSTART's."
    )
    version: int
    active: bool


class EnrolmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    community_id: str = Field(pattern=SLUG)
    member_id: str = Field(pattern=MEMBER_ID, description="Pseudonymous id from the notifier.")
    timezone: str | None = Field(
        default=None, description="The member's own IANA zone; the community's if omitted."
    )

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        return None if value is None else valid_zone(value)


class EnrolmentPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    timezone: str

    _zone = field_validator("timezone")(valid_zone)


class EnrolmentOut(BaseModel):
    community_id: str
    member_id: str
    timezone: str


class UpcomingOccurrence(BaseModel):
    ritual_id: str
    timezone: str
    slot: int = Field(description="Which of the ritual's time slots (1: the default).")
    due_at: datetime


class MissedOccurrence(BaseModel):
    ritual_id: str
    timezone: str
    occurrence_at: datetime
    ritual_version: int
    members: int
    recorded_at: datetime


class NudgeTimerOut(BaseModel):
    due_event_id: str
    member_id: str
    respond_by: datetime | None
    next_nudge_at: datetime | None
    nudges_sent: int
    answered_at: datetime | None

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from shared import subjects
from shared.contracts.base import CommunityId, Event

REGION_CODE = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$"


class CommunityChangedV1(Event):
    """A community's public facts, as the scheduler holds them now: its name and the official
    area code it belongs to (releases roll communities up to regions by it). ``active`` false:
    deleted (its past releases stay published)."""

    subject: ClassVar[str] = subjects.COMMUNITY_CHANGED

    type: Literal["community.changed"] = "community.changed"
    version: Literal[1] = 1
    community_id: CommunityId
    name: str = Field(min_length=1, max_length=200)
    region_code: str = Field(pattern=REGION_CODE)
    active: bool = True

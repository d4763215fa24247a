"""A scheduler ``rituals`` row as the benches seed it straight into the table: a check-in with
no nudges, a one-hour window and grace; only what a scenario varies is a parameter."""

from __future__ import annotations

from datetime import datetime
from typing import Any


def ritual_row(
    ritual_id: str,
    community_id: str,
    rrule: str,
    dtstart_local: str,
    created: datetime,
    title: str = "t",
) -> dict[str, Any]:
    return {
        "id": ritual_id,
        "community_id": community_id,
        "kind": "check_in",
        "title": title,
        "rrule": rrule,
        "dtstart_local": dtstart_local,
        "exdates": "",
        "pinned_to_community_zone": False,
        "template_key": "check_in",
        "response_window_s": 3600,
        "misfire_grace_s": 3600,
        "nudge_after_s": None,
        "max_nudges": 0,
        "version": 1,
        "active": True,
        "created_at": created,
        "updated_at": created,
    }

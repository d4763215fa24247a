"""A schedule that never occurs is refused at once: 422 naming ``rrule``, nothing stored, on
create and on edit."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.scheduler.harness import SchedulerHarness

NEVER = [
    "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30",  # took ~9 s, then 201
    "FREQ=HOURLY;BYMONTH=4;BYMONTHDAY=31",
    "FREQ=YEARLY;BYWEEKNO=1;BYMONTH=7",
    "FREQ=MONTHLY;BYDAY=MO;BYSETPOS=6",
    "FREQ=DAILY;INTERVAL=7;BYDAY=TU",  # DTSTART is a Monday
]
RITUAL = {
    "id": "weekly",
    "community_id": "riverside",
    "kind": "check_in",
    "title": "t",
    "rrule": "FREQ=WEEKLY",
    "dtstart": "2027-01-04T09:00",
}


def _names_rrule(payload: dict[str, Any]) -> bool:
    return any("rrule" in e["location"] and "RRULE" in str(e["message"]) for e in payload["errors"])


@pytest.mark.parametrize("rule", NEVER)
async def test_a_rule_that_never_occurs_is_refused_on_create(
    scheduler: SchedulerHarness, rule: str
) -> None:
    await scheduler.community()
    response = await scheduler.http.post("/v1/rituals", json=RITUAL | {"rrule": rule})
    assert response.status_code == 422, response.text
    assert _names_rrule(response.json()), response.text
    assert (await scheduler.http.get("/v1/rituals/weekly")).status_code == 404


async def test_a_rule_that_never_occurs_is_refused_on_edit(scheduler: SchedulerHarness) -> None:
    await scheduler.community()
    await scheduler.post("/v1/rituals", RITUAL)
    for rule in NEVER:
        response = await scheduler.http.patch("/v1/rituals/weekly", json={"rrule": rule})
        assert response.status_code == 422, response.text
        assert _names_rrule(response.json()), response.text
    assert (await scheduler.http.get("/v1/rituals/weekly")).json()["rrule"] == "FREQ=WEEKLY"

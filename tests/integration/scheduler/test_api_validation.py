"""Bad input -> 422 with the reason; nothing stored."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.scheduler.harness import SchedulerHarness, member


async def _count(scheduler: SchedulerHarness, path: str) -> int:
    response = await scheduler.http.get(path)
    assert response.status_code == 200
    return len(response.json()["items"])


@pytest.mark.parametrize(
    ("fields", "field", "reason"),
    [
        ({"rrule": "FREQ=SOMETIMES"}, "rrule", "invalid RRULE"),
        ({"rrule": "FREQ=SECONDLY"}, "rrule", "minimum for a prompt to a person is 1 h"),
        ({"rrule": "FREQ=MINUTELY;INTERVAL=30"}, "rrule", "minimum for a prompt"),
        ({"rrule": "FREQ=DAILY;BYHOUR=9;BYMINUTE=0,30"}, "rrule", "only 30 min apart"),
        ({"dtstart": "next monday at nine"}, "dtstart", "not an ISO 8601 local date-time"),
        ({"dtstart": "2027-01-04T09:00+01:00"}, "dtstart", "without an offset"),
        ({"exdates": ["2027-13-01T09:00"]}, "exdates", "EXDATE"),
        ({"community_id": "nowhere"}, "community_id", "unknown community nowhere"),
        ({"kind": "séance"}, "kind", "Input should be"),
        ({"rrule": "FREQ=DAILY;UNTIL=20270201T090000"}, "rrule", "UNTIL must be a UTC instant"),
    ],
)
async def test_invalid_rituals_are_refused_with_the_reason(
    scheduler: SchedulerHarness, fields: dict[str, Any], field: str, reason: str
) -> None:
    await scheduler.community()
    body = {
        "id": "bad",
        "community_id": "riverside",
        "kind": "check_in",
        "title": "t",
        "rrule": "FREQ=WEEKLY",
        "dtstart": "2027-01-04T09:00",
    } | fields
    response = await scheduler.http.post("/v1/rituals", json=body)
    assert response.status_code == 422, response.text
    errors = response.json()["errors"]
    assert any(field in error["location"] and reason in error["message"] for error in errors), (
        errors
    )
    assert await _count(scheduler, "/v1/rituals?community_id=riverside") == 0
    assert (await scheduler.http.get("/v1/rituals/bad")).status_code == 404


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"community_id": "nowhere", "member_id": member(1)}, "unknown community nowhere"),
        (
            {"community_id": "riverside", "member_id": member(1), "timezone": "Mars/Base"},
            "unknown time zone",
        ),
        ({"community_id": "riverside", "member_id": "ana@example.org"}, "String should match"),
        ({"community_id": "riverside", "member_id": "+447700900123"}, "String should match"),
    ],
)
async def test_invalid_enrolments_are_refused_with_the_reason(
    scheduler: SchedulerHarness, body: dict[str, Any], reason: str
) -> None:
    await scheduler.community()
    response = await scheduler.http.post("/v1/enrolments", json=body)
    assert response.status_code == 422, response.text
    assert reason in response.text
    assert await _count(scheduler, "/v1/enrolments?community_id=riverside") == 0


async def test_unknown_zone_for_a_community_is_refused(scheduler: SchedulerHarness) -> None:
    response = await scheduler.http.post(
        "/v1/communities",
        json={"id": "x1", "name": "x", "timezone": "Europe/Atlantis", "region_code": "E1"},
    )
    assert response.status_code == 422
    assert "unknown time zone" in response.text
    assert "Atlantis" not in response.text  # errors never repeat the submitted value
    assert (await scheduler.http.get("/v1/communities/x1")).status_code == 404


async def test_an_edit_to_an_invalid_schedule_is_refused_and_changes_nothing(
    scheduler: SchedulerHarness,
) -> None:
    await scheduler.community()
    await scheduler.ritual()
    response = await scheduler.http.patch("/v1/rituals/monday", json={"rrule": "FREQ=SECONDLY"})
    assert response.status_code == 422
    ritual = (await scheduler.http.get("/v1/rituals/monday")).json()
    assert ritual["rrule"] == "FREQ=WEEKLY;BYDAY=MO"
    assert ritual["version"] == 1


async def test_requests_without_the_operator_token_are_refused(scheduler: SchedulerHarness) -> None:
    response = await scheduler.http.get(
        "/v1/communities/riverside", headers={"Authorization": "Bearer nope"}
    )
    assert response.status_code == 401

"""Inputs the API fuzzing found answered with a 500; each now gets a 4xx that says why."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from services.demo.system import LocalSystem

RITUAL = {
    "id": "weekly",
    "community_id": "riverside",
    "kind": "check_in",
    "title": "Weekly",
    "rrule": "FREQ=WEEKLY;BYDAY=MO",
    "dtstart": "2027-01-04T09:00",
}
MEMBER = {
    "email": "ann@example.org",
    "prompt_consent": {"given": True, "source": "form"},
    "insights_consent": {"given": True, "source": "form"},
}


async def call(
    system: LocalSystem,
    service: str,
    method: str,
    path: str,
    body: Any = None,
    csv: str | None = None,
) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {system.tokens[service]}"}
    payload: dict[str, Any] = {"json": body}
    if csv is not None:
        headers["Content-Type"] = "text/csv"
        payload = {"data": csv.encode()}
    async with (
        aiohttp.ClientSession() as http,
        http.request(
            method, f"http://127.0.0.1:{system.ports[service]}{path}", headers=headers, **payload
        ) as response,
    ):
        return response.status, await response.json(content_type=None)


def reasons(payload: Any) -> dict[str, str]:
    """``{field: message}`` from a 422 problem."""
    return {str(error["location"][-1]): error["message"] for error in payload["errors"]}


async def community(system: LocalSystem) -> None:
    """Riverside, in London, with a member in New York (west of UTC)."""
    body = {"id": "riverside", "name": "R", "timezone": "Europe/London", "region_code": "E1"}
    assert (await call(system, "scheduler", "POST", "/v1/communities", body))[0] == 201
    enrolment = {
        "community_id": "riverside",
        "member_id": "mbr_000000000001",
        "timezone": "America/New_York",
    }
    assert (await call(system, "scheduler", "POST", "/v1/enrolments", enrolment))[0] == 201


@pytest.mark.parametrize("dtstart", ["9999-12-31T23:59", "0001-01-01T00:00", "1899-12-31T09:00"])
async def test_a_ritual_starting_at_the_ends_of_the_calendar_is_refused(
    system: LocalSystem, dtstart: str
) -> None:
    await community(system)
    status, payload = await call(
        system, "scheduler", "POST", "/v1/rituals", RITUAL | {"dtstart": dtstart}
    )
    assert status == 422, payload
    assert "between" in reasons(payload)["dtstart"]


@pytest.mark.parametrize("field", ["rrule", "dtstart", "title", "kind", "response_window_minutes"])
async def test_a_ritual_edit_that_nulls_a_required_field_is_refused(
    system: LocalSystem, field: str
) -> None:
    await community(system)
    assert (await call(system, "scheduler", "POST", "/v1/rituals", RITUAL))[0] == 201
    status, payload = await call(system, "scheduler", "PATCH", "/v1/rituals/weekly", {field: None})
    assert status == 422, payload
    assert "null" in reasons(payload)[field]
    status, ritual = await call(system, "scheduler", "GET", "/v1/rituals/weekly")
    assert status == 200
    assert ritual["version"] == 1


async def test_a_member_edit_that_nulls_the_preferred_channel_is_refused(
    system: LocalSystem,
) -> None:
    status, member = await call(system, "notifier", "POST", "/v1/members", MEMBER)
    assert status == 201, member
    path = f"/v1/members/{member['id']}"
    status, payload = await call(
        system, "notifier", "PATCH", path, {"preferred_channel": None, "fallback_channel": "email"}
    )
    assert status == 422, payload
    assert "null" in reasons(payload)["preferred_channel"]
    assert (await call(system, "notifier", "GET", path))[1]["preferred_channel"] == "email"


async def test_a_member_edit_making_the_fallback_the_preferred_channel_is_refused(
    system: LocalSystem,
) -> None:
    status, member = await call(system, "notifier", "POST", "/v1/members", MEMBER)
    assert status == 201, member
    path = f"/v1/members/{member['id']}"
    status, payload = await call(system, "notifier", "PATCH", path, {"fallback_channel": "email"})
    assert status == 422, payload
    assert "differ" in reasons(payload)["fallback_channel"]


async def test_a_schedule_that_runs_past_year_9999_ends_there(system: LocalSystem) -> None:
    await community(system)
    # The first occurrence is skipped; the next is 9999-12-31 23:59 in New York, an instant in
    # year 10000 UTC that Python cannot hold: it overflowed (a 500). The schedule ends instead.
    body = RITUAL | {
        "rrule": "FREQ=YEARLY;INTERVAL=7972",
        "dtstart": "2027-12-31T23:59",
        "exdates": ["2027-12-31T23:59"],
    }
    status, payload = await call(system, "scheduler", "POST", "/v1/rituals", body)
    assert status == 201, payload
    status, preview = await call(
        system, "scheduler", "GET", "/v1/rituals/weekly/preview?timezone=America/New_York"
    )
    assert (status, preview) == (200, [])


async def test_a_ritual_edit_may_clear_exdates_and_nudges_with_null(system: LocalSystem) -> None:
    await community(system)
    body = RITUAL | {"exdates": ["2027-01-11T09:00"], "nudge_after_minutes": 60}
    assert (await call(system, "scheduler", "POST", "/v1/rituals", body))[0] == 201
    status, ritual = await call(
        system,
        "scheduler",
        "PATCH",
        "/v1/rituals/weekly",
        {"exdates": None, "nudge_after_minutes": None},
    )
    assert status == 200, ritual
    assert ritual["exdates"] == []
    assert ritual["nudge_after_minutes"] is None


@pytest.mark.parametrize(
    "csv",
    [
        "\u00b26\rLl",  # a bare carriage return inside an unquoted field
        "email,prompt_consent,insights_consent\nann@example.org,yes,yes\nb@example.org,yes,y\res\n",
    ],
)
async def test_an_import_that_is_not_valid_csv_is_refused_whole(
    system: LocalSystem, csv: str
) -> None:
    status, payload = await call(system, "notifier", "POST", "/v1/members/import", csv=csv)
    assert status == 422, payload
    assert "not valid CSV" in payload["detail"]
    status, payload = await call(system, "notifier", "POST", "/v1/members", MEMBER)
    assert status == 201, "the valid row before the broken one was not stored"


async def test_the_nul_character_is_refused_wherever_it_comes(system: LocalSystem) -> None:
    """PostgreSQL cannot store U+0000: it was a 500 there (and stored on SQLite)."""
    body = {"id": "riverside", "name": "R", "timezone": "Europe/London", "region_code": "\x00"}
    status, payload = await call(system, "scheduler", "POST", "/v1/communities", body)
    assert status == 422, payload
    assert "NUL" in reasons(payload)["region_code"]
    status, payload = await call(
        system,
        "notifier",
        "PATCH",
        "/v1/members/mbr_x",
        {"locale": "en", "email": None, "quiet_hours": None, "phone": "0\x00"},
    )
    assert status == 422, payload
    assert "NUL" in reasons(payload)["phone"]
    status, payload = await call(system, "scheduler", "GET", "/v1/rituals/week%00ly")
    assert status == 422, payload
    assert "NUL" in reasons(payload)["path"]
    status, payload = await call(system, "scheduler", "GET", "/v1/enrolments?community_id=%00")
    assert status == 422, payload
    assert "NUL" in reasons(payload)["community_id"]
    status, payload = await call(
        system, "notifier", "POST", "/v1/members/import", csv="email\n\x00@example.org\n"
    )
    assert status == 422, payload
    assert (await call(system, "scheduler", "GET", "/v1/communities/riverside"))[0] == 404


async def test_json_nested_past_the_parsers_limit_is_refused(system: LocalSystem) -> None:
    # json.loads raised RecursionError on this, in FastAPI and in our middleware: a 500.
    deep = "[" * 30_000 + "]" * 30_000  # within the 64 KiB body limit
    for service, path in (("scheduler", "/v1/communities"), ("notifier", "/v1/members")):
        headers = {
            "Authorization": f"Bearer {system.tokens[service]}",
            "Content-Type": "application/json",
        }
        async with (
            aiohttp.ClientSession() as http,
            http.post(
                f"http://127.0.0.1:{system.ports[service]}{path}", headers=headers, data=deep
            ) as response,
        ):
            assert response.status == 422
            assert "nested more than 64 levels" in (await response.text())
    # Brackets inside strings are text, not nesting.
    body = {"id": "c1", "name": "[" * 200, "timezone": "UTC", "region_code": "E1"}
    assert (await call(system, "scheduler", "POST", "/v1/communities", body))[0] == 201

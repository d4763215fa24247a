"""Lists come a page at a time behind a cursor; a 201 says where the new thing is."""

from __future__ import annotations

from typing import Any

from services.demo.system import LocalSystem
from tests.integration.http_edge.support import PROBLEM_JSON, call

ZONES = ("Europe/London", "Europe/Madrid", "America/New_York", "Asia/Tokyo", "UTC")


def community(number: int) -> dict[str, Any]:
    return {
        "id": f"c{number:02d}",
        "name": f"Community {number}",
        "timezone": ZONES[number % len(ZONES)],
        "region_code": "E08000035",
    }


def ritual(community_id: str, number: int) -> dict[str, Any]:
    return {
        "id": f"{community_id}-r{number}",
        "community_id": community_id,
        "kind": "check_in",
        "title": "Monday check-in",
        "rrule": "FREQ=WEEKLY;BYDAY=MO",
        "dtstart": "2027-01-04T09:00",
    }


async def created(system: LocalSystem, listener: str, path: str, body: Any) -> dict[str, Any]:
    """POSTs ``body``: a 201 whose Location reads back the same resource."""
    answer = await call(system, listener, "POST", path, json_body=body)
    assert answer.status == 201, answer.text
    location = answer.headers["Location"]
    assert location.startswith(path + "/"), location
    again = await call(system, listener, "GET", location)
    assert again.status == 200, (location, again.text)
    assert again.json() == answer.json()
    resource: dict[str, Any] = answer.json()
    return resource


async def every_page(system: LocalSystem, listener: str, path: str, limit: int) -> list[Any]:
    items: list[Any] = []
    query = f"{path}{'&' if '?' in path else '?'}limit={limit}"
    answer = await call(system, listener, "GET", query)
    while True:
        assert answer.status == 200, answer.text
        page = answer.json()
        assert set(page) == {"items", "next_cursor"}
        assert len(page["items"]) <= limit
        items += page["items"]
        if page["next_cursor"] is None:
            assert "Link" not in answer.headers
            return items
        assert len(page["items"]) == limit
        link = answer.headers["Link"]
        assert link.startswith("<"), link
        assert link.endswith('>; rel="next"'), link
        answer = await call(system, listener, "GET", link[1 : link.index(">")])


async def test_scheduler_lists_are_pages_and_creations_have_locations(
    system: LocalSystem,
) -> None:
    for number in range(5):
        await created(system, "scheduler", "/v1/communities", community(number))
    for number in range(3):
        await created(system, "scheduler", "/v1/rituals", ritual("c01", number))
    await created(system, "scheduler", "/v1/rituals", ritual("c02", 0))
    member = await created(
        system,
        "notifier",
        "/v1/members",
        {
            "email": "ann@example.org",
            "prompt_consent": {"given": True, "source": "form"},
            "insights_consent": {"given": False, "source": "form"},
        },
    )
    enrolment = {"community_id": "c01", "member_id": member["id"]}
    assert (await created(system, "scheduler", "/v1/enrolments", enrolment))["timezone"]

    listed = await every_page(system, "scheduler", "/v1/communities", limit=2)
    assert [c["id"] for c in listed] == [f"c{n:02d}" for n in range(5)]
    rituals = await every_page(system, "scheduler", "/v1/rituals?community_id=c01", limit=2)
    assert [r["id"] for r in rituals] == ["c01-r0", "c01-r1", "c01-r2"]
    assert len(await every_page(system, "scheduler", "/v1/rituals", limit=3)) == 4
    upcoming = await every_page(system, "scheduler", "/v1/schedule/upcoming", limit=1)
    due = [row["due_at"] for row in upcoming]
    # A cursor per ritual and zone where members live: c01's three, in its one member's zone.
    assert due == sorted(due)
    assert [(row["ritual_id"], row["timezone"]) for row in upcoming] == [
        (f"c01-r{n}", ZONES[1]) for n in range(3)
    ]
    enrolments = await every_page(system, "scheduler", "/v1/enrolments", limit=1)
    assert enrolments == [{**enrolment, "timezone": ZONES[1]}]
    for path in ("/v1/rituals/c01-r0/missed", "/v1/rituals/c01-r0/nudge-timers"):
        assert await every_page(system, "scheduler", path, limit=5) == []
        assert (
            await call(system, "scheduler", "GET", path.replace("c01-r0", "nope"))
        ).status == 404


async def test_a_cursor_is_refused_when_altered_or_replayed_with_other_filters(
    system: LocalSystem,
) -> None:
    await created(system, "scheduler", "/v1/communities", community(1))
    for number in range(3):
        await created(system, "scheduler", "/v1/rituals", ritual("c01", number))
    first = await call(system, "scheduler", "GET", "/v1/rituals?community_id=c01&limit=1")
    cursor = first.json()["next_cursor"]
    assert cursor
    for query, fragment in (
        (f"/v1/rituals?cursor={cursor}", "other filters"),
        (f"/v1/rituals?community_id=c02&cursor={cursor}", "other filters"),
        (f"/v1/rituals?community_id=c01&cursor={cursor[:-2]}xx", "cursor"),
        ("/v1/rituals?cursor=not-base64!", "malformed"),
        (f"/v1/communities?cursor={cursor}", "other filters"),
    ):
        answer = await call(system, "scheduler", "GET", query)
        assert answer.status == 400, (query, answer.text)
        assert answer.content_type == PROBLEM_JSON
        assert fragment in answer.json()["detail"], answer.json()
    for limit in ("0", "501", "x"):
        answer = await call(system, "scheduler", "GET", f"/v1/communities?limit={limit}")
        assert (limit, answer.status, answer.content_type) == (limit, 422, PROBLEM_JSON)


async def test_notifier_and_insights_lists_and_locations(system: LocalSystem) -> None:
    for key in ("gratitude", "check_in"):
        body = {"text_body": "How was your week? Reply 1 to 5."}
        answer = await call(
            system, "notifier", "PUT", f"/v1/templates/{key}/en/sms", json_body=body
        )
        assert answer.status == 200, answer.text
    templates = await every_page(system, "notifier", "/v1/templates", limit=1)
    assert [t["key"] for t in templates] == ["check_in", "gratitude"]

    release = {"cadence": "week", "period": "2027-W01"}
    answer = await call(system, "insights", "POST", "/v1/releases", json_body=release)
    assert answer.status == 201, answer.text
    assert answer.json()["id"] == "week:2027-W01"
    location = answer.headers["Location"]
    assert location == "/v1/releases/week%3A2027-W01"
    stored = await call(system, "insights", "GET", location)
    assert stored.status == 200
    assert stored.json()["id"] == "week:2027-W01"
    assert [r["id"] for r in await every_page(system, "insights", "/v1/releases", 1)] == [
        "week:2027-W01"
    ]
    missing = await call(system, "insights", "GET", "/v1/releases/week%3A2030-W01")
    assert (missing.status, missing.content_type) == (404, PROBLEM_JSON)

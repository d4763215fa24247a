"""Four weekly check-ins through the real path, to released figures analysts can read: the
scheduled releases, the API (JSON, CSV, areas, catalogue), its access rules, and nothing in it
that could identify anyone."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp

from services.demo.scenario import Person, answer, set_up_weekly_check_in
from services.demo.system import LocalSystem
from services.insights.domain.indicators import Cadence, for_cadence
from services.notifier.domain.pseudonyms import respondent_key
from tests.support import eventually, read_database

MONDAY_0900 = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)
PEOPLE = tuple(
    Person(f"P{n}", f"p{n}@riverside.example", "Europe/London", shares_answers=n != 5)
    for n in range(6)
)
WEEKS = ("2027-W01", "2027-W02", "2027-W03", "2027-W04")
IDENTIFYING = re.compile(r"mbr_|rk_|@|\+44")


async def _get(system: LocalSystem, listener: str, path: str, token: str | None) -> tuple[int, str]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (
        aiohttp.ClientSession() as http,
        http.get(system.url(listener) + path, headers=headers) as response,
    ):
        return response.status, await response.text()


async def _released(system: LocalSystem, expected: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = await system.clients["insights-analyst"].get_all("/v1/periods")
    return rows if len(rows) >= expected else []


async def test_four_weeks_become_weekly_and_period_releases_analysts_can_read(
    system: LocalSystem,
) -> None:
    community = await set_up_weekly_check_in(system, PEOPLE)
    async with aiohttp.ClientSession() as browser:
        for week in range(4):
            await system.advance_to(MONDAY_0900 + timedelta(weeks=week))
            await system.smtp.wait_for(len(PEOPLE) * (week + 1))
            for n, person in enumerate(PEOPLE):
                if (n + week) % 3 == 2:
                    continue  # skips a week now and then
                # P0 answers 1 ("often lonely") in week 1, then 4: the period keeps the latest.
                value = (1 if week == 0 else 4) if n == 0 else 1 + (n + week) % 5
                await answer(browser, system.smtp.to(person.email)[-1], value)
    await system.close_week("2027-W04")
    releases = await eventually(lambda: _released(system, 5), timeout_s=30)
    assert sorted(str(r["id"]) for r in releases) == [
        "period:2027-P01",
        *(f"week:{w}" for w in WEEKS),
    ]

    # The period summary holds P0's latest anchor answer, under a key for the period alone.
    notifier = await read_database(system.database_for, "notifier")
    seed = next(
        row["pseudonym_seed"]
        for row in notifier["contacts"]
        if row["member_id"] == community.member_ids[PEOPLE[0].email]
    )
    insights = await read_database(system.database_for, "insights")
    (p0,) = [
        row
        for row in insights["period_facts"]
        if row["respondent_key"] == respondent_key(seed, "2027-P01")
    ]
    assert (p0["anchor_value"], p0["answered"]) == (4, True)
    weekly_keys = {row["respondent_key"] for row in insights["response_facts"]}
    assert not weekly_keys & {row["respondent_key"] for row in insights["period_facts"]}
    assert len(insights["period_facts"]) == 5  # the five who share, once each

    analyst = system.tokens["insights-analyst"]
    status, body = await _get(system, "insights-analyst", "/v1/values?period=2027-P01", analyst)
    assert status == 200
    assert {(row["area_type"], row["area"]) for row in _json(body)["items"]} == {
        ("community", "riverside"),
        ("region", "E08000035"),
    }
    status, body = await _get(
        system, "insights-analyst", "/v1/values.csv?cadence=week&area_type=community", analyst
    )
    assert status == 200
    table = list(csv.DictReader(io.StringIO(body)))
    assert {row["period"] for row in table} == set(WEEKS)
    assert list(table[0]) == [
        "area",
        "area_type",
        "period",
        "indicator",
        "value",
        "lower",
        "upper",
        "noisy_n",
        "flag",
        "method_version",
    ]
    # Pages of 4 follow next_cursor to the end: every value once, in the order of one read.
    everything = await system.clients["insights-analyst"].get_all("/v1/values")
    weekly, periodic = len(for_cadence(Cadence.week)), len(for_cadence(Cadence.period))
    assert len(everything) == (4 * weekly + periodic) * 2  # a community and its region
    paged: list[dict[str, Any]] = []
    query = "/v1/values?limit=4"
    while True:
        page = _json((await _get(system, "insights-analyst", query, analyst))[1])
        assert len(page["items"]) <= 4
        paged += page["items"]
        if page["next_cursor"] is None:
            break
        query = f"/v1/values?limit=4&cursor={page['next_cursor']}"
    assert paged == everything
    # The areas, a page each, in the order and with the names the values use.
    first = _json((await _get(system, "insights-analyst", "/v1/areas?limit=1", analyst))[1])
    assert first["items"] == [
        {
            "id": "riverside",
            "area_type": "community",
            "name": "Riverside Neighbours",
            "region_code": "E08000035",
            "active": True,
            "communities": None,
        }
    ]
    second = _json(
        (
            await _get(
                system,
                "insights-analyst",
                f"/v1/areas?limit=1&cursor={first['next_cursor']}",
                analyst,
            )
        )[1]
    )
    assert [(a["area_type"], a["id"], a["communities"]) for a in second["items"]] == [
        ("region", "E08000035", 1)
    ]
    assert second["next_cursor"] is None
    regions = _json(
        (await _get(system, "insights-analyst", "/v1/areas?area_type=region", analyst))[1]
    )
    assert [a["id"] for a in regions["items"]] == ["E08000035"]
    status, body = await _get(
        system,
        "insights-analyst",
        f"/v1/areas?area_type=region&cursor={first['next_cursor']}",
        analyst,
    )
    assert status == 400
    assert "other filters" in _json(body)["detail"]
    # Hostile input is refused with a reason, never served unbounded.
    for query, refused in (
        ("limit=100000", 422),
        ("limit=0", 422),
        ("area_type=community%27%20OR%201=1", 422),
        ("cursor=" + "A" * 5000, 400),
        ("cursor=not-ours", 400),
    ):
        status, body = await _get(system, "insights-analyst", f"/v1/areas?{query}", analyst)
        assert status == refused, (query, body)
        assert _json(body)["detail"], query

    # Every answer an analyst can get says nothing about anyone.
    for path in (
        "/v1/areas",
        "/v1/periods",
        "/v1/indicators",
        "/v1/values?limit=500",
        "/v1/values.csv",
        "/methodology",
    ):
        status, body = await _get(system, "insights-analyst", path, analyst)
        assert status == 200, path
        assert not IDENTIFYING.search(body), path
    status, body = await _get(system, "insights-analyst", "/methodology", None)
    assert status == 200  # how the figures are made is public
    assert "participant-reported" in body
    async with (
        aiohttp.ClientSession() as http,
        http.get(system.url("insights-analyst") + "/methodology") as page,
    ):
        assert page.headers["Content-Security-Policy"].startswith("default-src 'none'")


async def test_access_to_releases_is_the_analysts_and_commands_the_operators(
    system: LocalSystem,
) -> None:
    analyst, operator = system.tokens["insights-analyst"], system.tokens["insights"]
    assert (await _get(system, "insights-analyst", "/v1/values", None))[0] == 401
    assert (await _get(system, "insights-analyst", "/v1/values", operator))[0] == 401
    assert (await _get(system, "insights-analyst", "/v1/values", analyst))[0] == 200
    request = {"cadence": "week", "period": "2027-W01"}
    async with aiohttp.ClientSession() as http:
        for token, expected in ((analyst, 401), (operator, 201), (operator, 200)):
            async with http.post(
                system.url("insights") + "/v1/releases",
                json=request,
                headers={"Authorization": f"Bearer {token}"},
            ) as response:
                assert response.status == expected, token == operator
        async with http.post(
            system.url("insights") + "/v1/releases",
            json={"cadence": "period", "period": "2027-W01"},
            headers={"Authorization": f"Bearer {operator}"},
        ) as response:
            assert response.status == 422
            assert "a period release a period" in (await response.json())["detail"]


def _json(body: str) -> Any:
    return json.loads(body)

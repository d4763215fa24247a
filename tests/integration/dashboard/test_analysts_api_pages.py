"""The analysts' lists are pages like every other list (``items`` and ``next_cursor``,
``limit`` and ``cursor``, ``Link: <…>; rel="next"``), and the CSV file follows the same cursor,
over the example releases stored straight into insights' tables."""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx

from tests.integration.dashboard.conftest import ANALYST_TOKEN, Client
from tests.integration.dashboard.stored_releases import RIVERSIDE, WEEKS

AUTH = {"Authorization": f"Bearer {ANALYST_TOKEN}"}


async def every_page(http: httpx.AsyncClient, path: str, limit: int) -> list[Any]:
    """Every item, following the Link header from the first page of ``limit``."""
    items: list[Any] = []
    answer = await http.get(f"{path}{'&' if '?' in path else '?'}limit={limit}", headers=AUTH)
    while True:
        assert answer.status_code == 200, answer.text
        page = answer.json()
        assert set(page) == {"items", "next_cursor"}
        items += page["items"]
        if page["next_cursor"] is None:
            assert "link" not in answer.headers
            return items
        assert len(page["items"]) == limit
        link = answer.headers["link"]
        assert link.endswith('>; rel="next"'), link
        answer = await http.get(link[1 : link.index(">")], headers=AUTH)


async def test_periods_indicators_and_values_come_a_page_at_a_time(analysts: Client) -> None:
    async with analysts() as http:
        periods = await every_page(http, "/v1/periods", limit=2)
        assert [p["period"] for p in periods] == sorted([*WEEKS, "2027-P01"])
        indicators = await every_page(http, "/v1/indicators", limit=3)
        assert [i["number"] for i in indicators] == list(range(1, 11))
        whole = await http.get(f"/v1/values?area={RIVERSIDE}&limit=500", headers=AUTH)
        values = whole.json()["items"]
        assert len(values) >= 6, values
        assert whole.json()["next_cursor"] is None
        assert await every_page(http, f"/v1/values?area={RIVERSIDE}", limit=4) == values


async def test_the_csv_follows_the_link_to_the_same_rows(analysts: Client) -> None:
    async with analysts() as http:
        values = (await http.get("/v1/values?limit=500", headers=AUTH)).json()["items"]
        rows: list[dict[str, str]] = []
        path: str | None = "/v1/values.csv?limit=5"
        files = 0
        while path is not None:
            answer = await http.get(path, headers=AUTH)
            assert answer.status_code == 200, answer.text
            files += 1
            rows += list(csv.DictReader(io.StringIO(answer.text)))
            link = answer.headers.get("link")
            path = link[1 : link.index(">")] if link else None
    assert files > 1
    assert [(r["period"], r["area"], r["indicator"]) for r in rows] == [
        (v["period"], v["area"], v["indicator"]) for v in values
    ]


async def test_a_cursor_is_for_its_own_filters(analysts: Client) -> None:
    async with analysts() as http:
        first = await http.get(f"/v1/values?area={RIVERSIDE}&limit=1", headers=AUTH)
        cursor = first.json()["next_cursor"]
        assert cursor
        for query in (
            f"/v1/values?cursor={cursor}",
            f"/v1/values.csv?area=hillside&cursor={cursor}",
            f"/v1/values?area={RIVERSIDE}&cursor={cursor[:-3]}xyz",
            "/v1/periods?cursor=not-ours",
        ):
            answer = await http.get(query, headers=AUTH)
            assert answer.status_code == 400, (query, answer.text)
            assert answer.headers["content-type"].startswith("application/problem+json")
        assert (await http.get("/v1/values?limit=501", headers=AUTH)).status_code == 422
        assert (await http.get("/v1/values.csv?limit=50001", headers=AUTH)).status_code == 422

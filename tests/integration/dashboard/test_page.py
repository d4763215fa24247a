"""What the dashboard shows: the chart (line, band, gaps with their flag, legend), the table of
stored values, the caveat and the methodology link; its choices, its bounds, and its 4xx."""

from __future__ import annotations

from datetime import date

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.insights.adapters.release_store import ValueFilter, read_values
from services.insights.adapters.tables import communities, prompted_facts, response_facts
from services.insights.domain.indicators import Cadence
from services.insights.handlers.release import ReleasePolicy, compute_release
from shared.clock import ManualClock
from shared.weeks import weeks_between
from tests.integration.dashboard.conftest import ANALYST_TOKEN, Client, open_analysts
from tests.integration.dashboard.html_tree import Element, parse
from tests.integration.dashboard.stored_releases import (
    REGION,
    RIVERSIDE,
    RIVERSIDE_WEEKS,
    WEEKS,
    StoredValue,
    expected_table,
    loneliness,
    store_communities,
    store_releases,
)

pytestmark = pytest.mark.database

BEARER = {"Authorization": f"Bearer {ANALYST_TOKEN}"}
PROBLEM_JSON = "application/problem+json"


async def page_of(http: httpx.AsyncClient, query: str) -> Element:
    answer = await http.get(f"/dashboard?{query}", headers=BEARER)
    assert answer.status_code == 200, answer.text
    return parse(answer.text)


def table_rows(tree: Element) -> list[list[str]]:
    body = tree.find("table").find("tbody")
    return [
        [cell.text() for cell in row.elements() if cell.tag in ("th", "td")]
        for row in body.find_all("tr")
    ]


async def test_the_chart_and_the_table_show_the_stored_values(analysts: Client) -> None:
    async with analysts() as http:
        tree = await page_of(http, "area=community:riverside&indicator=chronic_loneliness")

    svg = tree.find("svg")
    assert svg.attrs["role"] == "img"
    title, desc = svg.child("title"), svg.child("desc")
    assert svg.attrs["aria-labelledby"] == f"{title.attrs['id']} {desc.attrs['id']}"
    assert svg.elements()[0] is title
    assert title.text() == "Chronic loneliness, Riverside (riverside), weekly"
    assert "1 withheld (c)" in desc.text()
    # The line and its band break at the gaps: W01-W02, then W05-W06.
    lines = svg.find_all("polyline", "value-line")
    bands = svg.find_all("polygon", "band")
    assert [len(line.attrs["points"].split()) for line in lines] == [2, 2]
    assert [len(band.attrs["points"].split()) for band in bands] == [4, 4]
    gaps = svg.find_all("g", "gap")
    assert [
        (g.attrs["data-period"], g.attrs["data-flag"], g.find("text").text()) for g in gaps
    ] == [
        ("2027-W03", "c", "c"),
        ("2027-W04", "x", "x"),
    ]
    assert [p.attrs["data-period"] for p in svg.find_all("g", "unreliable")] == ["2027-W02"]
    legend = svg.find("g", "legend").text()
    for words in ("95% interval", "u: low reliability", "c: withheld", "x: not released"):
        assert words in legend

    table = tree.find("table")
    assert "released values, 95% intervals and flags" in table.find("caption").text()
    header = table.find("thead").find_all("th")
    assert [th.attrs.get("scope") for th in header] == ["col"] * 6
    assert [th.text() for th in header] == [
        "Period",
        "Value",
        "Lower (95%)",
        "Upper (95%)",
        "Noisy n",
        "Flag",
    ]
    assert all(row.elements()[0].attrs.get("scope") == "row" for row in table.find_all("tr")[1:])
    stored = {value.period: value for value in RIVERSIDE_WEEKS}
    assert table_rows(tree) == expected_table(stored, WEEKS)

    text = tree.text()
    assert "not population prevalence" in text
    assert "participant-reported" in text
    assert [a.attrs["href"] for a in tree.find_all("a")] == ["/methodology"]


async def test_the_picker_offers_every_area_and_indicator_and_keeps_the_choice(
    analysts: Client,
) -> None:
    async with analysts() as http:
        tree = await page_of(http, f"area=region:{REGION}&indicator=participation&cadence=period")
    form = tree.find("form", "pick")
    assert (form.attrs["method"], form.attrs["action"]) == ("get", "/dashboard")
    selects = {select.attrs["name"]: select for select in form.find_all("select")}
    areas = {o.attrs["value"]: "selected" in o.attrs for o in selects["area"].find_all("option")}
    assert areas == {
        "community:hillside": False,
        "community:riverside": False,
        f"region:{REGION}": True,
    }
    indicator = selects["indicator"]
    chosen = [o.attrs["value"] for o in indicator.find_all("option") if "selected" in o.attrs]
    assert chosen == ["participation"]
    # the whole catalogue, in its order: indicators 1-10 (8 is WHO-5 poor wellbeing)
    assert [o.attrs["value"] for o in indicator.find_all("option")] == [
        "chronic_loneliness",
        "ucla_lonely",
        "emotional_support",
        "informational_support",
        "practical_support_low",
        "belonging",
        "regular_contact",
        "poor_wellbeing",
        "participation",
        "signposting",
    ]


async def test_a_region_shows_its_own_released_values(analysts: Client) -> None:
    async with analysts() as http:
        tree = await page_of(http, f"area=region:{REGION}&indicator=chronic_loneliness")
    region = StoredValue(
        "2027-W01", "region", REGION, "chronic_loneliness", 25.0, 20.0, 30.0, 60, 240, None
    )
    assert table_rows(tree) == expected_table({"2027-W01": region}, WEEKS)


async def test_an_indicator_not_released_weekly_shows_its_4_weekly_releases(
    analysts: Client,
) -> None:
    async with analysts() as http:
        tree = await page_of(http, "area=community:riverside&indicator=belonging&cadence=week")
        counted = await page_of(
            http, "area=community:riverside&indicator=signposting&cadence=period"
        )
    assert (
        "is not released weekly: showing its 4-weekly releases" in tree.find("p", "notice").text()
    )
    assert (
        tree.find("svg").child("title").text()
        == "Community belonging, Riverside (riverside), 4-weekly"
    )
    assert table_rows(tree) == [["2027-P01", "61.3%", "52.0%", "70.1%", "150", ""]]
    # A count is in people, not percent.
    assert table_rows(counted) == [["2027-P01", "14", "0", "33", "14", "u"]]


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("area=riverside", 422),  # no area type
        ("area=community:../../etc/passwd", 422),
        ("area=community:" + "r" * 80, 422),
        ("area=street:riverside", 422),
        ("indicator=Chronic%20Loneliness", 422),
        ("indicator=" + "a" * 49, 422),
        ("cadence=daily", 422),
        ("area=community:atlantis", 404),  # well formed, but no such area
        ("area=region:XX999", 404),
        ("indicator=happiness", 404),
    ],
)
async def test_bad_parameters_are_4xx_problems_that_do_not_echo_them(
    analysts: Client, query: str, status: int
) -> None:
    async with analysts() as http:
        answer = await http.get(f"/dashboard?{query}", headers=BEARER)
    assert answer.status_code == status
    assert answer.headers["content-type"] == PROBLEM_JSON
    submitted = query.split("=", 1)[1].replace("%20", " ")
    assert submitted not in answer.text
    assert submitted.split(":")[-1] not in answer.text


async def test_a_too_long_token_is_refused_without_echo(analysts: Client) -> None:
    token = "t0k3n" * 200  # 1000 characters
    async with analysts() as http:
        answer = await http.post("/dashboard/sign-in", data={"token": token})
    assert answer.status_code == 422
    assert answer.headers["content-type"] == PROBLEM_JSON
    assert "t0k3n" not in answer.text


@pytest.mark.parametrize(("cadence", "most"), [("week", 104), ("period", 26)])
async def test_a_chart_holds_at_most_two_years_of_releases(
    database: async_sessionmaker[AsyncSession], clock: ManualClock, cadence: str, most: int
) -> None:
    if cadence == "week":
        periods = tuple(weeks_between(date(2025, 1, 6), date(2027, 3, 1)))
    else:
        periods = tuple(
            f"{year}-P{number:02d}" for year in (2025, 2026, 2027) for number in range(1, 14)
        )
    assert len(periods) > most
    values = tuple(
        loneliness(period, RIVERSIDE, 20.0 + i % 7, None) for i, period in enumerate(periods)
    )
    await store_communities(database, {RIVERSIDE: "Riverside"})
    await store_releases(database, periods, values)
    async with open_analysts(database, clock) as http:
        tree = await page_of(http, f"area=community:riverside&cadence={cadence}")
    shown = {value.period: value for value in values}
    assert table_rows(tree) == expected_table(shown, periods[-most:])
    assert len(tree.find("svg").find_all("g", "point")) == most


async def test_with_nothing_released_yet_the_page_says_so(
    database: async_sessionmaker[AsyncSession], clock: ManualClock
) -> None:
    async with open_analysts(database, clock) as http:
        tree = await page_of(http, "")
    assert "No weekly values have been released for this area yet." in tree.text()
    assert not tree.find_all("svg")
    assert not tree.find_all("table")
    await store_communities(database, {RIVERSIDE: "Riverside"})
    async with open_analysts(database, clock) as http:
        tree = await page_of(http, "area=community:riverside")
    assert "No weekly values have been released for this area yet." in tree.text()


async def test_names_are_escaped(
    example: async_sessionmaker[AsyncSession], clock: ManualClock
) -> None:
    async with example() as session, session.begin():
        await session.execute(
            update(communities)
            .where(communities.c.community_id == RIVERSIDE)
            .values(name='<script>alert("x")</script> & "Co"')
        )
    async with open_analysts(example, clock) as http:
        answer = await http.get("/dashboard?area=community:riverside", headers=BEARER)
    assert "<script>" not in answer.text
    tree = parse(answer.text)
    assert not tree.find_all("script")
    assert (
        tree.find("svg").child("title").text().startswith('Chronic loneliness, <script>alert("x")')
    )


async def test_the_page_shows_what_compute_release_stored(
    database: async_sessionmaker[AsyncSession], clock: ManualClock
) -> None:
    """The real path into storage: facts, then releases through disclosure control. Noise is
    random, so the page is compared with what was stored, whatever it is."""
    weeks = ("2027-W01", "2027-W02", "2027-W03")
    await store_communities(database, {RIVERSIDE: "Riverside", "hillside": "Hillside"})
    async with database() as session, session.begin():
        for week in weeks:
            for community, people in ((RIVERSIDE, 80), ("hillside", 4)):
                keys = [f"{week}-{community}-{n}" for n in range(people)]
                await session.execute(
                    prompted_facts.insert(),
                    [
                        {"respondent_key": k, "community_id": community, "iso_week": week}
                        for k in keys
                    ],
                )
                await session.execute(
                    response_facts.insert(),
                    [
                        {
                            "respondent_key": k,
                            "community_id": community,
                            "iso_week": week,
                            "item": "ons_loneliness",
                            "value": 1 if n % 4 == 0 else 3,
                        }
                        for n, k in enumerate(keys[: people * 3 // 4])
                    ],
                )
    for week in weeks:
        await compute_release(database, ReleasePolicy(), clock, Cadence.week, week)

    async with open_analysts(database, clock) as http:
        for area in (f"community:{RIVERSIDE}", "community:hillside", f"region:{REGION}"):
            area_type, area_id = area.split(":")
            for indicator, unit in (("chronic_loneliness", "%"), ("signposting", "")):
                async with database() as session:
                    stored = await read_values(
                        session,
                        ValueFilter(area_id, area_type, None, "week", indicator),
                        0,
                        100,
                    )
                assert [row.period for row in stored] == list(weeks)
                tree = await page_of(http, f"area={area}&indicator={indicator}")
                shown = {row.period: row for row in stored}
                assert table_rows(tree) == expected_table(shown, weeks, unit)

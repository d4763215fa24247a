"""The analysts' list of areas is read a page at a time in SQL: communities by id, then regions
by code (each region's row counts its communities), filtered by type, every area once."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.insights.adapters.release_store import AreaRow, area_page
from shared.http.pagination import KeyValue
from tests.unit.insights.test_releases import community

Sessions = async_sessionmaker[AsyncSession]


async def every_page(sessions: Sessions, area_type: str | None, limit: int) -> list[list[AreaRow]]:
    pages: list[list[AreaRow]] = []
    after: list[KeyValue] | None = None
    while True:
        async with sessions() as session:
            page, after = await area_page(session, area_type, after, limit)
        pages.append(page)
        if after is None:
            return pages


async def test_areas_come_a_page_at_a_time_communities_then_regions(sessions: Sessions) -> None:
    for name, region in (("west", "R2"), ("north", "R1"), ("south", "R1")):
        await community(sessions, name, region)

    pages = await every_page(sessions, None, limit=2)
    assert [len(page) for page in pages] == [2, 2, 1]
    assert [(a.area_type, a.id) for page in pages for a in page] == [
        ("community", "north"),
        ("community", "south"),
        ("community", "west"),
        ("region", "R1"),
        ("region", "R2"),
    ]
    north, *_, r1, r2 = [a for page in pages for a in page]
    assert north == AreaRow("north", "community", "North", "R1", True, None)
    assert (r1, r2) == (
        AreaRow("R1", "region", None, None, None, 2),
        AreaRow("R2", "region", None, None, None, 1),
    )

    regions = await every_page(sessions, "region", limit=1)
    assert [[a.id for a in page] for page in regions] == [["R1"], ["R2"]]
    (communities,) = await every_page(sessions, "community", limit=3)
    assert [a.id for a in communities] == ["north", "south", "west"]


async def test_no_communities_is_one_empty_page(sessions: Sessions) -> None:
    assert await every_page(sessions, None, limit=50) == [[]]

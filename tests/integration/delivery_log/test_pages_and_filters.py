"""The delivery log's pages and filters, on rows whose creation instants are chosen: ties
(a community's prompts are queued in one instant) are where a keyset page can slip."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest

from services.demo.system import LocalSystem
from tests.integration.delivery_log.support import (
    PLANTED_ADDRESS,
    delivery_row,
    get_log,
    store_deliveries,
)

pytestmark = pytest.mark.database

T0 = datetime(2027, 1, 3, 9, 0, tzinfo=UTC)


def _ids(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)  # ids in no particular order relative to their instants
    return [str(uuid.UUID(int=rng.getrandbits(128))) for _ in range(count)]


async def _walk(system: LocalSystem, first: str) -> tuple[list[str], int]:
    """Follow the Link headers from ``first``: every id listed, and the number of pages."""
    listed: list[str] = []
    path: str | None = first
    pages = 0
    while path is not None:
        answer = await get_log(system, path)
        assert answer.status == 200, answer.text
        body = answer.json()
        listed += [item["id"] for item in body["items"]]
        pages += 1
        if body["next_cursor"] is None:
            assert answer.link is None
            path = None
        else:
            assert answer.link is not None
            target, relation = answer.link.split(";")
            assert relation.strip() == 'rel="next"'
            path = target.strip().removeprefix("<").removesuffix(">")
            assert f"cursor={body['next_cursor']}" in path
    return listed, pages


async def test_pages_list_every_row_once_newest_first_with_ties_on_created_at(
    system: LocalSystem,
) -> None:
    ids = _ids(23, seed=1)
    # Three instants shared by 7 rows each, then two rows alone; 5 a page puts page breaks
    # inside every group of ties.
    instants = [T0] * 7 + [T0 + timedelta(minutes=1)] * 7 + [T0 + timedelta(minutes=2)] * 7
    instants += [T0 - timedelta(days=1), T0 + timedelta(hours=1, microseconds=1)]
    rows = [delivery_row(i, at) for i, at in zip(ids, instants, strict=True)]
    await store_deliveries(system, rows)
    expected = [
        row["id"] for row in sorted(rows, key=lambda r: (r["created_at"], r["id"]), reverse=True)
    ]

    listed, pages = await _walk(system, "/v1/deliveries?limit=5")

    assert listed == expected  # newest first, ties by id, none twice, none missing
    assert pages == 5
    everything = (await get_log(system, "/v1/deliveries?limit=500")).json()
    assert [item["id"] for item in everything["items"]] == expected
    assert everything["next_cursor"] is None
    exactly_one_page = await get_log(system, "/v1/deliveries?limit=23")
    assert exactly_one_page.json()["next_cursor"] is None
    assert exactly_one_page.link is None


async def test_filters_narrow_the_log_and_pages_keep_them(system: LocalSystem) -> None:
    ids = _ids(12, seed=2)
    rows = [
        delivery_row(ids[0], T0, member_id="member-a", status="sent", channel="email"),
        delivery_row(ids[1], T0, member_id="member-a", status="failed", channel="sms"),
        delivery_row(ids[2], T0, member_id="member-b", status="sent", channel="sms"),
        delivery_row(ids[3], T0 + timedelta(hours=1), member_id="member-b", status="skipped"),
        delivery_row(
            ids[4],
            T0 + timedelta(hours=2),
            member_id="member-d",
            ritual_id="ritual-2",
            status="failed",
        ),
    ]
    rows += [
        delivery_row(ids[5 + n], T0 + timedelta(days=1, seconds=n), member_id="member-c")
        for n in range(7)
    ]
    await store_deliveries(system, rows)

    async def ids_for(query: str) -> list[str]:
        answer = await get_log(system, f"/v1/deliveries?{query}")
        assert answer.status == 200, answer.text
        return [item["id"] for item in answer.json()["items"]]

    assert sorted(await ids_for("member_id=member-a")) == sorted(ids[0:2])
    assert await ids_for("member_id=member-a&channel=sms") == [ids[1]]
    assert sorted(await ids_for("status=failed")) == sorted([ids[1], ids[4]])
    assert await ids_for("ritual_id=ritual-2") == [ids[4]]
    assert await ids_for("status=skipped&member_id=member-b") == [ids[3]]
    assert await ids_for("member_id=nobody") == []
    # since is inclusive, until exclusive; an offset other than Z means the same instant.
    assert await ids_for("since=2027-01-03T10:00:00Z&until=2027-01-03T11:00:00Z") == [ids[3]]
    assert await ids_for(
        f"since={quote('2027-01-03T11:00:00+01:00')}&until=2027-01-03T10:00:00.000001Z"
    ) == [ids[3]]
    assert sorted(await ids_for("until=2027-01-03T10:00:00Z")) == sorted(ids[0:3])

    # A filtered walk: the cursor carries on with the same filter, across pages.
    listed, pages = await _walk(system, "/v1/deliveries?member_id=member-c&limit=3")
    assert listed == list(reversed(ids[5:12]))
    assert pages == 3


async def test_items_hold_the_outcome_and_no_contact_data(system: LocalSystem) -> None:
    (failed_id,) = _ids(1, seed=3)
    await store_deliveries(system, [delivery_row(failed_id, T0, status="failed", channel="sms")])
    answer = await get_log(system, "/v1/deliveries")
    (item,) = answer.json()["items"]
    assert item == {
        "id": failed_id,
        "member_id": "member-a",
        "community_id": "riverside",
        "ritual_id": "ritual-1",
        "ritual_kind": "check_in",
        "channel": "sms",
        "status": "failed",
        "attempts": 3,
        "failure_reason": "retries_exhausted",
        "provider_status": None,
        "provider_state": None,
        "created_at": "2027-01-03T09:00:00Z",
        "not_before": None,
        "sent_at": None,
        "delivered_at": None,
        "nudge_number": 0,
    }
    assert PLANTED_ADDRESS not in answer.text
    assert "7700900123" not in answer.text
    assert "source_event" not in answer.text

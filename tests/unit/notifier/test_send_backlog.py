"""The send backlog: deep after a full claim, not after a short one or once the dispatcher has
stopped; the ingest waits for room, and the gauge follows every change (and only changes)."""

from __future__ import annotations

import asyncio

from services.notifier.handlers.workers.send_backlog import SendBacklog


async def test_a_full_claim_holds_the_ingest_until_a_short_one() -> None:
    changes: list[bool] = []
    backlog = SendBacklog(changes.append)
    assert not backlog.deep
    assert await backlog.room_for_more(wait_s=0)

    backlog.claimed(200, 200)
    backlog.claimed(200, 200)  # still deep: no second change
    assert backlog.deep
    assert not await backlog.room_for_more(wait_s=0.01)

    waiting = asyncio.ensure_future(backlog.room_for_more(wait_s=5))
    await asyncio.sleep(0)
    assert not waiting.done()
    backlog.claimed(17, 200)
    assert await asyncio.wait_for(waiting, 1)  # room as soon as a claim comes back short
    assert changes == [True, False]


async def test_a_stopped_dispatcher_holds_nothing_back() -> None:
    changes: list[bool] = []
    backlog = SendBacklog(changes.append)
    backlog.claimed(3, 3)
    backlog.dispatcher_stopped()
    assert not backlog.deep
    assert await backlog.room_for_more(wait_s=0)
    assert changes == [True, False]

"""Status callbacks that came before their sends were recorded (a burst: the provider calls
back while the send's outcome waits for its group commit) are kept, then applied all together
once the sends are recorded: each message's in rank order, failures through the full path,
and only what was read is removed from the backlog."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.notifier.adapters.deliveries import Deliveries
from services.notifier.adapters.sms.base import SmsState, StatusReport
from services.notifier.adapters.tables import outbox, provider_status_backlog
from services.notifier.handlers.use_cases.provider_status import (
    KEPT_FOR_LATER,
    apply_kept_statuses,
    apply_reports,
)
from shared import subjects
from tests.integration.delivery.rows import NOW, sent_sms_delivery

pytestmark = pytest.mark.database


def _status(
    message_id: str, state: SmsState, error_code: int | None = None
) -> tuple[str, StatusReport]:
    return ("provider:twilio", StatusReport(message_id, state, error_code))


async def test_statuses_kept_before_their_sends_are_applied_together_once_recorded(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    early = [
        _status("msg-1", SmsState.DELIVERED),  # out of order: delivered before sent
        _status("msg-1", SmsState.SENT),
        _status("msg-2", SmsState.SENT),
        _status("msg-2", SmsState.UNDELIVERED, 30003),
        _status("msg-3", SmsState.SENT),
        _status("msg-4", SmsState.SENT),  # its send is not recorded yet
    ]
    async with sessions() as session, session.begin():
        assert await apply_reports(session, early, NOW) == [KEPT_FOR_LATER] * len(early)
    async with sessions() as session, session.begin():
        await Deliveries(session).add_new(
            [
                sent_sms_delivery(f"d{n}", f"mbr_member00000{n}", f"msg-{n}", rank=0)
                for n in (1, 2, 3)
            ]
        )

    assert await apply_kept_statuses(sessions, ["msg-1", "msg-2", "msg-3", "msg-4"], NOW) == 3

    async with sessions() as session:
        found = await Deliveries(session).lock_by_message_ids(["msg-1", "msg-2", "msg-3"])
        staged: dict[str, int] = dict(
            (
                await session.execute(
                    select(outbox.c.subject, func.count()).group_by(outbox.c.subject)
                )
            ).all()
        )
        left = (await session.execute(select(provider_status_backlog))).all()
    states = {m: (d.provider_state, d.provider_state_rank) for m, d in found.items()}
    assert states == {
        "msg-1": ("delivered", 5),
        "msg-2": ("undelivered", 5),
        "msg-3": ("sent", 3),
    }
    assert found["msg-1"].delivered_at == NOW
    assert found["msg-2"].failure_reason == "undelivered"
    assert staged == {subjects.PROMPT_DELIVERED: 1, subjects.PROMPT_FAILED: 1}
    assert [(row.provider_message_id, row.state) for row in left] == [("msg-4", "sent")]
    # Applied once: a second pass finds nothing more to do.
    assert await apply_kept_statuses(sessions, ["msg-1", "msg-2", "msg-3"], NOW) == 0

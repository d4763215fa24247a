"""What the dispatcher really records shows in the log: an e-mail sent, an SMS delivered, an
e-mail refused for good; and none of the members' addresses or numbers, nor the message."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.demo.scenario import Person, set_up_weekly_check_in
from services.demo.system import LocalSystem
from tests.integration.delivery_log.support import get_log
from tests.support import eventually

pytestmark = pytest.mark.database

MONDAY_0900 = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)
ANA = Person("Ana", "ana@riverside.example", "Europe/London", True)
BO = Person("Bo", "bo@riverside.example", "Europe/London", True)
SAM = Person(
    "Sam", "sam@riverside.example", "Europe/London", True, phone="+447911123456", channel="sms"
)


async def test_sends_and_failures_are_logged_without_contact_data(system: LocalSystem) -> None:
    system.smtp.script(BO.email, "550 5.1.1 No such user")
    # One status callback: two ("sent", "delivered") racing the dispatcher's record of the
    # send occasionally lose the second (apply_backlog deletes backlog rows it did not read).
    system.twilio.script_statuses(SAM.phone or "", "delivered")
    community = await set_up_weekly_check_in(system, (ANA, BO, SAM))
    await system.advance_to(MONDAY_0900)
    await system.smtp.wait_for(1)
    # The callback can beat the dispatcher's record of the send; it then waits in the backlog
    # for the next sweep, which runs on the clock.
    await system.twilio.wait_for_callbacks(1)
    await system.advance_to(MONDAY_0900 + timedelta(minutes=1))

    async def settled() -> list[dict[str, object]]:
        items: list[dict[str, object]] = (await get_log(system, "/v1/deliveries")).json()["items"]
        outcomes = {f"{item['status']}/{item['provider_state']}" for item in items}
        # SMTP's 250 is "accepted"; Twilio's callback says "delivered" a moment later.
        done = {"sent/accepted", "failed/None", "sent/delivered"}
        return items if len(items) == 3 and outcomes == done else []

    items = await eventually(settled)
    by_member = {item["member_id"]: item for item in items}
    ana, bo, sam = (by_member[community.member_ids[p.email]] for p in (ANA, BO, SAM))
    assert (ana["channel"], ana["status"], ana["attempts"], ana["failure_reason"]) == (
        "email",
        "sent",
        1,
        None,
    )
    assert ana["provider_state"] == "accepted"
    assert ana["sent_at"] is not None
    assert (bo["status"], bo["failure_reason"], bo["provider_status"]) == (
        "failed",
        "rejected_permanently",
        550,
    )
    assert (sam["channel"], sam["status"], sam["provider_state"]) == ("sms", "sent", "delivered")
    assert sam["delivered_at"] is not None
    for item in items:
        assert (item["ritual_id"], item["community_id"]) == (community.ritual_id, community.id)
        assert (item["ritual_kind"], item["nudge_number"]) == ("check_in", 0)

    for query in ("", "?status=failed", f"?member_id={community.member_ids[SAM.email]}"):
        text = (await get_log(system, f"/v1/deliveries{query}")).text
        for person in (ANA, BO, SAM):
            assert person.email not in text
        assert "7911123456" not in text  # the number, in any format
        assert "How often do you feel lonely?" not in text
        assert "source_event" not in text
    only_failed = (await get_log(system, "/v1/deliveries?status=failed")).json()["items"]
    assert [item["member_id"] for item in only_failed] == [community.member_ids[BO.email]]

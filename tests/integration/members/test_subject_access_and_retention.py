"""A member's own data on request (subject access), and the limits on how long it is kept."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp

from services.demo.scenario import Person, set_up_weekly_check_in
from services.demo.system import SMS_NUMBER, LocalSystem
from tests.support import eventually, read_database

MONDAY_0900 = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)
SAM = Person(
    "Sam", "sam@riverside.example", "Europe/London", True, phone="+447911123456", channel="sms"
)
PHONE = SAM.phone or ""


async def _text(system: LocalSystem, body: str) -> None:
    status = await system.twilio.send_inbound(
        system.sms_webhook("inbound"), PHONE, SMS_NUMBER, body
    )
    assert status == 200


async def _export(system: LocalSystem, member_id: str) -> tuple[int, dict[str, Any], str]:
    async with (
        aiohttp.ClientSession() as http,
        http.get(
            f"http://127.0.0.1:{system.ports['notifier']}/v1/members/{member_id}/export",
            headers={"Authorization": f"Bearer {system.tokens['notifier']}"},
        ) as response,
    ):
        return (
            response.status,
            await response.json(),
            response.headers.get("Content-Disposition", ""),
        )


async def test_an_export_holds_everything_the_notifier_keeps_on_the_member(
    system: LocalSystem,
) -> None:
    community = await set_up_weekly_check_in(system, (SAM,))
    member_id = community.member_ids[SAM.email]
    await system.advance_to(MONDAY_0900)
    await eventually(lambda: len(system.twilio.to(PHONE)) == 1)
    await _text(system, "3")
    await _text(system, "thanks, a good week with my neighbours")
    await system.clients["notifier"].post(
        f"/v1/members/{member_id}/consents",
        {"kind": "insights", "given": False, "source": "phone call"},
    )
    await eventually(lambda: len(system.twilio.to(PHONE)) == 2)  # the thank-you

    status, document, disposition = await _export(system, member_id)
    assert status == 200
    assert "attachment" in disposition
    contact = document["contact"]
    assert (contact["phone"], contact["email"]) == (PHONE, SAM.email)
    assert contact["insights_consent"] is False
    consents = document["consents"]
    assert [(c["kind"], c["given"], c["source"]) for c in consents][-1] == (
        "insights",
        False,
        "phone call",
    )
    (delivery,) = document["deliveries"]
    assert (delivery["channel"], delivery["status"]) == ("sms", "sent")
    (given,) = document["answers"]
    assert (given["item_key"], given["value"]) == ("ons_loneliness", 3)
    texts = [m["free_text"] for m in document["inbound_messages"]]
    assert "thanks, a good week with my neighbours" in texts
    # What would tie the person to insights' anonymised data is not handed out.
    assert "pseudonym_seed" not in str(document)
    assert "rk_" not in str(document)

    missing, _, _ = await _export(system, "mbr_DoesNotExist0000")
    assert missing == 404


async def test_sends_answers_and_texts_are_deleted_after_their_retention(
    system: LocalSystem,
) -> None:
    await set_up_weekly_check_in(system, (SAM,))
    await system.advance_to(MONDAY_0900)
    await eventually(lambda: len(system.twilio.to(PHONE)) == 1)
    await _text(system, "2")
    await _text(system, "free words")
    settings = system.notifier_settings
    notifier = await read_database(system.database_for, "notifier")
    assert len(notifier["deliveries"]) == 1
    assert len(notifier["answers"]) == 1
    assert len(notifier["inbound_messages"]) == 2

    # Pause the ritual so that moving the clock sends nothing new.
    ritual = "riverside-monday"
    await system.clients["scheduler"].post(f"/v1/rituals/{ritual}/pause", {})
    texts_gone = MONDAY_0900 + timedelta(days=settings.retain_inbound_messages_days, hours=2)
    await system.advance_to(texts_gone)
    await eventually(lambda: _rows(system, "inbound_messages", 0))
    assert len((await read_database(system.database_for, "notifier"))["deliveries"]) == 1

    sends_gone = MONDAY_0900 + timedelta(days=settings.retain_deliveries_days, hours=2)
    await system.advance_to(sends_gone)
    await eventually(lambda: _rows(system, "deliveries", 0))
    assert (await read_database(system.database_for, "notifier"))["answers"] == []
    # The member is still there: contacts stay until erasure.
    assert len((await read_database(system.database_for, "notifier"))["contacts"]) == 1


async def _rows(system: LocalSystem, table: str, count: int) -> bool:
    return len((await read_database(system.database_for, "notifier"))[table]) == count

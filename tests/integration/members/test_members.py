"""Members: registration with validated contact points, consent trail, CSV import, one-click
unsubscribe, and erasure honoured by every service."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp

from services.demo.scenario import Person, answer, set_up_weekly_check_in
from services.demo.system import LocalSystem
from shared.contracts import MemberErasedV1, PromptFailedV1, RespondentsErasedV2
from tests.support import NatsTap, eventually, weekly_answers

MONDAY_0900 = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)
ANA = Person("Ana", "ana@riverside.example", "Europe/London", True)


def _consents(given: bool = True) -> dict[str, Any]:
    return {
        "prompt_consent": {"given": given, "source": "paper form"},
        "insights_consent": {"given": given, "source": "paper form"},
    }


async def _post(
    system: LocalSystem, path: str, body: Any, csv: str | None = None
) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {system.tokens['notifier']}"}
    payload: dict[str, Any] = {"json": body}
    if csv is not None:
        headers["Content-Type"] = "text/csv"
        payload = {"data": csv}
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"http://127.0.0.1:{system.ports['notifier']}{path}", headers=headers, **payload
        ) as response,
    ):
        return response.status, await response.json()


async def test_phone_numbers_are_validated_and_stored_as_e164(system: LocalSystem) -> None:
    status, member = await _post(
        system,
        "/v1/members",
        {"phone": "07911 123456", "preferred_channel": "sms", **_consents()},
    )
    assert status == 201, member
    assert member["phone"] == "+447911123456"
    for phone, reason in [("12345", "not a valid phone number"), ("call me", "not a phone number")]:
        status, problem = await _post(
            system, "/v1/members", {"phone": phone, "preferred_channel": "sms", **_consents()}
        )
        assert status == 422
        assert reason in str(problem)
    status, problem = await _post(
        system, "/v1/members", {"phone": "+447911123456", "preferred_channel": "sms", **_consents()}
    )
    assert status == 409
    status, problem = await _post(
        system, "/v1/members", {"email": "x@example.org", "preferred_channel": "sms", **_consents()}
    )
    assert status == 422
    assert "preferred channel is sms but no phone was given" in str(problem)
    status, problem = await _post(
        system, "/v1/members", {"email": "ana@example.org\r\nBcc: all@example.org", **_consents()}
    )
    assert status == 422


async def test_a_member_keeps_their_own_number_and_cannot_take_anothers(
    system: LocalSystem,
) -> None:
    numbers = ("+447911123401", "+447911123402")
    ids = []
    for phone in numbers:
        status, member = await _post(
            system, "/v1/members", {"phone": phone, "preferred_channel": "sms", **_consents()}
        )
        assert status == 201, member
        ids.append(member["id"])

    async def patch(member_id: str, body: dict[str, Any]) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {system.tokens['notifier']}"}
        url = f"http://127.0.0.1:{system.ports['notifier']}/v1/members/{member_id}"
        async with (
            aiohttp.ClientSession() as http,
            http.patch(url, headers=headers, json=body) as response,
        ):
            return response.status, await response.json()

    status, member = await patch(ids[0], {"phone": numbers[0], "locale": "es"})
    assert status == 200, member
    assert (member["phone"], member["locale"]) == (numbers[0], "es")
    status, problem = await patch(ids[0], {"phone": numbers[1]})
    assert status == 409
    assert "already registered to another member" in problem["detail"]


async def test_consent_changes_are_recorded_with_time_and_source(system: LocalSystem) -> None:
    _, member = await _post(system, "/v1/members", {"email": "c@example.org", **_consents()})
    member_id = member["id"]
    system.clock.advance(timedelta(days=3))
    status, changed = await _post(
        system,
        f"/v1/members/{member_id}/consents",
        {"kind": "insights", "given": False, "source": "phone call"},
    )
    assert status == 200
    assert changed["insights_consent"] is False
    trail = await system.clients["notifier"].get_all(f"/v1/members/{member_id}/consents")
    assert [(r["kind"], r["given"], r["source"]) for r in trail] == [
        ("prompts", True, "paper form"),
        ("insights", True, "paper form"),
        ("insights", False, "phone call"),
    ]
    assert trail[2]["recorded_at"].startswith("2027-01-06")


async def test_csv_import_reports_each_bad_row_and_keeps_the_good_ones(
    system: LocalSystem,
) -> None:
    rows = (
        "email,phone,preferred_channel,prompt_consent,insights_consent,consent_source\n"
        "ana@example.org,,email,yes,yes,spring fair\n"
        ",07912 345678,sms,yes,no,spring fair\n"
        "not-an-email,,email,yes,yes,spring fair\n"
        ",,email,yes,yes,spring fair\n"
        "bo@example.org,,email,maybe,yes,spring fair\n"
        ",07912345678,sms,yes,yes,spring fair\n"
    )
    status, report = await _post(system, "/v1/members/import", None, csv=rows)
    assert status == 200, report
    assert (report["created"], report["failed"]) == (2, 4)
    by_row = {r["row"]: r for r in report["rows"]}
    assert by_row[2]["member_id"].startswith("mbr_")
    assert by_row[3]["member_id"].startswith("mbr_")
    assert "email" in by_row[4]["errors"][0]
    assert "give an email, a phone number or both" in by_row[5]["errors"][0]
    assert "prompt_consent: expected yes or no" in by_row[6]["errors"][0]
    assert "already registered" in by_row[7]["errors"][0]
    # The report names problems, never the values that caused them.
    assert "not-an-email" not in str(report)
    assert "345678" not in str(report)


async def test_list_unsubscribe_goes_out_as_a_plain_angle_bracketed_url(
    system: LocalSystem,
) -> None:
    # Gmail's and Yahoo's bulk-sender rules read the header as it is on the wire: a URL
    # longer than a folded line must not come out RFC 2047-encoded (=?utf-8?q?...?=).
    await set_up_weekly_check_in(system, (ANA,))
    await system.advance_to(MONDAY_0900)
    (mail,) = await system.smtp.wait_for(1)
    lines = [line for line in mail.raw.split(b"\r\n") if line.startswith(b"List-Unsubscribe")]
    assert len(lines) == 2, lines
    unsubscribe = next(line for line in lines if line.startswith(b"List-Unsubscribe: "))
    assert re.fullmatch(rb"List-Unsubscribe: <https?://[^\s<>]+/u/[^\s<>]+>", unsubscribe)
    assert len(unsubscribe) > 78  # long enough that the default policy would have folded it
    assert b"List-Unsubscribe-Post: List-Unsubscribe=One-Click" in lines


async def test_one_click_unsubscribe_post_works_and_get_does_not(
    system: LocalSystem, nats_tap: NatsTap
) -> None:
    await set_up_weekly_check_in(system, (ANA,))
    await system.advance_to(MONDAY_0900)
    (mail,) = await system.smtp.wait_for(1)
    assert mail.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = str(mail.message["List-Unsubscribe"]).strip("<>")
    async with aiohttp.ClientSession() as scanner, scanner.get(url) as page:  # GET only
        assert page.status == 200
        assert "Unsubscribe" in await page.text()
    await system.advance_to(MONDAY_0900 + timedelta(weeks=1))
    await system.smtp.wait_for(2)  # still subscribed
    # The mail provider's one-click POST: no cookies, no session, just the signed URL.
    async with (
        aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as provider,
        provider.post(url, data={"List-Unsubscribe": "One-Click"}) as response,
    ):
        assert response.status == 200
    await system.advance_to(MONDAY_0900 + timedelta(weeks=2))
    failed = await eventually(lambda: nats_tap.on(PromptFailedV1.subject))
    assert PromptFailedV1.model_validate_json(failed[0].data).reason.value == "opted_out"
    assert len(system.smtp.messages) == 2
    async with aiohttp.ClientSession() as forger, forger.post(url[:-3] + "xyz") as response:
        assert response.status == 403


async def test_erasure_removes_contact_data_everywhere(
    system: LocalSystem, nats_tap: NatsTap
) -> None:
    community = await set_up_weekly_check_in(system, (ANA,))
    member_id = community.member_ids[ANA.email]
    await system.advance_to(MONDAY_0900)
    (mail,) = await system.smtp.wait_for(1)
    async with aiohttp.ClientSession() as browser:
        await answer(browser, mail, 3)
    await system.close_week("2027-W01")

    await eventually(lambda: weekly_answers(system, community.id))
    async with (
        aiohttp.ClientSession() as http,
        http.delete(
            f"http://127.0.0.1:{system.ports['notifier']}/v1/members/{member_id}",
            headers={"Authorization": f"Bearer {system.tokens['notifier']}"},
        ) as response,
    ):
        assert response.status == 204
    (erased,) = await eventually(lambda: nats_tap.on(MemberErasedV1.subject))
    # Two events, never joined: one carries the member id and leaves at once; the other the
    # respondent keys, and it waits for the next daily batch.
    assert nats_tap.on(RespondentsErasedV2.subject) == []
    await system.release_erasures()
    (forgotten,) = await eventually(lambda: nats_tap.on(RespondentsErasedV2.subject))
    assert member_id in erased.data.decode()
    assert member_id not in forgotten.data.decode()
    assert b"mbr_" not in forgotten.data

    async def enrolments() -> list[dict[str, str]]:
        rows: list[dict[str, str]] = await system.clients["scheduler"].get_all(
            "/v1/enrolments", community_id=community.id
        )
        return rows

    await eventually(lambda: _empty(enrolments()))
    await eventually(lambda: _empty(weekly_answers(system, community.id)))
    async with (
        aiohttp.ClientSession() as http,
        http.get(
            f"http://127.0.0.1:{system.ports['notifier']}/v1/members/{member_id}",
            headers={"Authorization": f"Bearer {system.tokens['notifier']}"},
        ) as response,
    ):
        assert response.status == 404


async def _empty(rows: Any) -> bool:
    return not await rows

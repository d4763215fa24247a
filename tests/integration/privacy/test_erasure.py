"""Erasure: after it, nothing the person sent or answered remains linkable to them anywhere, an
old link or a late event brings nothing back, and no replay or restore undoes it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import nats

from services.demo.scenario import Person, answer, answer_links, set_up_weekly_check_in
from services.demo.system import SMS_NUMBER, LocalSystem
from services.notifier.domain.pseudonyms import respondent_key
from shared.contracts import (
    MemberErasedV1,
    PromptAnsweredV1,
    PromptFailedV1,
    RespondentsErasedV2,
    ResponseReceivedV2,
    SignpostingSentV2,
)
from tests.integration.privacy.attacker import read_streams
from tests.support import NatsTap, eventually, read_database, with_zones

MONDAY_0900 = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)
ANA = Person("Ana", "ana@riverside.example", "Europe/London", shares_answers=True)
BEA = Person("Bea", "bea@riverside.example", "Europe/London", shares_answers=True)
SAM = Person(
    "Sam", "sam@riverside.example", "Europe/London", True, phone="+447911123456", channel="sms"
)
PHONE = SAM.phone or ""


async def _erase(system: LocalSystem, member_id: str) -> int:
    async with (
        aiohttp.ClientSession() as http,
        http.delete(
            f"http://127.0.0.1:{system.ports['notifier']}/v1/members/{member_id}",
            headers={"Authorization": f"Bearer {system.tokens['notifier']}"},
        ) as response,
    ):
        return response.status


async def _text(system: LocalSystem, body: str) -> None:
    status = await system.twilio.send_inbound(
        system.sms_webhook("inbound"), PHONE, SMS_NUMBER, body
    )
    assert status == 200


async def _keys_of(system: LocalSystem, member_ids: list[str], weeks: list[str]) -> set[str]:
    notifier = await read_database(system.database_for, "notifier")
    return {
        respondent_key(row["pseudonym_seed"], week)
        for row in notifier["contacts"]
        if row["member_id"] in member_ids
        for week in weeks
    }


async def _facts(system: LocalSystem) -> dict[str, list[dict[str, Any]]]:
    return await read_database(system.database_for, "insights")


def _everywhere(rows: dict[str, list[dict[str, Any]]]) -> str:
    return json.dumps(rows, default=str)


async def test_after_erasure_nothing_they_answered_or_sent_remains_linkable(
    system: LocalSystem, nats_tap: NatsTap
) -> None:
    # A fortnight to answer: her week-2 link still works when she is erased.
    community = await set_up_weekly_check_in(
        system, (ANA, BEA, SAM), response_window_minutes=14 * 24 * 60
    )
    ana, sam = community.member_ids[ANA.email], community.member_ids[SAM.email]
    await system.advance_to(MONDAY_0900)
    await system.smtp.wait_for(2)
    await eventually(lambda: len(system.twilio.to(PHONE)) == 1)
    async with aiohttp.ClientSession() as browser:
        await answer(browser, system.smtp.to(ANA.email)[0], 1)  # "often lonely": signposted
        await answer(browser, system.smtp.to(BEA.email)[0], 4)
    await _text(system, "2")
    await _text(system, "some days I want to die")  # free text, signposted
    # Week 2: Ana answers again; her fact is held for the week's release.
    await system.advance_to(MONDAY_0900 + timedelta(weeks=1))
    await system.smtp.wait_for(4)
    async with aiohttp.ClientSession() as browser:
        await answer(browser, system.smtp.to(ANA.email)[1], 3)
        await answer(browser, system.smtp.to(BEA.email)[1], 5)
    await system.close_week("2027-W01")  # week 1 leaves; week 2 is still held
    await eventually(lambda: len(nats_tap.on(ResponseReceivedV2.subject)) == 3)
    await eventually(lambda: len(nats_tap.on(SignpostingSentV2.subject)) == 2)
    keys = await _keys_of(system, [ana, sam], ["2027-W01", "2027-W02"])
    old_link = answer_links(system.smtp.to(ANA.email)[1])[1]
    answered_before = len(nats_tap.on(PromptAnsweredV1.subject))

    assert await _erase(system, ana) == 204
    assert await _erase(system, sam) == 204

    # MemberErased leaves at once; the tombstones wait for the day's batch, then leave in one
    # event holding both people's keys, sorted: no event, and no moment, ties keys to a member.
    await eventually(lambda: len(nats_tap.on(MemberErasedV1.subject)) == 2)
    assert nats_tap.on(RespondentsErasedV2.subject) == []
    await system.release_erasures()
    (tombstones,) = await eventually(lambda: nats_tap.on(RespondentsErasedV2.subject))
    erased_keys = RespondentsErasedV2.model_validate_json(tombstones.data).respondent_keys
    assert keys <= set(erased_keys)
    assert erased_keys == sorted(erased_keys)
    assert b"mbr_" not in tombstones.data

    # Her last link, still unexpired, answers nothing, publishes nothing, signposts nothing.
    async with aiohttp.ClientSession() as browser:
        async with browser.get(old_link) as page:
            assert page.status == 404
        async with browser.post(old_link.split("?")[0], data={"ons_loneliness": "1"}) as page:
            assert page.status == 404
    # Sam texts again: a stranger now; the words are not kept, nothing leaves.
    await _text(system, "I want to die, this is Sam")
    assert len(nats_tap.on(PromptAnsweredV1.subject)) == answered_before

    # Insights holds nothing under their keys, and Ana's held week-2 fact never left.
    await eventually(lambda: _none_of(system, keys))
    await system.close_week("2027-W02")
    await eventually(lambda: len(nats_tap.on(ResponseReceivedV2.subject)) == 4)  # Bea's
    await eventually(lambda: _stored(system, "response_facts", 2))
    facts = await _facts(system)
    assert {row["iso_week"] for row in facts["response_facts"]} == {"2027-W01", "2027-W02"}
    assert len(facts["response_facts"]) == 2  # Bea, both weeks
    assert facts["signposting_facts"] == []
    assert keys <= {row["respondent_key"] for row in facts["erased_respondents"]}

    # The notifier keeps nothing of theirs but a keyed hash of each erased id; the scheduler
    # nothing at all.
    notifier = await read_database(system.database_for, "notifier")
    text = _everywhere({k: v for k, v in notifier.items() if k != "erasure_scrubs"})
    for secret in (ana, sam, ANA.email, PHONE, "want to die"):
        assert secret not in text
    assert len(notifier["erased_members"]) == 2
    scheduler = await read_database(system.database_for, "scheduler")
    assert ana not in _everywhere(scheduler)
    assert sam not in _everywhere(scheduler)

    # Once the scrub delay has passed, no stream holds their ids or keys (the ERASURES stream
    # keeps the erasure itself, and nothing they said or did).
    await system.advance_to(system.clock.now() + timedelta(minutes=20))
    await eventually(lambda: _streams_free_of(system, {ana, sam, *keys}), timeout_s=20)
    notifier = await read_database(system.database_for, "notifier")
    assert notifier["erasure_scrubs"] == []


async def _stored(system: LocalSystem, table: str, count: int) -> bool:
    return len((await _facts(system))[table]) == count


async def _none_of(system: LocalSystem, keys: set[str]) -> bool:
    facts = await _facts(system)
    held = {row["respondent_key"] for row in facts["response_facts"]}
    held |= {row["respondent_key"] for row in facts["signposting_facts"]}
    return not held & keys


async def _streams_free_of(system: LocalSystem, needles: set[str]) -> bool:
    for message in await read_streams(system.nats.url):
        if message.stream == "ERASURES":
            continue
        text = json.dumps(message.body) + json.dumps(message.headers)
        if any(needle in text for needle in needles):
            return False
    return True


async def test_a_late_event_about_an_erased_member_leaves_no_trace(
    system: LocalSystem, nats_tap: NatsTap
) -> None:
    community = await set_up_weekly_check_in(system, (ANA,))
    ana = community.member_ids[ANA.email]
    await system.advance_to(MONDAY_0900)
    await system.smtp.wait_for(1)
    (due,) = nats_tap.on("rituals.due.v1")
    assert await _erase(system, ana) == 204
    # A lagging scheduler, or a replayed dead letter, delivers her RitualDue again.
    client = await nats.connect(system.nats.url)
    try:
        await client.jetstream().publish(
            "rituals.due.v1", due.data, headers={"Nats-Msg-Id": "replayed-after-erasure"}
        )
    finally:
        await client.close()
    await eventually(lambda: _consumed(system, "notifier-ritual-due", 2))
    assert nats_tap.on(PromptFailedV1.subject) == []  # not even a refusal names her
    notifier = await read_database(system.database_for, "notifier")
    assert ana not in _everywhere(
        {k: v for k, v in notifier.items() if k not in ("erasure_scrubs", "outbox")}
    )
    assert len(system.smtp.messages) == 1


async def _consumed(system: LocalSystem, durable: str, count: int) -> bool:
    client = await nats.connect(system.nats.url)
    try:
        info = await client.jetstream().consumer_info("RITUALS", durable)
    finally:
        await client.close()
    return bool(info.ack_floor.stream_seq >= count and info.num_ack_pending == 0)


async def test_tombstones_survive_a_replay_and_a_restored_backup(
    system: LocalSystem, nats_tap: NatsTap
) -> None:
    community = await set_up_weekly_check_in(system, (ANA, BEA))
    ana = community.member_ids[ANA.email]
    await system.advance_to(MONDAY_0900)
    await system.smtp.wait_for(2)
    async with aiohttp.ClientSession() as browser:
        await answer(browser, system.smtp.to(ANA.email)[0], 2)
        await answer(browser, system.smtp.to(BEA.email)[0], 4)
    await system.close_week("2027-W01")
    await eventually(lambda: len(nats_tap.on(ResponseReceivedV2.subject)) == 2)
    keys = await _keys_of(system, [ana], ["2027-W01"])
    (ana_fact,) = [
        m
        for m in nats_tap.on(ResponseReceivedV2.subject)
        if any(k.encode() in m.data for k in keys)
    ]
    await eventually(lambda: _stored(system, "response_facts", 2))
    backup = await _facts(system)  # insights as a backup taken now holds it
    assert len(backup["response_facts"]) == 2

    assert await _erase(system, ana) == 204
    await system.release_erasures()
    await eventually(lambda: _none_of(system, keys))

    # A replay (or a dead letter put back) of her fact stores nothing.
    client = await nats.connect(system.nats.url)
    try:
        await client.jetstream().publish(
            ResponseReceivedV2.subject, ana_fact.data, headers={"Nats-Msg-Id": "replayed-fact"}
        )
    finally:
        await client.close()
    await eventually(lambda: _consumed_on(system, "RESPONSES", "insights-responses-v2"))
    assert await _none_of(system, keys)

    # The backup is restored: her facts are back, the tombstones are not. Insights restarts and
    # applies every erasure on the ERASURES stream before it serves.
    await _restore(system, backup)
    assert not await _none_of(system, keys)
    await system.restart("insights")
    assert await _none_of(system, keys)
    facts = await _facts(system)
    assert len(facts["response_facts"]) == 1  # Bea's


async def _consumed_on(system: LocalSystem, stream: str, durable: str) -> bool:
    client = await nats.connect(system.nats.url)
    try:
        js = client.jetstream()
        info = await js.consumer_info(stream, durable)
        last = (await js.stream_info(stream)).state.last_seq
    finally:
        await client.close()
    return bool(info.ack_floor.stream_seq >= last and info.num_ack_pending == 0)


async def _restore(system: LocalSystem, backup: dict[str, list[dict[str, Any]]]) -> None:
    from services.insights.adapters.tables import metadata
    from shared.db import create_engine

    url, schema = system.database_for("insights")
    engine = create_engine(url, schema)
    try:
        async with engine.begin() as connection:
            for table in reversed(metadata.sorted_tables):
                await connection.execute(table.delete())
            for table in metadata.sorted_tables:
                if backup[table.name]:
                    await connection.execute(table.insert(), with_zones(backup[table.name]))
    finally:
        await engine.dispose()


async def test_only_members_who_consented_are_counted_when_signposted(
    system: LocalSystem, nats_tap: NatsTap
) -> None:
    private = Person(
        "Kim", "kim@riverside.example", "Europe/London", False, phone="+447911000111", channel="sms"
    )
    await set_up_weekly_check_in(system, (ANA, private))
    await system.advance_to(MONDAY_0900)
    await system.smtp.wait_for(1)
    await eventually(lambda: len(system.twilio.to(private.phone or "")) == 1)
    for body in ("1", "I want to die"):  # a distress answer, then distress words
        status = await system.twilio.send_inbound(
            system.sms_webhook("inbound"), private.phone or "", SMS_NUMBER, body
        )
        assert status == 200
    await eventually(lambda: len(system.twilio.to(private.phone or "")) == 3)
    assert all("116 123" in m.body for m in system.twilio.to(private.phone or "")[1:])
    async with aiohttp.ClientSession() as browser:
        await answer(browser, system.smtp.to(ANA.email)[0], 1)  # consented: counted
    await system.close_week("2027-W01")
    (counted,) = await eventually(lambda: nats_tap.on(SignpostingSentV2.subject))
    await eventually(lambda: len(nats_tap.on(ResponseReceivedV2.subject)) == 1)
    await eventually(lambda: _stored(system, "signposting_facts", 1))
    await eventually(lambda: _stored(system, "response_facts", 1))
    facts = await _facts(system)
    assert len(facts["signposting_facts"]) == 1
    assert len(facts["response_facts"]) == 1
    assert counted.data  # Ana's, the one consenting member


async def test_a_restored_scheduler_forgets_erased_members_again(system: LocalSystem) -> None:
    community = await set_up_weekly_check_in(system, (ANA, BEA))
    ana = community.member_ids[ANA.email]
    backup = await read_database(system.database_for, "scheduler")
    assert await _erase(system, ana) == 204
    await eventually(lambda: _enrolled(system, community.id, 1))
    # A backup from before the erasure is restored: her enrolment is back.
    await _restore_enrolments(system, backup["enrolments"])
    assert await _enrolled(system, community.id, 2)
    await system.restart("scheduler")
    assert await _enrolled(system, community.id, 1)
    rows: list[dict[str, str]] = await system.clients["scheduler"].get_all(
        "/v1/enrolments", community_id=community.id
    )
    assert ana not in {row["member_id"] for row in rows}


async def _enrolled(system: LocalSystem, community_id: str, count: int) -> bool:
    rows: list[dict[str, str]] = await system.clients["scheduler"].get_all(
        "/v1/enrolments", community_id=community_id
    )
    return len(rows) == count


async def _restore_enrolments(system: LocalSystem, rows: list[dict[str, Any]]) -> None:
    from services.scheduler.adapters.tables import enrolments
    from shared.db import create_engine, insert_ignoring_duplicates, session_factory

    url, schema = system.database_for("scheduler")
    engine = create_engine(url, schema)
    try:
        async with session_factory(engine)() as session, session.begin():
            await insert_ignoring_duplicates(session, enrolments, with_zones(rows))
    finally:
        await engine.dispose()

"""Replies by SMS: signed webhooks, opt-out keywords, help, answers, distress signposting."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TypeVar

import aiohttp

from services.demo.scenario import Person, set_up_weekly_check_in
from services.demo.system import SMS_NUMBER, LocalSystem
from shared.contracts import (
    Event,
    PromptAnsweredV1,
    PromptFailedV1,
    ResponseReceivedV2,
    SignpostingSentV2,
)
from shared.devtwilio import ScriptedReply, twilio_signature
from tests.support import NatsTap, eventually, weekly_signposting

E = TypeVar("E", bound=Event)

MONDAY_0900 = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)
SAM = Person(
    "Sam", "sam@riverside.example", "Europe/London", True, phone="+447911123456", channel="sms"
)
PHONE = SAM.phone or ""


def events_of(tap: NatsTap, kind: type[E]) -> list[E]:
    return [kind.model_validate_json(m.data) for m in tap.on(kind.subject)]


async def _prompted(system: LocalSystem) -> None:
    await set_up_weekly_check_in(system, (SAM,))
    await system.advance_to(MONDAY_0900)
    await eventually(lambda: len(system.twilio.to(PHONE)) == 1)


async def _reply(system: LocalSystem, body: str) -> int:
    return await system.twilio.send_inbound(system.sms_webhook("inbound"), PHONE, SMS_NUMBER, body)


def _texts_to_sam(system: LocalSystem) -> list[str]:
    return [m.body for m in system.twilio.to(PHONE)]


async def test_forged_missing_or_misdirected_signatures_get_403_and_publish_nothing(
    system: LocalSystem, nats_tap: NatsTap
) -> None:
    await _prompted(system)
    await eventually(lambda: nats_tap.on("prompts.delivered.v1"))  # the prompt's traffic is over

    def published() -> list[str]:
        return [
            m.subject
            for m in nats_tap.messages
            if not m.is_jetstream_delivery and not m.subject.startswith(("$JS", "_INBOX"))
        ]

    before = published()
    url = system.sms_webhook("inbound")
    form = {"From": PHONE, "To": SMS_NUMBER, "Body": "STOP", "MessageSid": "SMforged0001"}
    wrong_url = twilio_signature(
        url.replace("inbound", "elsewhere"), form, system.twilio.auth_token
    )
    wrong_token = twilio_signature(url, form, "not-the-auth-token")
    async with aiohttp.ClientSession() as http:
        for headers in (
            {},
            {"X-Twilio-Signature": "forged"},
            {"X-Twilio-Signature": wrong_url},
            {"X-Twilio-Signature": wrong_token},
        ):
            async with http.post(url, data=form, headers=headers) as response:
                assert response.status == 403, headers
        status_url = system.sms_webhook("status")
        async with http.post(
            status_url, data={"MessageSid": "SM1", "MessageStatus": "failed"}
        ) as response:
            assert response.status == 403
    assert await _reply(system, "STOP") == 200  # the same, correctly signed, is accepted
    assert published() == before  # STOP publishes nothing; the forgeries published nothing
    member = await system.clients["notifier"].get(f"/v1/members/{await _member_id(system)}")
    assert member["sms_opted_out"] is True


async def _member_id(system: LocalSystem) -> str:
    rows: list[dict[str, str]] = await system.clients["scheduler"].get_all(
        "/v1/enrolments", community_id="riverside"
    )
    return rows[0]["member_id"]


async def test_stop_opts_out_with_one_confirmation_and_start_restores(
    system: LocalSystem, nats_tap: NatsTap
) -> None:
    await _prompted(system)
    assert await _reply(system, "Stop. Thank you") == 200
    assert await _reply(system, "STOP") == 200
    await eventually(lambda: len(_texts_to_sam(system)) == 2)
    assert "Reply START" in _texts_to_sam(system)[1]  # one confirmation, not two
    await system.advance_to(MONDAY_0900 + timedelta(weeks=1))
    failed = await eventually(lambda: events_of(nats_tap, PromptFailedV1))
    assert [f.reason.value for f in failed] == ["opted_out"]
    assert len(_texts_to_sam(system)) == 2  # no further prompt

    assert await _reply(system, "START") == 200
    await eventually(lambda: len(_texts_to_sam(system)) == 3)
    await system.advance_to(MONDAY_0900 + timedelta(weeks=2))
    await eventually(lambda: len(_texts_to_sam(system)) == 4)
    assert "How often do you feel lonely?" in _texts_to_sam(system)[3]


async def test_help_gets_help_text(system: LocalSystem) -> None:
    await _prompted(system)
    assert await _reply(system, "help") == 200
    await eventually(lambda: len(_texts_to_sam(system)) == 2)
    assert "STOP" in _texts_to_sam(system)[1]


async def test_an_answer_by_sms_is_recorded_and_published_without_the_text(
    system: LocalSystem, nats_tap: NatsTap
) -> None:
    await _prompted(system)
    assert await _reply(system, "9") == 200  # not an answer code
    await eventually(lambda: len(_texts_to_sam(system)) == 2)
    assert "couldn't read that" in _texts_to_sam(system)[1]
    assert await _reply(system, " 2 ") == 200
    await eventually(lambda: len(_texts_to_sam(system)) == 3)
    assert "Thank you" in _texts_to_sam(system)[2]
    assert await eventually(lambda: events_of(nats_tap, PromptAnsweredV1))
    await system.close_week("2027-W01")
    (response,) = await eventually(lambda: events_of(nats_tap, ResponseReceivedV2))
    assert (response.item, response.value) == ("ons_loneliness", 2)


async def test_distress_gets_support_at_once_and_only_a_count_leaves(
    system: LocalSystem, nats_tap: NatsTap
) -> None:
    await _prompted(system)
    words = "honestly some days I want to die"
    assert await _reply(system, words) == 200
    await eventually(lambda: len(_texts_to_sam(system)) == 2)
    assert "116 123" in _texts_to_sam(system)[1]
    await system.close_week("2027-W01")
    (signposting,) = await eventually(lambda: events_of(nats_tap, SignpostingSentV2))
    assert (signposting.community_id, signposting.iso_week) == ("riverside", "2027-W01")
    assert all(words not in m.text() for m in nats_tap.messages)
    counted = await eventually(lambda: weekly_signposting(system, "riverside"))
    assert counted == {"2027-W01": 1}


async def test_the_lowest_loneliness_answer_gets_support_too(
    system: LocalSystem, nats_tap: NatsTap
) -> None:
    await _prompted(system)
    assert await _reply(system, "1") == 200  # "often or always" lonely
    await eventually(lambda: len(_texts_to_sam(system)) == 2)
    assert "116 123" in _texts_to_sam(system)[1]
    await system.close_week("2027-W01")
    assert await eventually(lambda: events_of(nats_tap, SignpostingSentV2))


async def test_status_callbacks_out_of_order_never_move_backwards(
    system: LocalSystem, nats_tap: NatsTap
) -> None:
    system.twilio.script_statuses(PHONE, "delivered", "sent", "queued")
    await _prompted(system)
    await system.twilio.wait_for_callbacks(3)
    from shared.contracts import PromptDeliveredV1

    delivered = await eventually(lambda: events_of(nats_tap, PromptDeliveredV1))
    assert len(delivered) == 1
    assert events_of(nats_tap, PromptFailedV1) == []


async def test_a_reply_to_a_prompt_still_being_sent_counts_for_that_prompt(
    system: LocalSystem, nats_tap: NatsTap
) -> None:
    # The provider can hand a message over before the dispatcher records it as sent; the
    # hang holds the prompt in that state while the member answers.
    system.twilio.script(PHONE, ScriptedReply.hang())
    await set_up_weekly_check_in(system, (SAM,))
    await system.advance_to(MONDAY_0900)
    await system.twilio.wait_for_requests(PHONE, 1)
    assert await _reply(system, "2") == 200
    await eventually(lambda: events_of(nats_tap, PromptAnsweredV1))
    await system.close_week("2027-W01")
    (response,) = await eventually(lambda: events_of(nats_tap, ResponseReceivedV2))
    assert (response.item, response.value) == ("ons_loneliness", 2)

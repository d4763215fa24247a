"""An opt-out the provider reports in a status callback (Twilio error 21610: the member texted
STOP to our number) is an opt-out here too, on the consent trail like every other change, and
only once."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, TypeVar

import aiohttp

from services.demo.scenario import Person, set_up_weekly_check_in
from services.demo.system import SMS_NUMBER, LocalSystem
from shared.contracts import Channel, Event, PromptFailedV1, PromptSentV1
from shared.devtwilio import ScriptedReply, twilio_signature
from tests.support import NatsTap, eventually

E = TypeVar("E", bound=Event)

MONDAY_0900 = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)
SAM = Person(
    "Sam", "sam@riverside.example", "Europe/London", True, phone="+447911123456", channel="sms"
)
PHONE = SAM.phone or ""


def events_of(tap: NatsTap, kind: type[E]) -> list[E]:
    return [kind.model_validate_json(m.data) for m in tap.on(kind.subject)]


async def _prompt_recorded_as_sent(system: LocalSystem, nats_tap: NatsTap) -> str:
    """Prompt Sam by SMS; once the send is recorded, the message's sid."""
    system.twilio.script_statuses(PHONE, "sent")  # the failure is posted by the test
    await set_up_weekly_check_in(system, (SAM,))
    await system.advance_to(MONDAY_0900)
    # PromptSent is staged in the transaction that records the send: the sid is known.
    sent = await eventually(lambda: events_of(nats_tap, PromptSentV1))
    assert [e.channel.value for e in sent] == ["sms"]
    (message,) = system.twilio.to(PHONE)
    return message.sid


async def _post_status(system: LocalSystem, sid: str, status: str, error_code: str) -> int:
    """A status callback signed as Twilio signs it; the notifier's HTTP status."""
    url = system.sms_webhook("status")
    form = {"MessageSid": sid, "MessageStatus": status, "ErrorCode": error_code, "To": PHONE}
    headers = {"X-Twilio-Signature": twilio_signature(url, form, system.twilio.auth_token)}
    async with (
        aiohttp.ClientSession() as http,
        http.post(url, data=form, headers=headers) as answer,
    ):
        return answer.status


async def _member_id(system: LocalSystem) -> str:
    rows: list[dict[str, str]] = await system.clients["scheduler"].get_all(
        "/v1/enrolments", community_id="riverside"
    )
    return rows[0]["member_id"]


async def _sms_consents(system: LocalSystem, member_id: str) -> list[tuple[bool, str]]:
    trail: list[dict[str, Any]] = await system.clients["notifier"].get_all(
        f"/v1/members/{member_id}/consents"
    )
    return [(row["given"], row["source"]) for row in trail if row["kind"] == "sms"]


async def test_a_21610_status_callback_opts_out_through_the_consent_trail_once(
    system: LocalSystem, nats_tap: NatsTap
) -> None:
    sid = await _prompt_recorded_as_sent(system, nats_tap)
    member_id = await _member_id(system)
    assert await _sms_consents(system, member_id) == []

    assert await _post_status(system, sid, "undelivered", "21610") == 204
    assert await _post_status(system, sid, "undelivered", "21610") == 204  # Twilio retries

    failed = await eventually(lambda: events_of(nats_tap, PromptFailedV1))
    assert [(f.channel, f.reason.value) for f in failed] == [(Channel.sms, "opted_out")]
    assert await _sms_consents(system, member_id) == [(False, "provider:twilio")]
    member = await system.clients["notifier"].get(f"/v1/members/{member_id}")
    assert member["sms_opted_out"] is True


async def test_a_21610_callback_after_a_stop_keyword_adds_no_second_trail_row(
    system: LocalSystem, nats_tap: NatsTap
) -> None:
    sid = await _prompt_recorded_as_sent(system, nats_tap)
    member_id = await _member_id(system)
    inbound = system.sms_webhook("inbound")
    assert await system.twilio.send_inbound(inbound, PHONE, SMS_NUMBER, "STOP") == 200
    assert await _sms_consents(system, member_id) == [(False, "sms keyword")]

    assert await _post_status(system, sid, "failed", "21610") == 204

    failed = await eventually(lambda: events_of(nats_tap, PromptFailedV1))
    assert [f.reason.value for f in failed] == ["opted_out"]  # the send failed all the same
    assert await _sms_consents(system, member_id) == [(False, "sms keyword")]


async def test_an_undelivered_callback_with_another_code_opts_nobody_out(
    system: LocalSystem, nats_tap: NatsTap
) -> None:
    sid = await _prompt_recorded_as_sent(system, nats_tap)
    member_id = await _member_id(system)

    assert await _post_status(system, sid, "undelivered", "30003") == 204  # unreachable handset

    failed = await eventually(lambda: events_of(nats_tap, PromptFailedV1))
    assert [f.reason.value for f in failed] == ["undelivered"]
    assert await _sms_consents(system, member_id) == []
    member = await system.clients["notifier"].get(f"/v1/members/{member_id}")
    assert member["sms_opted_out"] is False


async def test_a_send_refused_with_21610_opts_out_through_the_consent_trail(
    system: LocalSystem, nats_tap: NatsTap
) -> None:
    # The provider refuses the send itself: the recipient texted STOP to the sender before.
    system.twilio.script(PHONE, ScriptedReply.twilio_error(21610))
    await set_up_weekly_check_in(system, (SAM,))
    await system.advance_to(MONDAY_0900)

    failed = await eventually(lambda: events_of(nats_tap, PromptFailedV1))
    assert [(f.channel, f.reason.value) for f in failed] == [(Channel.sms, "opted_out")]
    member_id = await _member_id(system)
    assert await eventually(lambda: _sms_consents(system, member_id)) == [
        (False, "provider:twilio")
    ]
    member = await system.clients["notifier"].get(f"/v1/members/{member_id}")
    assert member["sms_opted_out"] is True
    assert system.twilio.to(PHONE) == []

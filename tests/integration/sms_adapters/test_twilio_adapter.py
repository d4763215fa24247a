"""TwilioSender against the fake Twilio Messages API over real HTTP on 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from services.notifier.adapters.sms.base import SmsFailureReason, SmsSendFailed
from services.notifier.adapters.sms.twilio import TwilioConfig, TwilioSender
from shared.devtwilio import FakeTwilio, ScriptedReply
from shared.natsdev import free_port
from tests.integration.sms_adapters.receiver import WebhookReceiver

MEMBER = "+447700900123"
SENDER_NUMBER = "+447700900999"


@pytest.fixture
async def fake() -> AsyncIterator[FakeTwilio]:
    async with FakeTwilio() as running:
        yield running


def config_for(
    fake: FakeTwilio,
    *,
    from_number: str | None = SENDER_NUMBER,
    messaging_service_sid: str | None = None,
    auth_token: str | None = None,
    timeout_s: float = 5.0,
    connection_limit: int = 32,
) -> TwilioConfig:
    return TwilioConfig(
        account_sid=fake.account_sid,
        auth_token=auth_token or fake.auth_token,
        from_number=from_number,
        messaging_service_sid=messaging_service_sid,
        base_url=fake.base_url,
        timeout_s=timeout_s,
        connection_limit=connection_limit,
    )


@pytest.fixture
async def sender(fake: FakeTwilio) -> AsyncIterator[TwilioSender]:
    async with TwilioSender(config_for(fake)) as running:
        yield running


@pytest.fixture
async def receiver(fake: FakeTwilio) -> AsyncIterator[WebhookReceiver]:
    async with WebhookReceiver(fake.auth_token) as running:
        yield running


async def test_an_accepted_message_returns_twilios_sid(
    fake: FakeTwilio, sender: TwilioSender
) -> None:
    accepted = await sender.send(MEMBER, "How was your week? Reply 1-5", None, "delivery-1")

    [message] = fake.to(MEMBER)
    assert accepted.provider_message_id == message.sid
    assert message.sid.startswith("SM")
    assert (message.from_, message.messaging_service_sid) == (SENDER_NUMBER, None)
    assert message.body == "How was your week? Reply 1-5"
    assert message.status_callback is None


async def test_a_messaging_service_replaces_the_from_number(fake: FakeTwilio) -> None:
    config = config_for(fake, from_number=None, messaging_service_sid="MG" + "1" * 32)
    async with TwilioSender(config) as sender:
        await sender.send(MEMBER, "Hello", None, "delivery-1")
    [message] = fake.to(MEMBER)
    assert (message.from_, message.messaging_service_sid) == (None, "MG" + "1" * 32)


def test_exactly_one_sender_identity_is_required() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        TwilioConfig("AC1", "token")
    with pytest.raises(ValueError, match="exactly one"):
        TwilioConfig("AC1", "token", from_number="+1", messaging_service_sid="MG1")


def test_the_auth_token_is_not_in_the_config_repr() -> None:
    assert "s3cret" not in repr(TwilioConfig("AC1", "s3cret", from_number="+1"))


async def test_429_is_transient_with_retry_after_then_the_retry_succeeds(
    fake: FakeTwilio, sender: TwilioSender
) -> None:
    fake.script(MEMBER, ScriptedReply.rate_limited(retry_after_s=7))

    with pytest.raises(SmsSendFailed) as refused:
        await sender.send(MEMBER, "Hello", None, "delivery-1")
    assert (refused.value.status, refused.value.reason, refused.value.permanent) == (
        429,
        SmsFailureReason.RATE_LIMITED,
        False,
    )
    assert refused.value.retry_after_s == 7.0

    accepted = await sender.send(MEMBER, "Hello", None, "delivery-1")
    assert [m.sid for m in fake.to(MEMBER)] == [accepted.provider_message_id]
    assert fake.request_count(MEMBER) == 2


async def test_429_without_retry_after_has_no_hint(fake: FakeTwilio, sender: TwilioSender) -> None:
    fake.script(MEMBER, ScriptedReply.rate_limited(retry_after_s=None))
    with pytest.raises(SmsSendFailed) as refused:
        await sender.send(MEMBER, "Hello", None, "delivery-1")
    assert refused.value.retry_after_s is None


async def test_500_is_transient(fake: FakeTwilio, sender: TwilioSender) -> None:
    fake.script(MEMBER, ScriptedReply.server_error(), times=2)
    for _ in range(2):
        with pytest.raises(SmsSendFailed) as refused:
            await sender.send(MEMBER, "Hello", None, "delivery-1")
        assert (refused.value.reason, refused.value.permanent) == (
            SmsFailureReason.SERVER_ERROR,
            False,
        )
    await sender.send(MEMBER, "Hello", None, "delivery-1")
    assert len(fake.to(MEMBER)) == 1


async def test_21610_means_the_recipient_opted_out(fake: FakeTwilio, sender: TwilioSender) -> None:
    fake.script(MEMBER, ScriptedReply.twilio_error(21610))
    with pytest.raises(SmsSendFailed) as refused:
        await sender.send(MEMBER, "Hello", None, "delivery-1")
    failure = refused.value
    assert (failure.status, failure.reason, failure.permanent, failure.provider_code) == (
        400,
        SmsFailureReason.RECIPIENT_OPTED_OUT,
        True,
        21610,
    )
    assert fake.to(MEMBER) == []


@pytest.mark.parametrize("code", [21211, 21614, 21217])
async def test_invalid_number_codes_are_permanent(
    fake: FakeTwilio, sender: TwilioSender, code: int
) -> None:
    fake.script(MEMBER, ScriptedReply.twilio_error(code))
    with pytest.raises(SmsSendFailed) as refused:
        await sender.send(MEMBER, "Hello", None, "delivery-1")
    assert (refused.value.reason, refused.value.permanent, refused.value.provider_code) == (
        SmsFailureReason.INVALID_NUMBER,
        True,
        code,
    )


async def test_a_number_that_is_not_e164_is_refused_by_twilio_as_invalid(
    fake: FakeTwilio, sender: TwilioSender
) -> None:
    with pytest.raises(SmsSendFailed) as refused:
        await sender.send("07700900123", "Hello", None, "delivery-1")
    assert (refused.value.reason, refused.value.provider_code) == (
        SmsFailureReason.INVALID_NUMBER,
        21211,
    )
    # Twilio's error text quotes the number; the failure must not.
    assert "07700900123" not in str(refused.value)
    assert "07700900123" not in repr(refused.value.args)


async def test_other_twilio_errors_are_permanent_rejections(
    fake: FakeTwilio, sender: TwilioSender
) -> None:
    fake.script(MEMBER, ScriptedReply.twilio_error(21408))  # region not enabled
    with pytest.raises(SmsSendFailed) as refused:
        await sender.send(MEMBER, "Hello", None, "delivery-1")
    assert (refused.value.reason, refused.value.permanent) == (SmsFailureReason.REJECTED, True)


async def test_a_hung_request_times_out_as_transient(fake: FakeTwilio) -> None:
    fake.script(MEMBER, ScriptedReply.hang())
    async with TwilioSender(config_for(fake, timeout_s=0.2)) as sender:
        with pytest.raises(SmsSendFailed) as refused:
            await sender.send(MEMBER, "Hello", None, "delivery-1")
        assert (refused.value.status, refused.value.reason, refused.value.permanent) == (
            None,
            SmsFailureReason.TIMEOUT,
            False,
        )
        # The pool recovers: the next request goes through.
        await sender.send(MEMBER, "Hello", None, "delivery-1")
    assert len(fake.to(MEMBER)) == 1


async def test_wrong_credentials_are_unauthorized_and_transient(fake: FakeTwilio) -> None:
    async with TwilioSender(config_for(fake, auth_token="not-the-token")) as sender:
        with pytest.raises(SmsSendFailed) as refused:
            await sender.send(MEMBER, "Hello", None, "delivery-1")
    assert (refused.value.status, refused.value.reason, refused.value.permanent) == (
        401,
        SmsFailureReason.UNAUTHORIZED,
        False,
    )
    assert fake.to(MEMBER) == []


async def test_nothing_listening_is_a_transient_connection_error() -> None:
    config = TwilioConfig(
        "AC1", "token", from_number=SENDER_NUMBER, base_url=f"http://127.0.0.1:{free_port()}"
    )
    async with TwilioSender(config) as sender:
        with pytest.raises(SmsSendFailed) as refused:
            await sender.send(MEMBER, "Hello", None, "delivery-1")
    assert (refused.value.reason, refused.value.permanent) == (
        SmsFailureReason.CONNECTION_ERROR,
        False,
    )


async def test_sending_before_start_is_a_programming_error(fake: FakeTwilio) -> None:
    sender = TwilioSender(config_for(fake))
    with pytest.raises(RuntimeError, match="not started"):
        await sender.send(MEMBER, "Hello", None, "delivery-1")


async def test_concurrent_sends_share_the_pool(fake: FakeTwilio) -> None:
    async with TwilioSender(config_for(fake, connection_limit=4)) as sender:
        accepted = await asyncio.gather(
            *(sender.send(f"+4477009001{n:02d}", "Hello", None, f"d-{n}") for n in range(40))
        )
    assert len({a.provider_message_id for a in accepted}) == 40
    assert len(fake.messages) == 40


async def test_status_callbacks_arrive_signed_sent_then_delivered(
    fake: FakeTwilio, sender: TwilioSender, receiver: WebhookReceiver
) -> None:
    callback_url = receiver.url("/sms/status?delivery=d_1")
    accepted = await sender.send(MEMBER, "Hello", callback_url, "delivery-1")

    callbacks = await fake.wait_for_callbacks(2)
    assert [(c.sid, c.status, c.http_status) for c in callbacks] == [
        (accepted.provider_message_id, "sent", 204),
        (accepted.provider_message_id, "delivered", 204),
    ]
    assert receiver.statuses() == ["sent", "delivered"]
    assert all(r.signature_valid for r in receiver.received)
    assert {r.form["MessageSid"] for r in receiver.received} == {accepted.provider_message_id}
    assert {r.form["AccountSid"] for r in receiver.received} == {fake.account_sid}


async def test_scripted_callbacks_can_fail_and_arrive_out_of_order(
    fake: FakeTwilio, sender: TwilioSender, receiver: WebhookReceiver
) -> None:
    fake.script_statuses(MEMBER, "delivered", "sent")
    fake.script_statuses("+447700900456", "sent", "undelivered", error_code=30003)
    await sender.send(MEMBER, "Hello", receiver.url("/sms/status"), "delivery-1")
    await sender.send("+447700900456", "Hello", receiver.url("/sms/status"), "delivery-2")

    await fake.wait_for_callbacks(4)
    by_number: dict[str, list[tuple[str, str | None]]] = {}
    for received in receiver.received:
        by_number.setdefault(received.form["To"], []).append(
            (received.form["MessageStatus"], received.form.get("ErrorCode"))
        )
    assert by_number[MEMBER] == [("delivered", None), ("sent", None)]
    assert by_number["+447700900456"] == [("sent", None), ("undelivered", "30003")]


async def test_a_receiver_with_another_token_refuses_the_callbacks(
    fake: FakeTwilio, sender: TwilioSender
) -> None:
    async with WebhookReceiver("some-other-token") as stranger:
        await sender.send(MEMBER, "Hello", stranger.url("/sms/status"), "delivery-1")
        callbacks = await fake.wait_for_callbacks(2)
    assert [c.http_status for c in callbacks] == [403, 403]
    assert not any(r.signature_valid for r in stranger.received)


async def test_an_inbound_reply_is_posted_signed(
    fake: FakeTwilio, receiver: WebhookReceiver
) -> None:
    status = await fake.send_inbound(
        receiver.url("/sms/inbound?community=north"), MEMBER, SENDER_NUMBER, "2"
    )
    assert status == 204
    [received] = receiver.received
    assert received.signature_valid
    assert received.path == "/sms/inbound"
    assert (received.form["From"], received.form["To"], received.form["Body"]) == (
        MEMBER,
        SENDER_NUMBER,
        "2",
    )
    assert received.form["MessageSid"].startswith("SM")


async def test_a_forged_inbound_reply_is_refused(
    fake: FakeTwilio, receiver: WebhookReceiver
) -> None:
    status = await fake.send_inbound(
        receiver.url("/sms/inbound"), MEMBER, SENDER_NUMBER, "STOP", signature="forged="
    )
    assert status == 403
    [received] = receiver.received  # recorded before the receiver answered
    assert not received.signature_valid

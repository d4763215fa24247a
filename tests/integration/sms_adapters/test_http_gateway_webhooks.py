"""The generic gateway's webhooks, end to end: the notifier sends through a gateway on
127.0.0.1, which reports statuses and posts replies signed with HMAC-SHA256 over a timestamp
and the body; forged, unsigned or stale calls are refused and change nothing."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest

from services.demo.scenario import Person, set_up_weekly_check_in
from services.demo.system import DatabaseFor, LocalSystem
from shared.clock import ManualClock
from shared.contracts import (
    Event,
    PromptAnsweredV1,
    PromptDeliveredV1,
    PromptFailedV1,
    PromptSentV1,
)
from tests.integration.sms_adapters.fake_gateway import FakeGateway
from tests.support import NatsTap, eventually

E = TypeVar("E", bound=Event)

MONDAY_0900 = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)
SAM = Person(
    "Sam", "sam@riverside.example", "Europe/London", True, phone="+447911123456", channel="sms"
)
PHONE = SAM.phone or ""
PROBLEM_JSON = "application/problem+json"


@pytest.fixture
async def gateway() -> AsyncIterator[FakeGateway]:
    async with FakeGateway(secret=secrets.token_urlsafe(32)) as fake:
        yield fake


@pytest.fixture
async def system(
    tmp_path: Path, clock: ManualClock, database_for: DatabaseFor, gateway: FakeGateway
) -> AsyncIterator[LocalSystem]:
    overrides = {
        "sms_provider": "http_gateway",
        "sms_gateway_url": gateway.url,
        "sms_gateway_webhook_secret": gateway.secret,
    }
    async with LocalSystem(tmp_path, clock, database_for, notifier_overrides=overrides) as local:
        yield local


def events_of(tap: NatsTap, kind: type[E]) -> list[E]:
    return [kind.model_validate_json(m.data) for m in tap.on(kind.subject)]


def now_s(system: LocalSystem) -> int:
    return int(system.clock.now().timestamp())


async def _prompted(system: LocalSystem, gateway: FakeGateway, nats_tap: NatsTap) -> str:
    """Prompt Sam through the gateway; once the send is recorded, the gateway's message id."""
    await set_up_weekly_check_in(system, (SAM,))
    await system.advance_to(MONDAY_0900)
    await eventually(lambda: events_of(nats_tap, PromptSentV1))
    (message,) = gateway.to(PHONE)
    return message.id


async def _status(system: LocalSystem, gateway: FakeGateway, document: dict[str, Any]) -> int:
    answer = await gateway.post(system.sms_webhook("status"), document, now_s(system))
    return answer.status


async def _member_id(system: LocalSystem) -> str:
    rows: list[dict[str, str]] = await system.clients["scheduler"].get_all(
        "/v1/enrolments", community_id="riverside"
    )
    return rows[0]["member_id"]


async def _sms_consents(system: LocalSystem) -> list[tuple[bool, str]]:
    member_id = await _member_id(system)
    trail: list[dict[str, Any]] = await system.clients["notifier"].get_all(
        f"/v1/members/{member_id}/consents"
    )
    return [(row["given"], row["source"]) for row in trail if row["kind"] == "sms"]


async def test_the_gateway_gets_its_status_route_and_a_delivery_is_reported(
    system: LocalSystem, gateway: FakeGateway, nats_tap: NatsTap
) -> None:
    message_id = await _prompted(system, gateway, nats_tap)
    (message,) = gateway.to(PHONE)
    assert message.callback_url == system.sms_webhook("status")
    assert message.callback_url.endswith("/v1/webhooks/sms/http_gateway/status")

    for state in ("sent", "delivered", "sent"):  # the late "sent" moves nothing back
        assert await _status(system, gateway, {"id": message_id, "status": state}) == 204

    delivered = await eventually(lambda: events_of(nats_tap, PromptDeliveredV1))
    assert [e.channel.value for e in delivered] == ["sms"]
    assert events_of(nats_tap, PromptFailedV1) == []


async def test_a_failure_is_reported_with_its_code_and_opts_nobody_out(
    system: LocalSystem, gateway: FakeGateway, nats_tap: NatsTap
) -> None:
    message_id = await _prompted(system, gateway, nats_tap)
    document = {"id": message_id, "status": "failed", "error_code": 4711}
    assert await _status(system, gateway, document) == 204

    (failed,) = await eventually(lambda: events_of(nats_tap, PromptFailedV1))
    assert (failed.reason.value, failed.provider_status) == ("undelivered", 4711)
    assert await _sms_consents(system) == []


async def test_an_opt_out_at_the_gateway_is_on_the_consent_trail_once(
    system: LocalSystem, gateway: FakeGateway, nats_tap: NatsTap
) -> None:
    message_id = await _prompted(system, gateway, nats_tap)
    for _ in range(2):  # a repeated callback adds nothing
        answer = await _status(system, gateway, {"id": message_id, "status": "opted_out"})
        assert answer == 204

    (failed,) = await eventually(lambda: events_of(nats_tap, PromptFailedV1))
    assert failed.reason.value == "opted_out"
    assert await _sms_consents(system) == [(False, "provider:http_gateway")]


async def test_an_inbound_reply_is_recorded_and_answered_through_the_gateway(
    system: LocalSystem, gateway: FakeGateway, nats_tap: NatsTap
) -> None:
    await _prompted(system, gateway, nats_tap)
    inbound = {"id": "gw-in-1", "from": PHONE, "body": " 2 "}
    answer = await gateway.post(system.sms_webhook("inbound"), inbound, now_s(system))
    assert (answer.status, answer.body) == (204, {})

    assert await eventually(lambda: events_of(nats_tap, PromptAnsweredV1))
    await eventually(lambda: len(gateway.to(PHONE)) == 2)
    reply = gateway.to(PHONE)[1]
    assert "Thank you" in reply.body
    assert reply.callback_url is None  # a reply is not tracked


async def test_unsigned_forged_or_stale_calls_get_403_and_change_nothing(
    system: LocalSystem, gateway: FakeGateway, nats_tap: NatsTap
) -> None:
    message_id = await _prompted(system, gateway, nats_tap)
    now = now_s(system)
    stop = {"id": "gw-in-forged", "from": PHONE, "body": "STOP"}
    body = b'{"id": "gw-in-forged", "from": "+447911123456", "body": "STOP"}'
    forger = FakeGateway(secret="not-the-gateway-secret-at-all")
    stale = int((system.clock.now() - timedelta(minutes=6)).timestamp())
    early = int((system.clock.now() + timedelta(minutes=6)).timestamp())
    signed_for_other_body = gateway.signed_headers(b'{"id": "x"}', now)
    refusals = {
        "unsigned": {"Content-Type": "application/json"},
        "no timestamp": gateway.signed_headers(body, now) | {"X-Gateway-Timestamp": ""},
        "another secret": forger.signed_headers(body, now),
        "another body": signed_for_other_body,
        "another timestamp": gateway.signed_headers(body, now) | {"X-Gateway-Timestamp": "1"},
        "stale": gateway.signed_headers(body, stale),
        "from the future": gateway.signed_headers(body, early),
    }
    for case, headers in refusals.items():
        for kind, document in (
            ("inbound", stop),
            ("status", {"id": message_id, "status": "opted_out"}),
        ):
            answer = await gateway.post(system.sms_webhook(kind), document, now, headers)
            assert (answer.status, answer.content_type) == (403, PROBLEM_JSON), (case, kind)
            assert answer.body["status"] == 403

    assert len(gateway.to(PHONE)) == 1  # no confirmation of a forged STOP
    member = await system.clients["notifier"].get(f"/v1/members/{await _member_id(system)}")
    assert member["sms_opted_out"] is False
    assert await _sms_consents(system) == []
    assert events_of(nats_tap, PromptFailedV1) == []
    # The same STOP, correctly signed, is taken.
    answer = await gateway.post(system.sms_webhook("inbound"), stop, now)
    assert answer.status == 204
    assert await _sms_consents(system) == [(False, "sms keyword")]


async def test_a_signed_call_that_is_not_the_documented_json_is_a_422(
    system: LocalSystem, gateway: FakeGateway, nats_tap: NatsTap
) -> None:
    message_id = await _prompted(system, gateway, nats_tap)
    for kind, document in (
        ("status", {"id": message_id, "status": "lost"}),
        ("status", {"id": message_id, "status": "failed", "error_code": "4711"}),
        ("status", {"status": "delivered"}),
        ("status", {"id": "x" * 65, "status": "delivered"}),
        ("inbound", {"id": "gw-in-2", "body": "2"}),
        ("inbound", {"id": "", "from": PHONE, "body": "2"}),
    ):
        answer = await gateway.post(system.sms_webhook(kind), document, now_s(system))
        assert (answer.status, answer.content_type) == (422, PROBLEM_JSON), document
    assert events_of(nats_tap, PromptAnsweredV1) == []
    assert events_of(nats_tap, PromptDeliveredV1) == []


async def test_only_the_configured_providers_routes_answer(
    system: LocalSystem, gateway: FakeGateway
) -> None:
    base = system.url("notifier-public")
    document = {"id": "gw-1", "status": "delivered"}
    for provider in ("twilio", "outbox", "nobody"):
        url = f"{base}/v1/webhooks/sms/{provider}/status"
        answer = await gateway.post(url, document, now_s(system))
        assert (answer.status, answer.content_type) == (404, PROBLEM_JSON), provider
        assert provider not in str(answer.body)

"""The generic gateway's webhook signature (HMAC-SHA256 over "<timestamp>." + body) and how its
calls are read: a vector computed outside this code base, the replay window, and refusals."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from services.notifier.adapters.sms.base import SmsState, WebhookCall, WebhookRefused
from services.notifier.adapters.sms.http_gateway import GatewayWebhooks
from services.notifier.adapters.sms.http_gateway.signature import (
    gateway_signature,
    is_fresh,
    is_valid_signature,
)
from shared.clock import ManualClock

# printf '1767225600.{}' | openssl dgst -sha256 -hmac k
VECTOR = "sha256=fed6131b41a6ecb5f059cee4c80c7df319ff6fa75d64b59110157107b6b6fbed"
SECRET = b"k"
NOW = datetime(2026, 1, 1, tzinfo=UTC)  # 1767225600
URL = "https://rituals.example.org/v1/webhooks/sms/http_gateway/status"


def test_the_signature_matches_a_vector_made_with_openssl() -> None:
    assert gateway_signature(SECRET, "1767225600", b"{}") == VECTOR
    assert is_valid_signature(SECRET, "1767225600", b"{}", VECTOR)


@pytest.mark.parametrize(
    ("timestamp", "body", "signature"),
    [
        ("1767225600", b"{} ", VECTOR),  # another body
        ("1767225601", b"{}", VECTOR),  # another timestamp
        ("1767225600", b"{}", VECTOR.upper()),
        ("1767225600", b"{}", VECTOR.removeprefix("sha256=")),
        ("1767225600", b"{}", None),
        ("1767225600", b"{}", ""),
        (None, b"{}", VECTOR),
        ("", b"{}", VECTOR),
        ("+1767225600", b"{}", gateway_signature(SECRET, "+1767225600", b"{}")),
        ("١٧٦٧٢٢٥٦٠٠", b"{}", gateway_signature(SECRET, "١٧٦٧٢٢٥٦٠٠", b"{}")),  # not ASCII
    ],
)
def test_anything_else_is_not_valid(
    timestamp: str | None, body: bytes, signature: str | None
) -> None:
    assert not is_valid_signature(SECRET, timestamp, body, signature)


def test_an_empty_secret_validates_nothing() -> None:
    assert not is_valid_signature(
        b"", "1767225600", b"{}", gateway_signature(b"", "1767225600", b"{}")
    )


@pytest.mark.parametrize(
    ("offset_s", "fresh"), [(0, True), (300, True), (-300, True), (301, False), (-301, False)]
)
def test_a_timestamp_is_fresh_within_five_minutes_either_way(offset_s: int, fresh: bool) -> None:
    assert is_fresh(str(1767225600 + offset_s), NOW) is fresh


def call(document: object, timestamp: int = 1767225600, secret: bytes = SECRET) -> WebhookCall:
    body = json.dumps(document).encode()
    headers = {
        "x-gateway-timestamp": str(timestamp),
        "x-gateway-signature": gateway_signature(secret, str(timestamp), body),
    }
    return WebhookCall((URL,), headers, "application/json", body)


@pytest.fixture
def webhooks() -> GatewayWebhooks:
    return GatewayWebhooks(SECRET, ManualClock(NOW))


@pytest.mark.parametrize("state", list(SmsState))
def test_every_documented_status_is_read(webhooks: GatewayWebhooks, state: SmsState) -> None:
    report = webhooks.read_status(call({"id": "gw-1", "status": state.value, "error_code": 7}))
    assert (report.provider_message_id, report.state, report.error_code) == ("gw-1", state, 7)
    assert report.opted_out is (state is SmsState.OPTED_OUT)


def test_an_inbound_message_is_read(webhooks: GatewayWebhooks) -> None:
    message = webhooks.read_inbound(call({"id": "in-1", "from": "+447700900123", "body": "2"}))
    assert (message.provider_message_id, message.from_number, message.body) == (
        "in-1",
        "+447700900123",
        "2",
    )


@pytest.mark.parametrize(
    ("made", "status"),
    [
        (call({"id": "gw-1", "status": "delivered"}, secret=b"other"), 403),
        (call({"id": "gw-1", "status": "delivered"}, timestamp=1767225600 - 301), 403),
        (call({"id": "gw-1", "status": "delivered"}, timestamp=1767225600 + 301), 403),
        (call(["gw-1", "delivered"]), 422),
        (call({"id": "gw-1", "status": "DELIVERED"}), 422),
        (call({"id": "gw-1", "status": "delivered", "error_code": True}), 422),
        (call({"id": 1, "status": "delivered"}), 422),
    ],
)
def test_refusals(webhooks: GatewayWebhooks, made: WebhookCall, status: int) -> None:
    with pytest.raises(WebhookRefused) as refused:
        webhooks.read_status(made)
    assert refused.value.status == status


def test_a_signed_body_that_is_not_json_is_refused_with_415_when_not_declared_json(
    webhooks: GatewayWebhooks,
) -> None:
    signed = call({"id": "gw-1", "status": "delivered"})
    as_form = WebhookCall(
        signed.urls, signed.headers, "application/x-www-form-urlencoded", signed.body
    )
    with pytest.raises(WebhookRefused) as refused:
        webhooks.read_status(as_form)
    assert refused.value.status == 415

from __future__ import annotations

import pytest

from services.notifier.adapters.sms.base import SmsFailureReason, SmsSendFailed
from services.notifier.adapters.sms.http_client import (
    failure_for_status,
    retry_after_seconds,
    transport_failure,
)


@pytest.mark.parametrize(
    ("status", "reason", "permanent"),
    [
        (429, SmsFailureReason.RATE_LIMITED, False),
        (500, SmsFailureReason.SERVER_ERROR, False),
        (502, SmsFailureReason.SERVER_ERROR, False),
        (503, SmsFailureReason.SERVER_ERROR, False),
        (408, SmsFailureReason.TIMEOUT, False),
        (401, SmsFailureReason.UNAUTHORIZED, False),
        (403, SmsFailureReason.UNAUTHORIZED, False),
        (400, SmsFailureReason.REJECTED, True),
        (404, SmsFailureReason.REJECTED, True),
        (422, SmsFailureReason.REJECTED, True),
        (302, SmsFailureReason.SERVER_ERROR, False),
    ],
)
def test_statuses_are_sorted_into_transient_and_permanent(
    status: int, reason: SmsFailureReason, permanent: bool
) -> None:
    failure = failure_for_status(status, None)
    assert (failure.status, failure.reason, failure.permanent) == (status, reason, permanent)


def test_a_known_client_error_keeps_its_reason() -> None:
    failure = failure_for_status(
        400, None, client_error=SmsFailureReason.INVALID_NUMBER, provider_code=21211
    )
    assert (failure.reason, failure.permanent, failure.provider_code) == (
        SmsFailureReason.INVALID_NUMBER,
        True,
        21211,
    )


def test_the_client_error_reason_does_not_override_a_transient_status() -> None:
    failure = failure_for_status(429, "2", client_error=SmsFailureReason.INVALID_NUMBER)
    assert (failure.reason, failure.permanent, failure.retry_after_s) == (
        SmsFailureReason.RATE_LIMITED,
        False,
        2.0,
    )


def test_retry_after_is_kept_for_transient_failures_only() -> None:
    assert failure_for_status(503, "30").retry_after_s == 30.0
    assert failure_for_status(400, "30").retry_after_s is None


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        (None, None),
        ("", None),
        ("5", 5.0),
        (" 5 ", 5.0),
        ("0", 0.0),
        ("1.5", 1.5),
        ("-1", None),
        ("nan", None),
        ("inf", None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", None),
    ],
)
def test_retry_after_seconds(header: str | None, seconds: float | None) -> None:
    assert retry_after_seconds(header) == seconds


def test_transport_failures_are_transient() -> None:
    timeout = transport_failure(TimeoutError())
    refused = transport_failure(ConnectionRefusedError())
    assert (timeout.status, timeout.reason, timeout.permanent) == (
        None,
        SmsFailureReason.TIMEOUT,
        False,
    )
    assert (refused.reason, refused.permanent) == (SmsFailureReason.CONNECTION_ERROR, False)


def test_a_failure_says_nothing_but_codes() -> None:
    failure = SmsSendFailed(400, True, SmsFailureReason.INVALID_NUMBER, provider_code=21211)
    assert str(failure) == "SMS not accepted: invalid_number (permanent, status 400)"

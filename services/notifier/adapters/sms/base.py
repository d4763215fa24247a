"""The SMS port: what the notifier needs from any provider, and how a refusal is described.

A failure carries a status, whether retrying can help, and a short reason code. Providers'
error texts quote the phone number ("The 'To' number +44… is not valid"), so they never leave
the adapter: ``SmsSendFailed`` is safe to log and to use as a dead-letter reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol


class SmsFailureReason(StrEnum):
    RATE_LIMITED = "rate_limited"
    SERVER_ERROR = "server_error"
    TIMEOUT = "timeout"
    """No answer in time: the provider may or may not have accepted the message."""
    CONNECTION_ERROR = "connection_error"
    UNAUTHORIZED = "unauthorized"
    """Our credentials were refused: an operator must fix configuration; the message is fine."""
    INVALID_NUMBER = "invalid_number"
    RECIPIENT_OPTED_OUT = "recipient_opted_out"
    REJECTED = "rejected"
    INVALID_RESPONSE = "invalid_response"
    """Accepted (2xx) without a usable message id: not retried, a retry could send twice."""


@dataclass(frozen=True)
class SmsAccepted:
    provider_message_id: str


class SmsSendFailed(Exception):
    """The provider did not accept the message. ``permanent``: retrying the same message to the
    same number will fail the same way. ``retry_after_s``: the provider's own hint, if any."""

    def __init__(
        self,
        status: int | None,
        permanent: bool,
        reason: SmsFailureReason,
        *,
        retry_after_s: float | None = None,
        provider_code: int | None = None,
    ) -> None:
        kind = "permanent" if permanent else "transient"
        super().__init__(f"SMS not accepted: {reason} ({kind}, status {status})")
        self.status = status
        self.permanent = permanent
        self.reason = reason
        self.retry_after_s = retry_after_s
        self.provider_code = provider_code


class SmsSender(Protocol):
    async def send(
        self,
        to_e164: str,
        body: str,
        status_callback_url: str | None,
        idempotency_key: str,
    ) -> SmsAccepted:
        """Hand one message to the provider; raise ``SmsSendFailed`` if it was not accepted.

        ``idempotency_key`` is stable across retries of the same message. Providers that honour
        one get it; Twilio has none, so callers keep a send ledger either way.
        """
        ...

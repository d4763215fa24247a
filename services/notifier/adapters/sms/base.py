"""The SMS port: what the notifier needs from any provider, how a refusal is described, and
what a provider's webhooks are read into (provider-neutral: each package in this directory maps
its own wire format to these).

A failure carries a status, whether retrying can help, and a short reason code. Providers'
error texts quote the phone number ("The 'To' number +44… is not valid"), so they never leave
the adapter: ``SmsSendFailed`` is safe to log and to use as a dead-letter reason.
"""

from __future__ import annotations

from collections.abc import Mapping
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


class ManagedSmsSender(SmsSender, Protocol):
    """An ``SmsSender`` the runtime opens before use and closes at shutdown."""

    async def start(self) -> None: ...

    async def close(self) -> None: ...


class SmsState(StrEnum):
    """Where a sent message is, in words every provider's statuses are mapped to (ranked in
    ``handlers/provider_status.py``). Each provider package maps its own vocabulary."""

    ACCEPTED = "accepted"  # the provider has it, not yet queued for the carrier
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"  # handed to the carrier
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"  # the carrier could not deliver it
    FAILED = "failed"  # the provider could not send it
    # Failed because the recipient opted out at the provider (texted STOP to the number).
    # A state of its own, not a flag: a status kept for later (``provider_status_backlog``)
    # holds only the state and a code, and must still mean an opt-out when it is applied.
    OPTED_OUT = "opted_out"
    READ = "read"


@dataclass(frozen=True)
class StatusReport:
    """A provider's status callback, read by its package. ``state`` None: a status of the
    provider's that the notifier does not track (acknowledged, then ignored)."""

    provider_message_id: str
    state: SmsState | None
    error_code: int | None = None

    @property
    def opted_out(self) -> bool:
        return self.state is SmsState.OPTED_OUT


@dataclass(frozen=True)
class ReceivedSms:
    """An SMS a member sent us, read from the provider's inbound webhook. ``from_number`` is
    as the provider wrote it (the route normalises it to E.164)."""

    provider_message_id: str
    from_number: str
    body: str


@dataclass(frozen=True)
class WebhookCall:
    """A provider's call to one of our webhook routes, as received: nothing read from it yet.

    ``urls``: the URLs the provider may have called (the configured public one, and behind a
    trusted ingress the one its X-Forwarded-* headers describe), path and query as sent.
    ``headers``: names in lower case. ``media_type``: Content-Type without parameters.
    """

    urls: tuple[str, ...]
    headers: Mapping[str, str]
    media_type: str
    body: bytes


class WebhookRefused(Exception):
    """The call is not one we take: 403 (not signed by the provider), 415, or 422. The detail
    is ours, never text from the call."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


@dataclass(frozen=True)
class WebhookAnswer:
    """What a provider expects back from an inbound-message webhook."""

    status: int = 204
    body: str = ""
    media_type: str | None = None


class SmsWebhooks(Protocol):
    """A provider's inbound-message and status-callback webhooks. Both ``read_*`` methods check
    the provider's signature first and read nothing from an unsigned call."""

    @property
    def inbound_answer(self) -> WebhookAnswer: ...

    def read_inbound(self, call: WebhookCall) -> ReceivedSms:
        """The message, from a call the provider signed; raise ``WebhookRefused`` otherwise."""
        ...

    def read_status(self, call: WebhookCall) -> StatusReport:
        """The status, from a call the provider signed; raise ``WebhookRefused`` otherwise."""
        ...

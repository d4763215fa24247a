"""Sending through Twilio's Messages resource, by plain HTTP (the SDK pulls in requests and
PyJWT).

POST form-encoded to ``/2010-04-01/Accounts/{AccountSid}/Messages.json`` with basic auth.
Twilio's error codes sort the permanent refusals (``vocabulary``): 21610 the recipient texted
STOP, 21211 / 21614 / 21217 the number is not one we can text. Twilio has no idempotency key: a
timeout may hide an accepted message, so the caller's send ledger decides whether to retry.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import quote

import aiohttp

from services.notifier.adapters.sms.base import SmsAccepted, SmsFailureReason, SmsSendFailed
from services.notifier.adapters.sms.http_client import (
    PooledSender,
    PooledSession,
    basic_auth_header,
    failure_for_status,
    json_or_none,
    transport_failure,
)
from services.notifier.adapters.sms.twilio.vocabulary import INVALID_NUMBER_CODES, OPTED_OUT_CODES


@dataclass(frozen=True)
class TwilioConfig:
    account_sid: str
    auth_token: str = field(repr=False)
    from_number: str | None = None
    messaging_service_sid: str | None = None
    base_url: str = "https://api.twilio.com"
    timeout_s: float = 10.0
    connection_limit: int = 32

    def __post_init__(self) -> None:
        if (self.from_number is None) == (self.messaging_service_sid is None):
            raise ValueError("give exactly one of from_number and messaging_service_sid")

    @property
    def messages_url(self) -> str:
        account = quote(self.account_sid, safe="")
        return f"{self.base_url.rstrip('/')}/2010-04-01/Accounts/{account}/Messages.json"


class TwilioSender(PooledSender):
    """``SmsSender`` for Twilio. Open with ``async with`` (or ``start()``/``close()``)."""

    def __init__(self, config: TwilioConfig) -> None:
        self._config = config
        self._http = PooledSession(
            connection_limit=config.connection_limit,
            timeout_s=config.timeout_s,
            headers={"Authorization": basic_auth_header(config.account_sid, config.auth_token)},
        )

    async def send(
        self,
        to_e164: str,
        body: str,
        status_callback_url: str | None,
        idempotency_key: str,
    ) -> SmsAccepted:
        """Create one Twilio message; its sid is the provider message id.

        Raises ``SmsSendFailed`` (never with Twilio's error text, which quotes the number).
        ``idempotency_key`` is not sent: Twilio has no such parameter.
        """
        form = {"To": to_e164, "Body": body}
        if self._config.messaging_service_sid is not None:
            form["MessagingServiceSid"] = self._config.messaging_service_sid
        else:
            form["From"] = self._config.from_number or ""
        if status_callback_url is not None:
            form["StatusCallback"] = status_callback_url
        try:
            async with self._http.session.post(
                self._config.messages_url, data=form, allow_redirects=False
            ) as response:
                payload = await json_or_none(response)
                if not 200 <= response.status < 300:
                    retry_after = response.headers.get("Retry-After")
                    raise _twilio_failure(response.status, retry_after, payload)
        except (TimeoutError, aiohttp.ClientError) as error:
            raise transport_failure(error) from None
        sid = payload.get("sid") if isinstance(payload, dict) else None
        if not isinstance(sid, str) or not sid:
            raise SmsSendFailed(response.status, True, SmsFailureReason.INVALID_RESPONSE)
        return SmsAccepted(provider_message_id=sid)


def _twilio_failure(status: int, retry_after: str | None, payload: object) -> SmsSendFailed:
    code = payload.get("code") if isinstance(payload, dict) else None
    code = code if isinstance(code, int) and not isinstance(code, bool) else None
    if code in OPTED_OUT_CODES:
        client_error = SmsFailureReason.RECIPIENT_OPTED_OUT
    elif code in INVALID_NUMBER_CODES:
        client_error = SmsFailureReason.INVALID_NUMBER
    else:
        client_error = SmsFailureReason.REJECTED
    return failure_for_status(status, retry_after, client_error=client_error, provider_code=code)

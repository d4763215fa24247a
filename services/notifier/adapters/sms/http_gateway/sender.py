"""SMS through a generic JSON HTTP gateway (an aggregator, or an in-house relay).

The contract: POST ``{"to", "body", "callback_url", "reference"}`` to the configured URL, with
``Authorization: Bearer <token>`` if one is configured; a 2xx answer is acceptance and carries
the message id in its JSON (``id`` by default). ``reference`` is our idempotency key, so a
gateway that deduplicates on it makes retries safe. Refusals follow the HTTP status; a 4xx
body ``{"error": "invalid_number" | "recipient_opted_out"}`` is read as that reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import aiohttp

from services.notifier.adapters.sms.base import SmsAccepted, SmsFailureReason, SmsSendFailed
from services.notifier.adapters.sms.http_client import (
    PooledSender,
    PooledSession,
    failure_for_status,
    json_or_none,
    transport_failure,
)

_ERROR_REASONS = {
    "invalid_number": SmsFailureReason.INVALID_NUMBER,
    "recipient_opted_out": SmsFailureReason.RECIPIENT_OPTED_OUT,
}


@dataclass(frozen=True)
class HttpGatewayConfig:
    url: str
    bearer_token: str | None = field(default=None, repr=False)
    id_field: str = "id"
    timeout_s: float = 10.0
    connection_limit: int = 32


class HttpGatewaySender(PooledSender):
    """``SmsSender`` for a JSON gateway. Open with ``async with`` (or ``start()``/``close()``)."""

    def __init__(self, config: HttpGatewayConfig) -> None:
        self._config = config
        headers = {"Authorization": f"Bearer {config.bearer_token}"} if config.bearer_token else {}
        self._http = PooledSession(
            connection_limit=config.connection_limit,
            timeout_s=config.timeout_s,
            headers=headers,
        )

    async def send(
        self,
        to_e164: str,
        body: str,
        status_callback_url: str | None,
        idempotency_key: str,
    ) -> SmsAccepted:
        """Post one message to the gateway; raise ``SmsSendFailed`` unless it answers 2xx with
        an id (never with the gateway's error text)."""
        message = {
            "to": to_e164,
            "body": body,
            "callback_url": status_callback_url,
            "reference": idempotency_key,
        }
        try:
            async with self._http.session.post(
                self._config.url, json=message, allow_redirects=False
            ) as response:
                payload = await json_or_none(response)
                if not 200 <= response.status < 300:
                    error = payload.get("error") if isinstance(payload, dict) else None
                    raise failure_for_status(
                        response.status,
                        response.headers.get("Retry-After"),
                        client_error=_ERROR_REASONS.get(str(error), SmsFailureReason.REJECTED),
                    )
        except (TimeoutError, aiohttp.ClientError) as error:
            raise transport_failure(error) from None
        message_id = payload.get(self._config.id_field) if isinstance(payload, dict) else None
        if isinstance(message_id, bool) or not isinstance(message_id, str | int):
            raise SmsSendFailed(response.status, True, SmsFailureReason.INVALID_RESPONSE)
        if message_id == "":
            raise SmsSendFailed(response.status, True, SmsFailureReason.INVALID_RESPONSE)
        return SmsAccepted(provider_message_id=str(message_id))

"""The generic gateway's inbound-message and status-callback webhooks: JSON posts signed with
HMAC-SHA256 (``signature``).

Inbound: ``{"id": "<its message id>", "from": "<sender's number>", "body": "<text>"}``.
Status: ``{"id": "<the id it answered the send with>", "status": "<state>", "error_code": <int
or null, optional>}``, ``status`` one of ``SmsState``'s values: the gateway speaks the
notifier's vocabulary, ``opted_out`` included (the recipient opted out at the gateway).
Both answered 204 once read. Unsigned, badly signed or too old: 403, and nothing is read.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from services.notifier.adapters.sms.base import (
    ReceivedSms,
    SmsState,
    StatusReport,
    WebhookAnswer,
    WebhookCall,
    WebhookRefused,
)
from services.notifier.adapters.sms.http_gateway.signature import (
    DEFAULT_TOLERANCE,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    is_fresh,
    is_valid_signature,
)
from shared.clock import Clock

JSON = "application/json"
_STATES = tuple(state.value for state in SmsState)


class GatewayWebhooks:
    def __init__(
        self, secret: bytes, clock: Clock, tolerance: timedelta = DEFAULT_TOLERANCE
    ) -> None:
        self._secret = secret
        self._clock = clock
        self._tolerance = tolerance

    @property
    def inbound_answer(self) -> WebhookAnswer:
        return WebhookAnswer(204)

    def read_inbound(self, call: WebhookCall) -> ReceivedSms:
        document = self._verified_json(call)
        message_id, sender, body = (document.get(key) for key in ("id", "from", "body"))
        if not (isinstance(message_id, str) and isinstance(sender, str) and isinstance(body, str)):
            raise WebhookRefused(422, '"id", "from" and "body" (strings) are required')
        if not (message_id and sender):
            raise WebhookRefused(422, '"id" and "from" must not be empty')
        return ReceivedSms(message_id, sender, body)

    def read_status(self, call: WebhookCall) -> StatusReport:
        document = self._verified_json(call)
        message_id, status = document.get("id"), document.get("status")
        if not (isinstance(message_id, str) and message_id):
            raise WebhookRefused(422, '"id" (a non-empty string) is required')
        if not (isinstance(status, str) and status in _STATES):
            raise WebhookRefused(422, '"status" must be one of: ' + ", ".join(_STATES))
        error_code = document.get("error_code")
        if error_code is not None and type(error_code) is not int:  # bool is not a code
            raise WebhookRefused(422, '"error_code" must be an integer or null')
        return StatusReport(message_id, SmsState(status), error_code)

    def _verified_json(self, call: WebhookCall) -> dict[str, Any]:
        timestamp = call.headers.get(TIMESTAMP_HEADER)
        signature = call.headers.get(SIGNATURE_HEADER)
        if not is_valid_signature(self._secret, timestamp, call.body, signature):
            raise WebhookRefused(403, "signature missing or not valid")
        assert timestamp is not None
        if not is_fresh(timestamp, self._clock.now(), self._tolerance):
            raise WebhookRefused(403, "signature timestamp too far from our clock")
        if call.media_type != JSON:
            raise WebhookRefused(415, f"these webhooks take {JSON}")
        try:
            document = json.loads(call.body)
        except (ValueError, RecursionError):
            raise WebhookRefused(422, "the body is not JSON") from None
        if not isinstance(document, dict):
            raise WebhookRefused(422, "the body must be a JSON object")
        return document

"""Twilio's inbound-message and status-callback webhooks: form posts signed with
X-Twilio-Signature over the URL it called and the form (see ``signature``).

A body that is not a form is checked the way Twilio signs one (``bodySHA256`` in the URL), so
that a signed one is told apart from a forged one, then refused with 415: the SMS webhooks
Twilio calls post forms, and nothing else is read. Forged, missing, or signed for another URL:
403, and nothing is read from the call.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from services.notifier.adapters.sms.base import (
    ReceivedSms,
    StatusReport,
    WebhookAnswer,
    WebhookCall,
    WebhookRefused,
)
from services.notifier.adapters.sms.twilio.signature import is_valid_signature
from services.notifier.adapters.sms.twilio.vocabulary import state_of

FORM = "application/x-www-form-urlencoded"
# Twilio reads the answer to an inbound message as TwiML: an empty Response sends nothing
# back (our replies go out through the Messages API, after the transaction).
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


class TwilioWebhooks:
    def __init__(self, auth_token: str) -> None:
        self._auth_token = auth_token

    @property
    def inbound_answer(self) -> WebhookAnswer:
        return WebhookAnswer(200, EMPTY_TWIML, "text/xml")

    def read_inbound(self, call: WebhookCall) -> ReceivedSms:
        form = self._verified_form(call)
        if not form.get("MessageSid") or not form.get("From"):
            raise WebhookRefused(422, "MessageSid and From are required")
        return ReceivedSms(form["MessageSid"], form["From"], form.get("Body", ""))

    def read_status(self, call: WebhookCall) -> StatusReport:
        form = self._verified_form(call)
        if not form.get("MessageSid"):
            raise WebhookRefused(422, "MessageSid is required")
        code = form.get("ErrorCode", "")
        error_code = int(code) if code.isascii() and code.isdigit() else None
        state = state_of(form.get("MessageStatus", ""), error_code)
        return StatusReport(form["MessageSid"], state, error_code)

    def _verified_form(self, call: WebhookCall) -> dict[str, str]:
        is_form = call.media_type == FORM
        params: list[tuple[str, str]] | bytes = call.body
        if is_form:
            try:
                params = parse_qsl(call.body.decode(), keep_blank_values=True)
            except UnicodeDecodeError:
                params = []  # not what Twilio sends: the signature check below fails
        signature = call.headers.get("x-twilio-signature")
        if not any(
            is_valid_signature(url, params, signature, self._auth_token) for url in call.urls
        ):
            raise WebhookRefused(403, "signature missing or not valid")
        if isinstance(params, bytes):
            raise WebhookRefused(415, f"these webhooks take form posts ({FORM})")
        return dict(params)

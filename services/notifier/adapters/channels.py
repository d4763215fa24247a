"""One door out per channel: e-mail through the SMTP pool, SMS through the configured provider.

Both report failure the same way (``DeliveryFailed``) with a code, never a provider's text.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.notifier.adapters.sms.base import SmsFailureReason, SmsSender, SmsSendFailed
from services.notifier.adapters.smtp_sender import EmailSender, SendFailed
from services.notifier.domain.mime import OutgoingEmail
from services.notifier.domain.outcomes import DeliveryFailed

# SMS failures that say the provider is unavailable to us, whatever the message.
PROVIDER_DOWN = frozenset(
    {
        SmsFailureReason.RATE_LIMITED,
        SmsFailureReason.SERVER_ERROR,
        SmsFailureReason.TIMEOUT,
        SmsFailureReason.CONNECTION_ERROR,
        SmsFailureReason.UNAUTHORIZED,
    }
)


@dataclass(frozen=True)
class ChannelSenders:
    email: EmailSender
    sms: SmsSender
    sms_status_callback_url: str | None
    sms_provider: str  # its registered name (the consent trail names who reported an opt-out)

    async def send_email(self, message: OutgoingEmail) -> str | None:
        try:
            await self.email.send(message)
        except SendFailed as error:
            reason = "smtp_rejected" if error.permanent else "smtp_transient"
            raise DeliveryFailed(
                reason, error.permanent, error.status, provider_down=error.provider_down
            ) from None
        return None

    async def send_sms(self, to: str, body: str, idempotency_key: str) -> str:
        try:
            accepted = await self.sms.send(to, body, self.sms_status_callback_url, idempotency_key)
        except SmsSendFailed as error:
            raise DeliveryFailed(
                str(error.reason),
                error.permanent,
                error.status,
                error.retry_after_s,
                provider_down=error.reason in PROVIDER_DOWN,
            ) from None
        return accepted.provider_message_id

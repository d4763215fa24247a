"""SMS providers, one package each (Twilio, a generic JSON gateway, a dev outbox), behind one
port: ``SmsSender`` to send, ``SmsWebhooks`` to read their callbacks (``base``); the registry
(``registry``) names them."""

from services.notifier.adapters.sms.base import (
    SmsAccepted,
    SmsFailureReason,
    SmsSender,
    SmsSendFailed,
)

__all__ = ["SmsAccepted", "SmsFailureReason", "SmsSendFailed", "SmsSender"]

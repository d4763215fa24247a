"""SMS providers behind one port (``SmsSender``): Twilio, a generic JSON gateway, a dev outbox."""

from services.notifier.adapters.sms.base import (
    SmsAccepted,
    SmsFailureReason,
    SmsSender,
    SmsSendFailed,
)

__all__ = ["SmsAccepted", "SmsFailureReason", "SmsSendFailed", "SmsSender"]

"""Twilio's words: its message statuses in the notifier's terms, and the error codes that say
the recipient opted out or the number cannot be texted (on a refused send and in a status
callback alike)."""

from __future__ import annotations

from services.notifier.adapters.sms.base import SmsState

OPTED_OUT_CODES = frozenset({21610})  # the recipient texted STOP to our number
INVALID_NUMBER_CODES = frozenset({21211, 21614, 21217})

# Twilio's MessageStatus values we track; others (receiving, received, canceled,
# partially_delivered) are acknowledged and ignored.
STATUSES = {
    "accepted": SmsState.ACCEPTED,
    "scheduled": SmsState.ACCEPTED,
    "queued": SmsState.QUEUED,
    "sending": SmsState.SENDING,
    "sent": SmsState.SENT,
    "delivered": SmsState.DELIVERED,
    "undelivered": SmsState.UNDELIVERED,
    "failed": SmsState.FAILED,
    "read": SmsState.READ,
}


def state_of(message_status: str, error_code: int | None) -> SmsState | None:
    """The notifier's state for a Twilio MessageStatus and ErrorCode (None: not tracked)."""
    state = STATUSES.get(message_status.strip().lower())
    if state in (SmsState.UNDELIVERED, SmsState.FAILED) and error_code in OPTED_OUT_CODES:
        return SmsState.OPTED_OUT
    return state

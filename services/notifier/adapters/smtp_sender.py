"""E-mail out over SMTP with aiosmtplib, failures sorted into transient and permanent.

RFC 5321: a 4xx reply is transient, a 5xx reply permanent; a dropped or timed-out connection
counts as 451. Error texts from servers can quote the recipient address, so only the status
code leaves this module.
"""

from __future__ import annotations

from email.message import EmailMessage
from typing import Protocol

import aiosmtplib

from services.notifier.settings import NotifierSettings, SmtpSecurity


class SendFailed(Exception):
    def __init__(self, status: int, permanent: bool) -> None:
        super().__init__(f"SMTP {status}")
        self.status = status
        self.permanent = permanent


class EmailSender(Protocol):
    async def send(self, message: EmailMessage) -> None:
        """Hand the message to the relay; raise ``SendFailed`` if it was not accepted."""
        ...


def _classify(status: int) -> SendFailed:
    return SendFailed(status, permanent=500 <= status < 600)


class SmtpSender:
    def __init__(self, settings: NotifierSettings) -> None:
        self._settings = settings

    async def send(self, message: EmailMessage) -> None:
        s = self._settings
        try:
            await aiosmtplib.send(
                message,
                hostname=s.smtp_host,
                port=s.smtp_port,
                username=s.smtp_username,
                password=s.smtp_password.get_secret_value() if s.smtp_password else None,
                use_tls=s.smtp_security is SmtpSecurity.implicit_tls,
                start_tls=s.smtp_security is SmtpSecurity.starttls,
                timeout=s.smtp_timeout_s,
            )
        except aiosmtplib.SMTPRecipientsRefused as error:
            codes = [refusal.code for refusal in error.recipients]
            raise _classify(max(codes) if codes else 550) from None
        except aiosmtplib.SMTPResponseException as error:
            raise _classify(error.code) from None
        except (aiosmtplib.SMTPException, OSError, TimeoutError):
            raise SendFailed(451, permanent=False) from None

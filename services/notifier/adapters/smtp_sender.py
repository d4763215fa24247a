"""E-mail out over SMTP with aiosmtplib: a pool of reused connections, failures sorted into
transient and permanent.

RFC 5321: a 4xx reply is transient, a 5xx reply permanent; a dropped or timed-out connection
counts as 451. Reusing connections roughly halves the cost of a message; a connection the
server dropped is reopened once before the failure counts. Error texts from servers can quote
the recipient address, so only the status code leaves this module.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Protocol

import aiosmtplib

from services.notifier.domain.mime import OutgoingEmail
from services.notifier.settings import NotifierSettings, SmtpSecurity


class SendFailed(Exception):
    """``provider_down``: the relay itself failed (unreachable, timed out, closing, refusing our
    credentials), not this message: the next message would fail the same way."""

    def __init__(self, status: int, permanent: bool, provider_down: bool = False) -> None:
        super().__init__(f"SMTP {status}")
        self.status = status
        self.permanent = permanent
        self.provider_down = provider_down


class EmailSender(Protocol):
    async def send(self, message: OutgoingEmail) -> None:
        """Hand the message to the relay; raise ``SendFailed`` if it was not accepted."""
        ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...


def _classify(status: int) -> SendFailed:
    # 421: "service not available, closing transmission channel" - the relay, not the message.
    return SendFailed(status, permanent=500 <= status < 600, provider_down=status == 421)


class SmtpPool:
    """Up to ``size`` open SMTP connections, each used by one sender at a time."""

    def __init__(self, settings: NotifierSettings) -> None:
        self._settings = settings
        self._idle: asyncio.Queue[aiosmtplib.SMTP] = asyncio.Queue()
        self._slots = asyncio.Semaphore(settings.smtp_pool_size)

    def _new_client(self) -> aiosmtplib.SMTP:
        s = self._settings
        return aiosmtplib.SMTP(
            hostname=s.smtp_host,
            port=s.smtp_port,
            username=s.smtp_username,
            password=s.smtp_password.get_secret_value() if s.smtp_password else None,
            use_tls=s.smtp_security is SmtpSecurity.implicit_tls,
            start_tls=s.smtp_security is SmtpSecurity.starttls,
            cert_bundle=s.smtp_ca_bundle,
            timeout=s.smtp_timeout_s,
        )

    async def send(self, message: OutgoingEmail) -> None:
        async with self._slots:
            client = self._idle.get_nowait() if not self._idle.empty() else self._new_client()
            healthy = False
            try:
                await self._send_reconnecting(client, message)
                healthy = True
            finally:
                if healthy:
                    self._idle.put_nowait(client)
                else:
                    with contextlib.suppress(Exception):
                        client.close()

    async def _send_reconnecting(self, client: aiosmtplib.SMTP, message: OutgoingEmail) -> None:
        for attempt in (1, 2):
            try:
                if not client.is_connected:
                    await client.connect()
                await client.sendmail(message.sender, [message.recipient], message.data)
                return
            except aiosmtplib.SMTPServerDisconnected:
                # The server closed an idle connection: reopen once before it counts.
                if attempt == 2:
                    raise SendFailed(451, permanent=False, provider_down=True) from None
                with contextlib.suppress(Exception):
                    client.close()
            except aiosmtplib.SMTPAuthenticationError as error:
                # Our credentials, not the message: keep it and retry once they are fixed.
                raise SendFailed(error.code, permanent=False, provider_down=True) from None
            except aiosmtplib.SMTPRecipientsRefused as error:
                codes = [refusal.code for refusal in error.recipients]
                raise _classify(max(codes) if codes else 550) from None
            except aiosmtplib.SMTPResponseException as error:
                raise _classify(error.code) from None
            except (aiosmtplib.SMTPException, OSError, TimeoutError):
                raise SendFailed(451, permanent=False, provider_down=True) from None

    async def start(self) -> None:
        return None  # connections open on first use

    async def close(self) -> None:
        while not self._idle.empty():
            client = self._idle.get_nowait()
            with contextlib.suppress(Exception):
                await client.quit()

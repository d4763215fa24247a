"""A real SMTP server (aiosmtpd) that keeps what it receives: the dev and test mail sink.

Responses can be scripted per recipient (``451`` then ``250``, ``550`` …) to exercise the
notifier's retry policy against a genuine SMTP conversation.

What it logs is counts, sizes and Message-IDs, never an address, a subject, a body or a link.
aiosmtpd itself logs the whole conversation (MAIL FROM and RCPT TO at INFO; every DATA line,
hence subjects, bodies and signed links, and AUTH exchanges at DEBUG), so a running sink keeps
aiosmtpd's logger quiet: below WARNING its records are dropped, from WARNING on they keep their
level but not their text.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import hmac
import logging
import ssl
import threading
from collections import defaultdict, deque
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from shared.natsdev import free_port

log = logging.getLogger(__name__)
AIOSMTPD_LOGGER = "mail.log"


class _WithholdConversation(logging.Filter):
    """Keeps aiosmtpd's records from quoting the SMTP conversation (see the module doc)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return False
        problem = record.exc_info[0].__name__ if record.exc_info and record.exc_info[0] else None
        record.msg = "aiosmtpd reported a problem (%s); details withheld: they may quote mail"
        record.args = (problem or record.levelname.lower(),)
        record.exc_info = None
        record.exc_text = None
        record.stack_info = None
        return True


_WITHHOLD_CONVERSATION = _WithholdConversation()


@dataclass(frozen=True)
class ReceivedMail:
    envelope_from: str
    envelope_to: tuple[str, ...]
    message: EmailMessage
    raw: bytes = b""  # the DATA as received (dot-unstuffed), for tests of the wire format

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    def text(self) -> str:
        part = self.message.get_body(preferencelist=("plain",))
        return part.get_content() if part is not None else ""

    def html(self) -> str:
        part = self.message.get_body(preferencelist=("html",))
        return part.get_content() if part is not None else ""


class _Authenticator:
    def __init__(self, user: str, password: str) -> None:
        self._user = user.encode()
        self._password = password.encode()

    def __call__(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        valid = hmac.compare_digest(auth_data.login, self._user) and hmac.compare_digest(
            auth_data.password, self._password
        )
        return AuthResult(success=valid, handled=False)


class _SinkHandler:
    def __init__(self, sink: SmtpSink) -> None:
        self._sink = sink

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        self._sink._count_session(session.peer, server)
        session.host_name = hostname
        return responses

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        scripted = self._sink._next_scripted(address, "rcpt")
        if scripted is not None:
            log.info("smtp sink: recipient refused as scripted (%s)", scripted[:3])
            return scripted
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        for address in envelope.rcpt_tos:
            self._sink._count_attempt(address)
        for address in envelope.rcpt_tos:
            scripted = self._sink._next_scripted(address, "data")
            if scripted is not None:
                log.info(
                    "smtp sink: message refused as scripted (%s), %d recipient(s), %d bytes",
                    scripted[:3],
                    len(envelope.rcpt_tos),
                    len(envelope.content),
                )
                return scripted
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self._sink._store(
            ReceivedMail(envelope.mail_from, tuple(envelope.rcpt_tos), parsed, envelope.content)
        )
        log.info(
            "smtp sink: message accepted, message_id=%s, %d recipient(s), %d bytes",
            _id_part(parsed["Message-ID"]),
            len(envelope.rcpt_tos),
            len(envelope.content),
        )
        return "250 Message accepted for delivery"


def _id_part(message_id: object) -> str:
    """The left-hand side of a Message-ID: ``<id@domain>`` whole reads as an address, and
    logs are kept free of anything that does."""
    return str(message_id or "").strip("<>").split("@", 1)[0]


class SmtpSink:
    """``starttls``: offer STARTTLS with this context and refuse mail before it;
    ``implicit_tls``: speak TLS from the first byte (port 465 style); ``credentials``: require
    AUTH with this user name and password."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int | None = None,
        *,
        starttls: ssl.SSLContext | None = None,
        implicit_tls: ssl.SSLContext | None = None,
        credentials: tuple[str, str] | None = None,
    ) -> None:
        self.host = host
        self.port = port or free_port(host)
        self._lock = threading.Lock()
        self._messages: list[ReceivedMail] = []
        self._scripts: dict[tuple[str, str], deque[str]] = defaultdict(deque)
        self._attempts: dict[str, int] = defaultdict(int)
        self._peers: set[object] = set()
        self._servers: list[Any] = []
        smtp_options: dict[str, Any] = {}
        if starttls is not None:
            smtp_options |= {"tls_context": starttls, "require_starttls": True}
        if credentials is not None:
            smtp_options |= {
                "authenticator": _Authenticator(*credentials),
                "auth_required": True,
                # Implicit TLS is TLS from the start; aiosmtpd only counts STARTTLS as TLS.
                "auth_require_tls": starttls is not None,
            }
        self._controller = Controller(
            _SinkHandler(self),
            hostname=host,
            port=self.port,
            ssl_context=implicit_tls,
            **smtp_options,
        )

    def start(self) -> None:
        # Added once however many sinks run (a Filter is added only if not already there).
        logging.getLogger(AIOSMTPD_LOGGER).addFilter(_WITHHOLD_CONVERSATION)
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()

    def script(self, address: str, *responses: str, stage: str = "data") -> None:
        """Answer the next messages to ``address`` with these replies (e.g. ``"451 busy"``)."""
        with self._lock:
            self._scripts[(address.lower(), stage)].extend(responses)

    def _next_scripted(self, address: str, stage: str) -> str | None:
        with self._lock:
            queue = self._scripts.get((address.lower(), stage))
            return queue.popleft() if queue else None

    def _count_session(self, peer: object, server: Any) -> None:
        with self._lock:
            self._peers.add(peer)
            self._servers.append(server)

    @property
    def sessions(self) -> int:
        """Connections that greeted us (STARTTLS's second EHLO is the same connection)."""
        with self._lock:
            return len(self._peers)

    def drop_connections(self) -> None:
        """Close every open connection from the server side, as an idle timeout would."""
        with self._lock:
            servers, self._servers = self._servers, []
        for server in servers:
            transport = getattr(server, "transport", None)
            if transport is not None:
                self._controller.loop.call_soon_threadsafe(transport.close)

    def _count_attempt(self, address: str) -> None:
        with self._lock:
            self._attempts[address.lower()] += 1

    def attempts(self, address: str) -> int:
        """How many times a message for ``address`` reached DATA (accepted or refused)."""
        with self._lock:
            return self._attempts[address.lower()]

    def _store(self, mail: ReceivedMail) -> None:
        with self._lock:
            self._messages.append(mail)

    @property
    def messages(self) -> list[ReceivedMail]:
        with self._lock:
            return list(self._messages)

    def to(self, address: str) -> list[ReceivedMail]:
        return [m for m in self.messages if address.lower() in (a.lower() for a in m.envelope_to)]

    async def wait_for(self, count: int, timeout_s: float = 10.0) -> list[ReceivedMail]:
        """Wait until at least ``count`` messages arrived (delivery is asynchronous)."""
        deadline = asyncio.get_running_loop().time() + timeout_s
        while len(self.messages) < count:
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"expected {count} messages, got {len(self.messages)}")
            await asyncio.sleep(0.02)
        return self.messages

    def __enter__(self) -> SmtpSink:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

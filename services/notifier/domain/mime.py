"""A prompt e-mail as the bytes that go over SMTP: headers, and a text and an HTML part in
quoted-printable UTF-8 (RFC 2045, 2046, 5322).

Written directly rather than through ``email.message.EmailMessage``: with the default policy
every header set is parsed by the header registry and every part goes through the content
manager, which cost more than rendering the templates (bench/notifier_dispatch.py), and the
default policy folds a header it cannot break at a space, such as a long List-Unsubscribe URL,
into RFC 2047 encoded words that mail providers do not read (Gmail's and Yahoo's bulk-sender
rules want ``List-Unsubscribe: <https://...>`` as it is). Here an ASCII header value is written
as it is up to RFC 5322's 998 characters a line; anything else (a subject with accents) goes
through the standard library's SMTP policy, which encodes it properly.
"""

from __future__ import annotations

import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage

MAX_LINE = 998  # RFC 5322 2.1.1, without the CRLF
_FOLDING = policy.SMTP  # CRLF line ends, RFC 2047 for what is not ASCII


@dataclass(frozen=True)
class OutgoingEmail:
    sender: str  # the envelope's MAIL FROM (an address)
    recipient: str  # the envelope's RCPT TO
    data: bytes  # the message, CRLF line ends

    def parsed(self) -> EmailMessage:
        """The message as a mail client reads it (tests, previews)."""
        parsed = message_from_bytes(self.data, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


def header_line(name: str, value: str) -> bytes:
    """``Name: value`` and CRLF; raises ValueError on a line break in the value (no header
    can be injected through an address or a subject)."""
    if "\r" in value or "\n" in value:
        raise ValueError(f"header {name} must not contain a line break")
    if value.isascii() and len(name) + 2 + len(value) <= MAX_LINE:
        return f"{name}: {value}\r\n".encode("ascii")
    folded: str = _FOLDING.header_factory(name, value).fold(policy=_FOLDING)
    return folded.encode("ascii")


def _quoted_printable(text: str) -> bytes:
    """UTF-8, quoted-printable, CRLF line ends; "=" is always encoded, so a boundary that
    starts with "=_" can never occur in the result."""
    encoded = binascii.b2a_qp(text.replace("\r\n", "\n").encode("utf-8"), istext=True)
    return encoded.replace(b"\n", b"\r\n")


def _part(content_type: str, text: str) -> bytes:
    return (
        header_line("Content-Type", f'{content_type}; charset="utf-8"')
        + b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        + _quoted_printable(text)
    )


def alternative_email(
    headers: Sequence[tuple[str, str]], text: str, html: str, boundary_key: str
) -> bytes:
    """``headers`` then a multipart/alternative body (text first, as RFC 2046 asks: the
    last part a client can show is the one it shows). ``boundary_key``: any id of the
    message (letters, digits, hyphens)."""
    boundary = f"=_{boundary_key}"
    head = b"".join(header_line(name, value) for name, value in headers)
    head += b"MIME-Version: 1.0\r\n"
    head += header_line("Content-Type", f'multipart/alternative; boundary="{boundary}"')
    delimiter = f"\r\n--{boundary}\r\n".encode("ascii")
    return (
        head
        + b"\r\n"
        + delimiter[2:]
        + _part("text/plain", text)
        + delimiter
        + _part("text/html", html)
        + f"\r\n--{boundary}--\r\n".encode("ascii")
    )

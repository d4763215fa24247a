"""A fake Twilio Messages API on 127.0.0.1, for tests and the local demo.

It speaks enough of Twilio to exercise an adapter for real, over HTTP: basic auth, the Messages
resource (form-encoded, E.164 ``To``, JSON answers with a ``sid`` or a Twilio error ``code``),
status callbacks signed with X-Twilio-Signature, and inbound replies posted to a webhook.
Answers can be scripted per recipient (429 with Retry-After, 500, a Twilio error, a hang) for
the next N requests, like ``SmtpSink`` does for SMTP.

``shared`` does not import from ``services``: the signature is computed here with its own few
lines, and the tests check it against the notifier's validator and Twilio's published vector.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import itertools
import re
import secrets
from collections import defaultdict, deque
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import aiohttp
from aiohttp import web

from shared.natsdev import free_port

_E164 = re.compile(r"^\+[1-9]\d{1,14}$")


def twilio_signature(url: str, params: Mapping[str, str], auth_token: str) -> str:
    """X-Twilio-Signature of a form POST: URL, then name+value sorted by name, HMAC-SHA1."""
    data = url + "".join(name + value for name, value in sorted(params.items()))
    digest = hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


@dataclass(frozen=True)
class ScriptedReply:
    """An answer the fake gives instead of accepting (see ``FakeTwilio.script``)."""

    status: int
    error_code: int | None = None
    retry_after_s: int | None = None
    hangs: bool = False

    @classmethod
    def rate_limited(cls, retry_after_s: int | None = 1) -> ScriptedReply:
        return cls(429, error_code=20429, retry_after_s=retry_after_s)

    @classmethod
    def server_error(cls) -> ScriptedReply:
        return cls(500, error_code=20500)

    @classmethod
    def twilio_error(cls, code: int, status: int = 400) -> ScriptedReply:
        return cls(status, error_code=code)

    @classmethod
    def hang(cls) -> ScriptedReply:
        """Never answer (until the fake stops): the client's timeout is what ends it."""
        return cls(0, hangs=True)


@dataclass(frozen=True)
class FakeSms:
    sid: str
    to: str
    from_: str | None
    messaging_service_sid: str | None
    body: str
    status_callback: str | None


@dataclass(frozen=True)
class DeliveredCallback:
    """A status callback the fake posted, and what the receiver answered (None: no answer)."""

    sid: str
    status: str
    http_status: int | None


class FakeTwilio:
    def __init__(
        self,
        account_sid: str = "AC" + "0" * 32,
        auth_token: str | None = None,
        host: str = "127.0.0.1",
        port: int | None = None,
    ) -> None:
        self.account_sid = account_sid
        # A fresh secret per fake unless one is given: no shared dev token to leak into prod.
        self.auth_token = auth_token or secrets.token_urlsafe(24)
        self.host = host
        self.port = port or free_port(host)
        self._messages: list[FakeSms] = []
        self._callbacks: list[DeliveredCallback] = []
        self._requests: defaultdict[str, int] = defaultdict(int)
        self._scripts: defaultdict[str, deque[ScriptedReply]] = defaultdict(deque)
        self._statuses: dict[str, tuple[tuple[str, ...], int | None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._sid_counter = itertools.count(1)
        self._released = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._client: aiohttp.ClientSession | None = None

    @property
    def base_url(self) -> str:
        """What to give a Twilio adapter as its API base URL."""
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/2010-04-01/Accounts/{account}/Messages.json", self._create_message)
        # No access log: request lines are harmless here, but the services' rule is no logs of
        # traffic that carries contact data, and the fake should not be the exception.
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()
        self._released = asyncio.Event()
        self._client = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))

    def release_hanging(self) -> None:
        """Answer every hanging request (and any later scripted hang) with a 503."""
        self._released.set()

    async def stop(self) -> None:
        self._released.set()  # lets hanging requests finish, so shutdown does not wait on them
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._client is not None:
            await self._client.close()
            self._client = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeTwilio:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    # Scripting ---------------------------------------------------------------------------

    def script(self, to: str, reply: ScriptedReply, times: int = 1) -> None:
        """Answer the next ``times`` requests to ``to`` with ``reply`` instead of accepting."""
        self._scripts[to].extend([reply] * times)

    def script_statuses(self, to: str, *statuses: str, error_code: int | None = None) -> None:
        """Report these statuses (in this order, e.g. ``"delivered", "sent"`` for out of order,
        or ``"sent", "undelivered"``) for messages to ``to``; default ``sent``, ``delivered``."""
        self._statuses[to] = (statuses, error_code)

    # What happened -----------------------------------------------------------------------

    @property
    def messages(self) -> list[FakeSms]:
        return list(self._messages)

    def to(self, to: str) -> list[FakeSms]:
        return [message for message in self._messages if message.to == to]

    def request_count(self, to: str) -> int:
        """Requests for ``to`` that reached the Messages resource, accepted or not."""
        return self._requests[to]

    @property
    def callbacks(self) -> list[DeliveredCallback]:
        return list(self._callbacks)

    async def wait_for_callbacks(
        self, count: int, timeout_s: float = 10.0
    ) -> list[DeliveredCallback]:
        """Wait until ``count`` status callbacks were posted (they are asynchronous)."""
        await _until(lambda: len(self._callbacks) >= count, timeout_s, f"{count} callbacks")
        return self.callbacks

    async def wait_for_requests(self, to: str, count: int, timeout_s: float = 10.0) -> None:
        """Wait until ``count`` requests for ``to`` reached the fake (hung ones included)."""
        await _until(lambda: self._requests[to] >= count, timeout_s, f"{count} requests")

    # Inbound -----------------------------------------------------------------------------

    async def send_inbound(
        self,
        webhook_url: str,
        from_: str,
        to: str,
        body: str,
        *,
        message_sid: str | None = None,
        signature: str | None = None,
    ) -> int:
        """Post an inbound SMS to ``webhook_url`` as Twilio would; the receiver's HTTP status.

        Signed correctly unless ``signature`` is given (to test forgeries).
        """
        form = {
            "AccountSid": self.account_sid,
            "ApiVersion": "2010-04-01",
            "Body": body,
            "From": from_,
            "MessageSid": message_sid or self._next_sid("SMin"),
            "NumMedia": "0",
            "NumSegments": "1",
            "SmsStatus": "received",
            "To": to,
        }
        return await self._post_signed(webhook_url, form, signature)

    # The Messages resource ---------------------------------------------------------------

    async def _create_message(self, request: web.Request) -> web.StreamResponse:
        if not self._authorised(request) or request.match_info["account"] != self.account_sid:
            return _error(401, 20003, "Authenticate")
        form = await request.post()
        fields = {name: value for name, value in form.items() if isinstance(value, str)}
        to = fields.get("To", "")
        self._requests[to] += 1
        scripted = self._scripts[to].popleft() if self._scripts.get(to) else None
        if scripted is not None:
            return await self._scripted(scripted)
        if not _E164.fullmatch(to):
            return _error(400, 21211, "Invalid 'To' Phone Number")
        if "From" not in fields and "MessagingServiceSid" not in fields:
            return _error(400, 21603, "A 'From' or 'MessagingServiceSid' parameter is required")
        if not fields.get("Body"):
            return _error(400, 21602, "Message body is required")
        message = FakeSms(
            sid=self._next_sid("SM"),
            to=to,
            from_=fields.get("From"),
            messaging_service_sid=fields.get("MessagingServiceSid"),
            body=fields["Body"],
            status_callback=fields.get("StatusCallback"),
        )
        self._messages.append(message)
        response = web.json_response(
            {
                "sid": message.sid,
                "account_sid": self.account_sid,
                "to": message.to,
                "from": message.from_,
                "messaging_service_sid": message.messaging_service_sid,
                "body": message.body,
                "status": "queued",
            },
            status=201,
        )
        # Answer first, then call back: Twilio's callbacks follow its response.
        await response.prepare(request)
        await response.write_eof()
        if message.status_callback:
            self._spawn(self._report_statuses(message, message.status_callback))
        return response

    def _authorised(self, request: web.Request) -> bool:
        scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            given = base64.b64decode(encoded, validate=True)
        except ValueError:
            return False
        expected = f"{self.account_sid}:{self.auth_token}".encode()
        return hmac.compare_digest(given, expected)

    async def _scripted(self, reply: ScriptedReply) -> web.Response:
        if reply.hangs:
            await self._released.wait()
            return _error(503, 20503, "Fake Twilio stopped")
        response = _error(reply.status, reply.error_code, "Scripted")
        if reply.retry_after_s is not None:
            response.headers["Retry-After"] = str(reply.retry_after_s)
        return response

    # Status callbacks --------------------------------------------------------------------

    async def _report_statuses(self, message: FakeSms, callback_url: str) -> None:
        statuses, error_code = self._statuses.get(message.to, (("sent", "delivered"), None))
        for status in statuses:
            form = {
                "AccountSid": self.account_sid,
                "ApiVersion": "2010-04-01",
                "From": message.from_ or "",
                "MessageSid": message.sid,
                "MessageStatus": status,
                "SmsSid": message.sid,
                "SmsStatus": status,
                "To": message.to,
            }
            if message.messaging_service_sid:
                form["MessagingServiceSid"] = message.messaging_service_sid
            if error_code is not None and status in ("failed", "undelivered"):
                form["ErrorCode"] = str(error_code)
            http_status = await self._post_signed(callback_url, form, None)
            self._callbacks.append(DeliveredCallback(message.sid, status, http_status or None))

    async def _post_signed(self, url: str, form: dict[str, str], signature: str | None) -> int:
        """POST ``form`` to ``url`` signed as Twilio would; the HTTP status, or 0 if none."""
        if self._client is None:
            raise RuntimeError("FakeTwilio not started")
        headers = {
            "X-Twilio-Signature": signature or twilio_signature(url, form, self.auth_token),
            "User-Agent": "TwilioProxy/1.1",
        }
        try:
            async with self._client.post(url, data=form, headers=headers) as response:
                await response.read()
                return response.status
        except (TimeoutError, aiohttp.ClientError):
            return 0

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _next_sid(self, prefix: str) -> str:
        # Deterministic, so demo output and test failures read the same on every run.
        return f"{prefix}{next(self._sid_counter):0{34 - len(prefix)}x}"


async def _until(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    # Waits for traffic to flow, never for a schedule: that is what the ManualClock is for.
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"expected {what} within {timeout_s}s")
        await asyncio.sleep(0.01)


def _error(status: int, code: int | None, message: str) -> web.Response:
    return web.json_response(
        {"code": code, "message": message, "more_info": "", "status": status}, status=status
    )

"""A small webhook receiver, as the notifier's will be: it checks X-Twilio-Signature on the URL
it was called at and records what arrived."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import TracebackType

from aiohttp import web

from services.notifier.adapters.sms.twilio.signature import is_valid_signature
from services.notifier.domain.external_url import external_url
from shared.natsdev import free_port


@dataclass(frozen=True)
class Received:
    path: str
    signature_valid: bool
    form: dict[str, str]


@dataclass
class WebhookReceiver:
    auth_token: str
    host: str = "127.0.0.1"
    port: int = field(default_factory=free_port)
    received: list[Received] = field(default_factory=list)
    _runner: web.AppRunner | None = None

    def url(self, path_and_query: str) -> str:
        return f"http://{self.host}:{self.port}{path_and_query}"

    async def _handle(self, request: web.Request) -> web.Response:
        form = {name: str(value) for name, value in (await request.post()).items()}
        path, _, query = request.raw_path.partition("?")
        # The raw path and query as sent: re-encoding them would break the signature.
        called = external_url(request.scheme, request.host, path, query)
        valid = is_valid_signature(
            called, form, request.headers.get("X-Twilio-Signature"), self.auth_token
        )
        self.received.append(Received(path, valid, form))
        return web.Response(status=204 if valid else 403)

    def statuses(self) -> list[str]:
        return [r.form["MessageStatus"] for r in self.received if "MessageStatus" in r.form]

    async def __aenter__(self) -> WebhookReceiver:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

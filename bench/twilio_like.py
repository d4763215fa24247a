"""A Twilio-like SMS API in a process of its own, for the notifier scenarios and ``lateness``:
the fake of ``shared.devtwilio`` (Messages resource, Basic auth, status callbacks ``sent`` then
``delivered`` signed as Twilio signs them) served until stdin closes.

    python bench/twilio_like.py PORT AUTH_TOKEN
        prints "ready"; on the line "arrivals PATH" writes a JSON object {sid: arrival} (the
        wall-clock instant, Unix seconds, at which each accepted message's request reached
        the server: when it was handed to the provider) and prints "written"
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
from pathlib import Path

from aiohttp import web

from shared.devtwilio import FakeTwilio


class TimedTwilio(FakeTwilio):
    """Records when each accepted message arrived, by its sid."""

    def __init__(self, auth_token: str, port: int) -> None:
        super().__init__(auth_token=auth_token, port=port)
        self.arrivals: dict[str, float] = {}

    async def _create_message(self, request: web.Request) -> web.StreamResponse:
        arrived = time.time()
        response = await super()._create_message(request)
        if isinstance(response, web.Response) and response.status == 201 and response.text:
            self.arrivals[json.loads(response.text)["sid"]] = arrived
        return response


async def serve(port: int, auth_token: str) -> None:
    # A notifier stopping with callbacks in flight resets their connections: expected at the
    # end of every run, and not what the bench's output is for.
    logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)
    twilio = TimedTwilio(auth_token, port)
    await twilio.start()
    print("ready", flush=True)
    loop = asyncio.get_running_loop()
    while line := await loop.run_in_executor(None, sys.stdin.readline):  # "" once stdin closes
        command, _, argument = line.strip().partition(" ")
        if command == "arrivals":
            await asyncio.to_thread(Path(argument).write_text, json.dumps(twilio.arrivals))
            print("written", flush=True)
    await twilio.stop()


if __name__ == "__main__":
    asyncio.run(serve(int(sys.argv[1]), sys.argv[2]))

"""A Twilio-like SMS API in a process of its own, for bench/notifier_dispatch.py: the fake of
``shared.devtwilio`` (Messages resource, Basic auth, status callbacks ``sent`` then
``delivered`` signed as Twilio signs them) served until stdin closes.

    python bench/twilio_like.py PORT AUTH_TOKEN
"""

from __future__ import annotations

import asyncio
import sys

from shared.devtwilio import FakeTwilio


async def serve(port: int, auth_token: str) -> None:
    twilio = FakeTwilio(auth_token=auth_token, port=port)
    await twilio.start()
    print("ready", flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)  # until the bench closes our stdin
    await twilio.stop()


if __name__ == "__main__":
    asyncio.run(serve(int(sys.argv[1]), sys.argv[2]))

"""The demo's inbox counts a prompt that arrived while the clock was being moved."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

from services.demo.play import Inbox
from services.demo.run import PEOPLE
from services.demo.system import LocalSystem

ELI = PEOPLE[-1]  # by SMS


async def test_a_prompt_that_came_before_the_wait_began_is_not_waited_for_again() -> None:
    texts: list[Any] = []
    system = cast(
        LocalSystem,
        SimpleNamespace(smtp=SimpleNamespace(messages=[]), twilio=SimpleNamespace(messages=texts)),
    )
    inbox = Inbox(system)
    before = inbox.counts([ELI])  # as play_check_ins does, before the clock moves
    # advance_to waits for the services, and the prompt may already be sent meanwhile.
    texts.append(SimpleNamespace(to=ELI.phone, body="Weekly check-in ... Reply STOP to stop."))
    await inbox.wait_for_prompts([ELI], before, timeout_s=0)
    assert inbox.count(ELI) == 1

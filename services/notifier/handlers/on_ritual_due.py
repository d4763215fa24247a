"""RitualDue -> the member's prompt (see send_prompt for the once-only guarantee)."""

from __future__ import annotations

from services.notifier.handlers.prompt_job import PromptJob
from services.notifier.handlers.send_prompt import PromptDeps, send_prompt
from shared.contracts import RitualDueV1
from shared.messaging.consumer import Delivery


async def handle_ritual_due(event: RitualDueV1, delivery: Delivery, deps: PromptDeps) -> str:
    return await send_prompt(PromptJob.for_due(event), delivery, deps)

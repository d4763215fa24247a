"""NudgeDue -> a gentle reminder, unless the member has answered since the nudge was due."""

from __future__ import annotations

from sqlalchemy import exists, select

from services.notifier.adapters.tables import answers, deliveries
from services.notifier.handlers.prompt_job import PromptJob, delivery_id_for
from services.notifier.handlers.send_prompt import SENT, PromptDeps, send_prompt
from shared.contracts import Channel, NudgeDueV1
from shared.messaging.consumer import Delivery


async def handle_nudge_due(event: NudgeDueV1, delivery: Delivery, deps: PromptDeps) -> str:
    original_id = delivery_id_for(event.due_event_id, Channel.email)
    async with deps.sessions() as session:
        original = (
            await session.execute(select(deliveries).where(deliveries.c.id == original_id))
        ).first()
        if original is None or original.status != SENT:
            return "no_prompt_to_nudge"
        answered = (
            await session.execute(select(exists().where(answers.c.delivery_id == original_id)))
        ).scalar()
    if answered:
        return "already_answered"
    return await send_prompt(PromptJob.for_nudge(event, original), delivery, deps)

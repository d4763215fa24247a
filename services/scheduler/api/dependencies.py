from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.scheduler.handlers.emit_due import EmissionPolicy
from shared.clock import Clock
from shared.outbox import OutboxRelay


@dataclass(frozen=True)
class ApiContext:
    sessions: async_sessionmaker[AsyncSession]
    clock: Clock
    relay: OutboxRelay
    emission: EmissionPolicy
    default_misfire_grace: timedelta
    min_prompt_interval: timedelta


def api_context(request: Request) -> ApiContext:
    context: ApiContext = request.app.state.context
    return context

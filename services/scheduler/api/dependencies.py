from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.clock import Clock


@dataclass(frozen=True)
class ApiContext:
    sessions: async_sessionmaker[AsyncSession]
    clock: Clock
    default_misfire_grace_s: int


def api_context(request: Request) -> ApiContext:
    context: ApiContext = request.app.state.context
    return context

"""What every part of the ``Deliveries`` repository shares: the caller's session (a repository
never begins, commits or rolls back) and the size of its ``IN (...)`` lists."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

# Rows per IN (...) list: well inside every engine's limit on bound parameters.
CHUNK = 500

T = TypeVar("T")


def chunks(items: Sequence[T]) -> Iterable[Sequence[T]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


class DeliveriesBase:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

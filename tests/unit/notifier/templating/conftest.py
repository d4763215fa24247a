from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.notifier.templating import InMemoryStoredTemplates, PromptRenderer

NOW = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)


@pytest.fixture
def store() -> InMemoryStoredTemplates:
    return InMemoryStoredTemplates()


@pytest.fixture
def renderer(store: InMemoryStoredTemplates) -> PromptRenderer:
    return PromptRenderer(store)

"""Prompts rendered from templates operators write: sandboxed Jinja2, Babel formatting, SMS
segment checks, stored templates over packaged defaults, operators' templates rendered in
worker processes.

The names below are the package's public API; modules are small and named for what they do
(``sandbox``, ``policy``, ``renderer``, ``pool``, ``store``, ``packaged``, ``samples``…).
They are imported on first use: a render worker imports the sandbox only, and starts without
the store's SQLAlchemy and the messaging it brings.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from services.notifier.templating.context import PromptContext
    from services.notifier.templating.pool import RenderLimits, RenderPool
    from services.notifier.templating.problems import TemplateOverrun, TemplateProblem
    from services.notifier.templating.renderer import PromptRenderer, RenderedEmail, RenderedSms
    from services.notifier.templating.sources import Origin, ResolvedTemplate, TemplateSource
    from services.notifier.templating.store import (
        InMemoryStoredTemplates,
        SqlStoredTemplates,
        StoredTemplate,
        StoredTemplates,
    )

_MODULES = {
    "InMemoryStoredTemplates": "store",
    "Origin": "sources",
    "PromptContext": "context",
    "PromptRenderer": "renderer",
    "RenderLimits": "pool",
    "RenderPool": "pool",
    "RenderedEmail": "renderer",
    "RenderedSms": "renderer",
    "ResolvedTemplate": "sources",
    "SqlStoredTemplates": "store",
    "StoredTemplate": "store",
    "StoredTemplates": "store",
    "TemplateOverrun": "problems",
    "TemplateProblem": "problems",
    "TemplateSource": "sources",
}

__all__ = [
    "InMemoryStoredTemplates",
    "Origin",
    "PromptContext",
    "PromptRenderer",
    "RenderLimits",
    "RenderPool",
    "RenderedEmail",
    "RenderedSms",
    "ResolvedTemplate",
    "SqlStoredTemplates",
    "StoredTemplate",
    "StoredTemplates",
    "TemplateOverrun",
    "TemplateProblem",
    "TemplateSource",
]


def __getattr__(name: str) -> Any:
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)

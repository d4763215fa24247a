"""Prompts rendered from templates operators write: sandboxed Jinja2, Babel formatting, SMS
segment checks, stored templates over packaged defaults.

The names below are the package's public API; modules are small and named for what they do
(``sandbox``, ``policy``, ``renderer``, ``store``, ``packaged``, ``samples``…).
"""

from services.notifier.templating.context import PromptContext
from services.notifier.templating.problems import TemplateProblem
from services.notifier.templating.renderer import PromptRenderer, RenderedEmail, RenderedSms
from services.notifier.templating.sources import Origin, ResolvedTemplate, TemplateSource
from services.notifier.templating.store import (
    InMemoryStoredTemplates,
    SqlStoredTemplates,
    StoredTemplate,
    StoredTemplates,
)

__all__ = [
    "InMemoryStoredTemplates",
    "Origin",
    "PromptContext",
    "PromptRenderer",
    "RenderedEmail",
    "RenderedSms",
    "ResolvedTemplate",
    "SqlStoredTemplates",
    "StoredTemplate",
    "StoredTemplates",
    "TemplateProblem",
    "TemplateSource",
]

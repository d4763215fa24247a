"""Prompt templates: Jinja2 in a sandbox, because operators write them.

``templates/<key>/<locale>/subject.txt`` and ``body.txt``; a missing locale falls back to the
language, then to English. Autoescaping is off for these plain-text parts; the sandbox refuses
attribute access to internals such as ``__class__`` or ``__globals__``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import FileSystemLoader, StrictUndefined, TemplateError, TemplateNotFound
from jinja2.sandbox import ImmutableSandboxedEnvironment

DEFAULT_TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates"
FALLBACK_LOCALE = "en"


class TemplateProblem(ValueError):
    """The template is missing or cannot render; the message names which and why."""


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str


class PromptTemplates:
    def __init__(self, directory: Path = DEFAULT_TEMPLATE_DIR) -> None:
        self._env = ImmutableSandboxedEnvironment(
            loader=FileSystemLoader(str(directory)),
            undefined=StrictUndefined,
            autoescape=False,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
        )

    def _candidates(self, key: str, locale: str, part: str) -> list[str]:
        language = locale.split("-")[0]
        locales = dict.fromkeys([locale, language, FALLBACK_LOCALE])
        return [f"{key}/{candidate}/{part}" for candidate in locales]

    def _render(self, key: str, locale: str, part: str, context: dict[str, Any]) -> str:
        try:
            template = self._env.select_template(self._candidates(key, locale, part))
            return template.render(**context)
        except TemplateNotFound as error:
            raise TemplateProblem(f"no template {key}/{part} for locale {locale}") from error
        except TemplateError as error:
            raise TemplateProblem(f"template {key}/{part} failed: {error.message}") from error

    def render_email(self, key: str, locale: str, context: dict[str, Any]) -> RenderedEmail:
        subject = " ".join(self._render(key, locale, "subject.txt", context).split())
        return RenderedEmail(subject=subject, text=self._render(key, locale, "body.txt", context))

"""The one error the templating package raises for a template that cannot be used."""

from __future__ import annotations


class TemplateProblem(ValueError):
    """A template is missing, unsafe, too long or fails to render.

    The message names the template (origin, key, locale, channel, part) and the reason, and
    never carries personal data: templates are rendered from pseudonymous, coded context only,
    and values are never quoted back.
    """


class TemplateOverrun(TemplateProblem):
    """A render took too long or used too much memory: its worker is replaced."""

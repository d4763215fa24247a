"""One unit of rendering work: the parts of a template, each rendered with each set of
variables. The same code runs it in-process (packaged defaults) and in a render worker
(operators' templates), so both refuse the same things in the same words."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from services.notifier.templating.sandbox import PromptSandbox, SandboxLimits


@dataclass(frozen=True)
class TemplatePart:
    source: str
    name: str
    """How problems name it: ``stored template check_in/en/email subject``."""
    html: bool
    """Rendered with autoescape on."""


@dataclass(frozen=True)
class RenderJob:
    name: str
    """The template's name, for problems no one part is to blame for."""
    parts: tuple[TemplatePart, ...]
    variables: tuple[Mapping[str, Any], ...]
    """One set per render (a prompt has one, a validation one per sample). Plain dicts, so
    they can be sent to a worker."""


Renders = list[list[str]]
"""``renders[i][j]``: part ``j`` rendered with variables ``i``."""


@dataclass(frozen=True)
class Sandboxes:
    text: PromptSandbox
    html: PromptSandbox

    @classmethod
    def with_limits(cls, limits: SandboxLimits) -> Sandboxes:
        """Text parts render with autoescape off, HTML parts with it on."""
        return cls(PromptSandbox(limits, html=False), PromptSandbox(limits, html=True))

    def run(self, job: RenderJob) -> Renders:
        """Compiles every part first, so a refused construct is reported as such rather than
        as a rendering error with some sample; stops at the first ``TemplateProblem``."""
        compiled = []
        for part in job.parts:
            sandbox = self.html if part.html else self.text
            compiled.append((sandbox, sandbox.compile_template(part.source, part.name), part.name))
        return [
            [
                sandbox.render_bounded(template, variables, name)
                for sandbox, template, name in compiled
            ]
            for variables in job.variables
        ]

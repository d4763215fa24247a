from __future__ import annotations

from pathlib import Path

import pytest

from services.notifier.adapters.templates import PromptTemplates, TemplateProblem


def test_locale_falls_back_to_english() -> None:
    rendered = PromptTemplates().render_email("check_in", "xx-YY", _context())
    assert rendered.subject.startswith("Your weekly check-in")


def test_a_missing_template_is_a_clear_problem() -> None:
    with pytest.raises(TemplateProblem, match="no template nonexistent"):
        PromptTemplates().render_email("nonexistent", "en", _context())


@pytest.mark.parametrize(
    "body",
    [
        "{{ question.__class__.__mro__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ options.__globals__ }}",
    ],
)
def test_the_sandbox_refuses_reaching_for_internals(tmp_path: Path, body: str) -> None:
    (tmp_path / "evil" / "en").mkdir(parents=True)
    (tmp_path / "evil" / "en" / "subject.txt").write_text("hi")
    (tmp_path / "evil" / "en" / "body.txt").write_text(body)
    with pytest.raises(TemplateProblem):
        PromptTemplates(tmp_path).render_email("evil", "en", _context())


def _context() -> dict[str, object]:
    return {"question": "q?", "options": [], "respond_by": "soon", "answer_url": "u"}

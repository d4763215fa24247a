from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from services.notifier.adapters.templates import PromptTemplates, TemplateProblem
from services.notifier.domain.questions import ONS_LONELINESS
from services.notifier.domain.signed_links import LinkSigner
from services.notifier.handlers.compose import ANSWER_PURPOSE, EmailPolicy, compose_prompt

NOW = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)
POLICY = EmailPolicy(
    mail_from="Riverside <checkins@rituals.example>",
    message_id_domain="rituals.example",
    public_base_url="https://rituals.example",
    late_answer_grace=timedelta(days=7),
)
SIGNER = LinkSigner(b"k" * 32)


def compose(to: str = "ana@example.org", templates: PromptTemplates | None = None) -> object:
    return compose_prompt(
        delivery_id="11111111-2222-3333-4444-555555555555",
        answer_delivery_id="11111111-2222-3333-4444-555555555555",
        to_address=to,
        locale="en-GB",
        template_key="check_in",
        item=ONS_LONELINESS,
        respond_by=NOW + timedelta(days=2),
        timezone="America/New_York",
        now=NOW,
        templates=templates or PromptTemplates(),
        signer=SIGNER,
        policy=POLICY,
    )


def test_check_in_renders_the_question_every_answer_link_and_a_local_deadline() -> None:
    message = compose()
    text = message.get_content()  # type: ignore[attr-defined]
    assert message["Subject"] == "Your weekly check-in: one quick question"  # type: ignore[index]
    assert "How often do you feel lonely?" in text
    for option in ONS_LONELINESS.options:
        assert f"{option.label}: https://rituals.example/r/" in text
        assert f"?v={option.value}" in text
    # 09:00 UTC + 48 h, shown in the member's zone (New York, UTC-5).
    assert "Wednesday 06 January, 04:00" in text


def test_answer_links_are_signed_for_this_delivery() -> None:
    text = compose().get_content()  # type: ignore[attr-defined]
    token = text.split("/r/")[1].split("?")[0]
    delivery = SIGNER.verify(token, ANSWER_PURPOSE, NOW)
    assert delivery == "11111111-2222-3333-4444-555555555555"


def test_message_id_is_stable_per_delivery() -> None:
    first, second = compose(), compose()
    assert first["Message-ID"] == second["Message-ID"]  # type: ignore[index]
    assert "11111111-2222-3333-4444-555555555555" in str(first["Message-ID"])  # type: ignore[index]


def test_a_header_value_with_a_line_break_cannot_inject_a_header() -> None:
    with pytest.raises(ValueError, match=r"[Hh]eader"):
        compose(to="ana@example.org\r\nBcc: everyone@example.org").as_string()  # type: ignore[attr-defined]


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

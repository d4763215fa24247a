"""The prompt e-mail written as bytes: no header injection, non-ASCII encoded properly, long
ASCII headers left whole, and a body that cannot end the MIME part it is in."""

from __future__ import annotations

import pytest

from services.notifier.domain.mime import OutgoingEmail, alternative_email, header_line


@pytest.mark.parametrize("value", ["a\r\nBcc: x@example.org", "a\nX: y", "a\rX: y"])
def test_a_line_break_in_any_header_value_is_refused(value: str) -> None:
    with pytest.raises(ValueError, match="line break"):
        header_line("Subject", value)


def test_a_long_ascii_header_stays_on_one_line_and_a_longer_one_is_folded() -> None:
    url = "<https://rituals.example/u/" + "A" * 900 + ">"
    assert header_line("List-Unsubscribe", url) == f"List-Unsubscribe: {url}\r\n".encode()
    folded = header_line("X-Long", "word " * 400)
    assert all(len(line) <= 998 for line in folded.split(b"\r\n"))


def test_non_ascii_subjects_and_bodies_survive_the_round_trip() -> None:
    text = "¿Cómo estás? " * 300 + "\n.\n=_key\n"  # long lines, a lone dot, the boundary
    data = alternative_email(
        [("From", "Vecinos <a@example.org>"), ("To", "b@example.org"), ("Subject", "¿Cómo?")],
        text,
        "<p>ñ</p>",
        "key",
    )
    assert data.isascii()
    assert all(len(line) <= 998 for line in data.split(b"\r\n"))
    parsed = OutgoingEmail("a@example.org", "b@example.org", data).parsed()
    assert parsed["Subject"] == "¿Cómo?"
    plain = parsed.get_body(preferencelist=("plain",))
    html = parsed.get_body(preferencelist=("html",))
    assert plain is not None
    assert html is not None
    assert plain.get_content().replace("\r\n", "\n") == text
    assert html.get_content().strip() == "<p>ñ</p>"

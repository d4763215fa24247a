"""``rituals template preview``: packaged templates with sample data, no database."""

from __future__ import annotations

import argparse

import pytest

from services.notifier.template_preview import (
    PreviewError,
    add_template_preview_arguments,
    preview_template,
    run_template_preview,
)


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="rituals template preview")
    add_template_preview_arguments(parser)
    return parser.parse_args(argv)


async def test_an_sms_preview_ends_with_its_cost() -> None:
    output = await preview_template("check_in", "en", "sms", week=4)
    lines = output.splitlines()
    assert lines[0] == "check_in/en (default), questions weekly_w0"
    assert "Weekly check-in, open until Wed 29 Sep 09:00." in output
    assert "Reply with one number, 1 to 5. This week's other questions: https://" in output
    assert lines[-1] == (
        "3 segments, GSM-7; warnings: 3 segments (GSM-7): more than 2 cost extra and may "
        "arrive out of order"
    )


async def test_a_nudge_preview_uses_the_nudge_template_in_the_fallback_locale() -> None:
    output = await preview_template("check_in", "es-MX", "sms", nudge=1)
    assert output.splitlines()[0] == (
        "check_in_nudge/es (default; es-MX falls back to es), questions weekly_w0"
    )
    assert output.splitlines()[-1] == "2 segments, GSM-7; warnings: none"


async def test_a_reminder_without_nudge_template_says_so() -> None:
    output = await preview_template("reach_out", "en", "sms", nudge=1, focus="practical")
    assert "no _nudge template, sent with a reminder line" in output.splitlines()[0]
    assert "Gentle reminder: This week's connection ritual: ask for or offer one" in output
    assert output.splitlines()[-1] == "1 segment, GSM-7; warnings: none"


async def test_an_email_preview_shows_subject_text_and_html() -> None:
    output = await preview_template("gratitude", "es", "email", kind="gratitude")
    assert "Subject: El ritual de conexión de esta semana: un pequeño agradecimiento" in output
    assert "--- text ---\nHola:" in output
    assert '--- html ---\n<!doctype html>\n<html lang="es">' in output
    assert "https://rituals.example/u/" in output  # the sample unsubscribe link


def test_run_prints_and_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_template_preview(_args("sms_help", "--locale", "es", "--channel", "sms")) == 0
    captured = capsys.readouterr()
    assert "Connection Rituals: check-ins semanales" in captured.out
    assert captured.err == ""


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("nope", "--channel", "sms"), "rituals: unknown template 'nope'; known: check_in,"),
        (("check_in", "--channel", "fax"), "rituals: unknown channel 'fax'; use email or sms"),
        (("sms_help", "--channel", "email"), "rituals: sms_help has no email template"),
        (("check_in", "--channel", "sms", "--locale", "xx-ZZ"), "rituals: unknown locale 'xx-ZZ'"),
        (("check_in", "--channel", "sms", "--nudge", "-1"), "rituals: --nudge must be 0 or more"),
        (("check_in", "--channel", "sms", "--kind", "party"), "rituals: unknown kind 'party'"),
        (("reach_out", "--channel", "sms", "--focus", "money"), "rituals: unknown focus 'money'"),
        (("check_in", "--channel", "sms", "--week", "54"), "rituals: --week must be an ISO week"),
    ],
)
def test_unknown_things_exit_2_with_a_clear_message(
    capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], message: str
) -> None:
    assert run_template_preview(_args(*argv)) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith(message)
    assert captured.out == ""


async def test_the_logic_raises_a_preview_error() -> None:
    with pytest.raises(PreviewError, match="unknown template"):
        await preview_template("nope", "en", "sms")

"""A service whose settings are bad names every bad variable at once, one a line, by its
environment name, and never prints a value or a traceback; it exits 78 (EX_CONFIG)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError, field_validator

from services.notifier.settings import NotifierSettings
from services.scheduler.settings import SchedulerSettings
from shared.entrypoint import EXIT_BAD_SETTINGS
from shared.settings import ServiceSettings, settings_problems

POSTGRES = "postgresql+asyncpg://svc@db:5432/rituals"
BAD = {
    "NOTIFIER_ENVIRONMENT": "prod",
    "NOTIFIER_DATABASE_URL": "sqlite+aiosqlite:///./private-notifier.db",
    "NOTIFIER_OPERATOR_TOKEN": "example-op-token-7Qx2Lm9Vt4Rw8Zk",  # 32 characters
    "NOTIFIER_LINK_SIGNING_KEY": "k3Y-too-short",
    "NOTIFIER_RESPONDENT_KEY_SECRET": "secret-respondent-Hq8Jw2Pz5Nc7",
    "NOTIFIER_SMTP_PORT": "port-Zq7Wm",
    "NOTIFIER_TWILIO_ACCOUNT_SID": "ACnot-a-sid-Vb6Ty1",
}


def run_notifier(env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("NOTIFIER_")}
    return subprocess.run(
        [sys.executable, "-m", "services.notifier"],
        env=clean | env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def assert_nothing_quoted(output: str, values: list[str]) -> None:
    assert "Traceback" not in output
    for value in values:
        # Not the value, nor a long piece of it (pydantic used to print 27 of 32 characters).
        for piece in {value, value[:10], value[-10:], value[5:15]} - {""}:
            assert piece not in output, piece


def test_every_bad_variable_is_named_without_its_value(tmp_path: Path) -> None:
    result = run_notifier(BAD, tmp_path)
    assert result.returncode == EXIT_BAD_SETTINGS, result.stderr
    lines = result.stderr.strip().splitlines()
    for variable in BAD.keys() - {"NOTIFIER_ENVIRONMENT"}:
        named = [line for line in lines if f" {variable} " in line or f" {variable}:" in line]
        assert len(named) == 1, (variable, lines)
    # The built-in placeholder that was left in place is reported too, in the same run.
    assert any("NOTIFIER_LINK_SIGNING_KEY must be a real secret" in line for line in lines)
    assert len(lines) == len(BAD) - 1
    quoted = [v for k, v in BAD.items() if k != "NOTIFIER_ENVIRONMENT"]  # "prod" is a word
    assert_nothing_quoted(result.stderr + result.stdout, quoted)


def test_a_variable_that_is_not_json_is_named_without_its_value(tmp_path: Path) -> None:
    value = '{"ons_loneliness": [1, private-Wq3'
    result = run_notifier({"NOTIFIER_DISTRESS_ANSWERS": value}, tmp_path)
    assert result.returncode == EXIT_BAD_SETTINGS, result.stderr
    assert result.stderr.strip().splitlines() == [
        "notifier: bad setting: NOTIFIER_DISTRESS_ANSWERS is not valid JSON"
    ]
    assert_nothing_quoted(result.stderr + result.stdout, [value])


def _problems(settings_type: type[ServiceSettings], **values: Any) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        settings_type(**values)
    return settings_problems(settings_type, caught.value)


def test_every_placeholder_secret_is_reported_at_once() -> None:
    problems = _problems(
        NotifierSettings,
        environment="prod",
        database_url=POSTGRES,
        operator_token="changeme",
        respondent_key_secret="x" * 10,
        twilio_auth_token="placeholder-auth-token-that-is-long",
    )
    assert sorted(problems) == sorted(
        f"{name} must be a real secret of at least 24 characters outside dev "
        "(it looks like a placeholder)"
        for name in (
            "NOTIFIER_OPERATOR_TOKEN",
            "NOTIFIER_LINK_SIGNING_KEY",  # its built-in dev placeholder
            "NOTIFIER_RESPONDENT_KEY_SECRET",
            "NOTIFIER_TWILIO_AUTH_TOKEN",
        )
    )


def test_a_rule_across_variables_is_reported_in_its_own_words() -> None:
    real = "kq3V9x7PzL2mR8tY4wN6bJ1cH5dF0gS"
    problems = _problems(
        NotifierSettings,
        environment="test",
        operator_token=real,
        link_signing_key=real,
        respondent_key_secret=real,
        sms_provider="http_gateway",
    )
    assert problems == ["NOTIFIER_SMS_GATEWAY_URL is required for the http_gateway provider"]


def test_an_sms_provider_that_is_not_registered_is_named_with_the_known_ones() -> None:
    problems = _problems(NotifierSettings, environment="dev", sms_provider="acme")
    assert problems == [
        "NOTIFIER_SMS_PROVIDER names no SMS provider (known: outbox, twilio, http_gateway)"
    ]


def test_a_missing_variable_is_named() -> None:
    class Strict(ServiceSettings):
        model_config = ServiceSettings.model_config | {"env_prefix": "STRICT_"}

    assert _problems(Strict, environment="dev") == ["STRICT_DATABASE_URL is required and not set"]


def test_a_malformed_value_and_rules_on_other_variables_are_reported_together() -> None:
    problems = _problems(SchedulerSettings, environment="prod", stream_replicas="three-Kz9")
    assert problems == [
        "SCHEDULER_STREAM_REPLICAS is not valid: Input should be a valid integer, unable to "
        "parse string as an integer",
        "SCHEDULER_DATABASE_URL: SQLite is for dev; use PostgreSQL in prod",
        "SCHEDULER_OPERATOR_TOKEN must be a real secret of at least 24 characters outside dev "
        "(it looks like a placeholder)",
    ]


def test_a_check_that_quotes_the_value_has_it_withheld() -> None:
    class Quoting(ServiceSettings):
        model_config = ServiceSettings.model_config | {"env_prefix": "QUOTING_"}

        @field_validator("nats_url")
        @classmethod
        def _quotes(cls, value: str) -> str:
            raise ValueError(f"cannot reach {value}")

    problems = _problems(
        Quoting, environment="dev", database_url=POSTGRES, nats_url="nats://user:pw-Xy7@h:4222"
    )
    assert problems == ["QUOTING_NATS_URL is not valid: cannot reach (value withheld)"]

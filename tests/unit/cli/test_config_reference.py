"""docs/configuration.md is what ``rituals config reference`` generates from the settings
classes: every variable, secrets without values."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from services.cli import main
from services.settings_reference import REGENERATE, SERVICES, render_reference
from shared.settings import ServiceSettings

REFERENCE = Path(__file__).resolve().parents[3] / "docs" / "configuration.md"


def test_the_checked_in_reference_is_current() -> None:
    assert REFERENCE.read_text(encoding="utf-8") == render_reference(), (
        f"docs/configuration.md is out of date; regenerate it: {REGENERATE}"
    )


def test_the_command_prints_the_reference(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "reference"]) == 0
    assert capsys.readouterr().out == render_reference()


@pytest.mark.parametrize(("service", "settings"), SERVICES)
def test_every_variable_of_every_service_is_listed(
    service: str, settings: type[ServiceSettings]
) -> None:
    text = render_reference()
    own_section = text.split(f"## {service.capitalize()} ", 1)[1].split("\n## ", 1)[0]
    for name in settings.model_fields:
        variable = settings.env_name(name)
        if name in ServiceSettings.model_fields and f"`*_{name.upper()}`" in text:
            continue  # a shared field the service does not redeclare: under "Every service"
        assert f"`{variable}`" in own_section, variable


@pytest.mark.parametrize(("service", "settings"), SERVICES)
def test_no_secret_value_is_printed(service: str, settings: type[ServiceSettings]) -> None:
    text = render_reference()
    secrets = [
        info.default.get_secret_value()
        for info in settings.model_fields.values()
        if isinstance(info.default, SecretStr)
    ]
    assert secrets, f"{service} has a secret with a default to check"
    for secret in secrets:
        assert secret not in text


@pytest.mark.parametrize(("service", "settings"), SERVICES)
def test_every_setting_says_what_it_does(service: str, settings: type[ServiceSettings]) -> None:
    """The reference is only as good as the descriptions it is made of."""
    undescribed = [name for name, info in settings.model_fields.items() if not info.description]
    assert undescribed == [], f"{service}: give these Field(description=...): {undescribed}"

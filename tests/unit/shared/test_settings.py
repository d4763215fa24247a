from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.insights.settings import InsightsSettings
from services.notifier.settings import NotifierSettings
from services.scheduler.settings import SchedulerSettings

POSTGRES = "postgresql+asyncpg://svc@db:5432/rituals"


def test_dev_accepts_the_built_in_placeholders() -> None:
    assert SchedulerSettings(environment="dev").operator_token.get_secret_value()


@pytest.mark.parametrize("settings_type", [SchedulerSettings, NotifierSettings, InsightsSettings])
def test_prod_refuses_placeholder_secrets(settings_type: type) -> None:
    with pytest.raises(ValidationError, match="must be a real secret"):
        settings_type(environment="prod", database_url=POSTGRES)


def test_prod_names_the_variable_to_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCHEDULER_ENVIRONMENT", "prod")
    monkeypatch.setenv("SCHEDULER_DATABASE_URL", POSTGRES)
    monkeypatch.setenv("SCHEDULER_OPERATOR_TOKEN", "changeme")
    with pytest.raises(ValidationError, match="SCHEDULER_OPERATOR_TOKEN"):
        SchedulerSettings()


def test_prod_accepts_real_secrets_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INSIGHTS_ENVIRONMENT", "prod")
    monkeypatch.setenv("INSIGHTS_DATABASE_URL", POSTGRES)
    monkeypatch.setenv("INSIGHTS_ANALYST_TOKEN", "kq3V9x7PzL2mR8tY4wN6bJ1cH5dF0gS")
    monkeypatch.setenv("INSIGHTS_OPERATOR_TOKEN", "Zt8wq1Lm4Rv7Nc2Xp9Kd6Hs3Bj5Fg0Y")
    settings = InsightsSettings()
    assert settings.database_url == POSTGRES


def test_prod_refuses_sqlite() -> None:
    with pytest.raises(ValidationError, match="SQLite is for dev"):
        InsightsSettings(
            environment="prod",
            database_url="sqlite+aiosqlite:///x.db",
            analyst_token="kq3V9x7PzL2mR8tY4wN6bJ1cH5dF0gS",
        )

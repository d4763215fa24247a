from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class InsightsSettings(ServiceSettings):
    """Configuration of the insights service, from ``INSIGHTS_*`` environment variables."""

    model_config = SettingsConfigDict(env_prefix="INSIGHTS_")

    database_url: str = Field(
        default="sqlite+aiosqlite:///./.run/insights.sqlite3",
        description="SQLAlchemy async URL of the insights service's own database.",
    )
    analyst_http_port: int = Field(
        default=8082,
        ge=0,
        le=65535,
        description="The analysts' listener (the read API and probes); 0 picks a free port.",
    )
    analyst_token: SecretStr = Field(
        default=SecretStr("dev-only-insights-analyst-token"),
        description="Bearer token public-health analysts use on the insights API.",
    )

from __future__ import annotations

from datetime import timedelta

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from services.insights.domain.disclosure import Thresholds
from services.insights.handlers.release import ReleasePolicy
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
        description="Read-only bearer token of public-health analysts (releases, dashboard).",
    )
    operator_token: SecretStr = Field(
        default=SecretStr("dev-only-insights-operator-token"),
        description="Bearer token of operators on the operators' listener (releases on demand).",
    )
    public_releases: bool = Field(
        default=False,
        description="Serve released figures and the dashboard without a token (they are "
        "anonymised; declare them public only if the organisation publishes them).",
    )
    release_rho_week: float = Field(
        default=0.02,
        gt=0,
        le=1,
        description="zCDP ρ a weekly release spends per community (indicators 1, 9, 10).",
    )
    release_rho_period: float = Field(
        default=0.05,
        gt=0,
        le=1,
        description="zCDP ρ a 4-week release spends per community, shared by all its counts.",
    )
    budget_limit_rho: float = Field(
        default=2.0,
        gt=0,
        description="Most ρ one community's releases may spend within the horizon; a release "
        "past it leaves the community out, with the reason.",
    )
    budget_horizon_days: int = Field(
        default=365, ge=1, le=3650, description="The window the budget limit applies to."
    )
    suppress_denominator_below: int = Field(
        default=30, ge=1, description="Withhold (flag c) a proportion with fewer noisy respondents."
    )
    suppress_numerator_below: int = Field(
        default=11, ge=1, description="Withhold (flag c) a value whose noisy numerator is smaller."
    )
    unreliable_halfwidth_points: float = Field(
        default=10.0,
        gt=0,
        description="Flag u (low reliability) a proportion whose 95% interval is wider than "
        "± this many percentage points.",
    )

    def release_policy(self) -> ReleasePolicy:
        return ReleasePolicy(
            rho_week=self.release_rho_week,
            rho_period=self.release_rho_period,
            budget_limit=self.budget_limit_rho,
            budget_horizon=timedelta(days=self.budget_horizon_days),
            thresholds=Thresholds(
                min_denominator=self.suppress_denominator_below,
                min_numerator=self.suppress_numerator_below,
                max_halfwidth_points=self.unreliable_halfwidth_points,
            ),
        )

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class SchedulerSettings(ServiceSettings):
    """Configuration of the scheduler, from ``SCHEDULER_*`` environment variables."""

    model_config = SettingsConfigDict(env_prefix="SCHEDULER_")

    database_url: str = Field(
        default="sqlite+aiosqlite:///./.run/scheduler.sqlite3",
        description="SQLAlchemy async URL of the scheduler's own database.",
    )
    operator_token: SecretStr = Field(
        default=SecretStr("dev-only-scheduler-operator-token"),
        description="Bearer token operators use on the scheduler API.",
    )
    tick_interval_s: float = Field(
        default=1.0,
        gt=0,
        le=60,
        description="How often due occurrences are claimed: a prompt leaves up to this long "
        "after its instant (an idle tick is two indexed queries).",
    )
    tick_batch_size: int = Field(
        default=500, ge=1, le=10_000, description="Schedule rows claimed per transaction."
    )
    default_misfire_grace_s: int = Field(
        default=3600,
        ge=0,
        description="An occurrence missed by longer than this (an outage) is not sent late; "
        "rituals may set their own.",
    )
    late_after_s: int = Field(
        default=60, ge=1, description="Emitted this long after its instant: marked late."
    )
    min_prompt_interval_minutes: int = Field(
        default=60,
        ge=1,
        description="Schedules that would prompt a person more often than this are refused.",
    )

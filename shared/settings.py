"""Settings every service shares, and the rule that secrets must be real outside dev."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Secrets that look like any of these are refused outside dev.
_PLACEHOLDER_MARKERS = (
    "change-me",
    "changeme",
    "change_me",
    "placeholder",
    "dev-only",
    "example",
    "secret",
    "password",
    "xxxx",
    "todo",
)
MIN_SECRET_LENGTH = 24


class Environment(StrEnum):
    dev = "dev"
    test = "test"
    prod = "prod"


def is_placeholder(value: str) -> bool:
    lowered = value.lower()
    return len(value) < MIN_SECRET_LENGTH or any(m in lowered for m in _PLACEHOLDER_MARKERS)


class ServiceSettings(BaseSettings):
    """Fields every service has. Subclasses set ``env_prefix`` (``SCHEDULER_`` …)."""

    model_config = SettingsConfigDict(extra="ignore", validate_default=True)

    environment: Environment = Field(
        default=Environment.prod,
        description="dev allows placeholder secrets and SQLite; anything else demands real ones.",
    )
    nats_url: str = Field(
        default="nats://127.0.0.1:4222",
        description="NATS servers, comma-separated (nats://host:port,…).",
    )
    stream_replicas: int = Field(
        default=1, ge=1, le=5, description="JetStream replicas per stream (3 in a cluster)."
    )
    database_url: str = Field(
        description="SQLAlchemy async URL: sqlite+aiosqlite:///… or postgresql+asyncpg://…",
    )
    database_schema: str | None = Field(
        default=None,
        pattern=r"^[a-z_][a-z0-9_]{0,62}$",
        description="PostgreSQL schema for this service's tables (its own, one owner per fact).",
    )
    migrate_on_start: bool = Field(
        default=True, description="Run Alembic migrations to head when the service starts."
    )
    http_host: str = Field(default="0.0.0.0", description="Interface every HTTP listener binds.")  # noqa: S104
    http_port: int = Field(
        default=8080,
        ge=0,
        le=65535,
        description="The operators' listener (the operator API and probes); 0 picks a free port.",
    )
    http_max_body_bytes: int = Field(
        default=64 * 1024,
        ge=1024,
        le=64 * 1024 * 1024,
        description="Largest request body a route accepts unless it allows more (413 beyond).",
    )
    openapi_docs: bool | None = Field(
        default=None,
        description="Serve /docs, /redoc and /openapi.json on every listener; "
        "unset: on outside prod, off in prod.",
    )
    auth_failure_limit: int = Field(
        default=20,
        ge=1,
        description="Authentication failures (401/403) one address may collect within the "
        "window; one more and it gets 429 for the block time.",
    )
    auth_failure_window_s: float = Field(
        default=60.0, gt=0, description="The window those failures are counted in."
    )
    auth_failure_block_s: float = Field(
        default=300.0, gt=0, description="How long an address that had too many waits (429)."
    )
    auth_throttle_max_peers: int = Field(
        default=10_000,
        ge=1,
        description="Addresses remembered per listener (least recently failed forgotten first).",
    )
    log_level: str = Field(default="INFO", pattern=r"^(DEBUG|INFO|WARNING|ERROR)$")

    @property
    def openapi_docs_enabled(self) -> bool:
        if self.openapi_docs is not None:
            return self.openapi_docs
        return self.environment is not Environment.prod

    @model_validator(mode="after")
    def _secrets_are_real_outside_dev(self) -> ServiceSettings:
        if self.environment is Environment.dev:
            return self
        prefix = str(self.model_config.get("env_prefix", "")).upper()
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr) and is_placeholder(value.get_secret_value()):
                raise ValueError(
                    f"{prefix}{name.upper()} must be a real secret of at least "
                    f"{MIN_SECRET_LENGTH} characters outside dev (it looks like a placeholder)"
                )
        if self.database_url.startswith("sqlite") and self.environment is Environment.prod:
            raise ValueError(f"{prefix}DATABASE_URL: SQLite is for dev; use PostgreSQL in prod")
        return self

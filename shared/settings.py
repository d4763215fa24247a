"""Settings every service shares, the rule that secrets must be real outside dev, and how a
bad configuration is reported: every bad variable at once, by its environment name, never
with its value."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError

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
    log_level: str = Field(
        default="INFO",
        pattern=r"^(DEBUG|INFO|WARNING|ERROR)$",
        description="Least severe level logged (JSON lines on stderr).",
    )

    @property
    def openapi_docs_enabled(self) -> bool:
        if self.openapi_docs is not None:
            return self.openapi_docs
        return self.environment is not Environment.prod

    @classmethod
    def env_name(cls, field: str) -> str:
        """The environment variable that sets ``field``."""
        return f"{cls.model_config.get('env_prefix', '')}{field}".upper()

    # Field validators, not one model validator: each bad field is its own error, so a
    # deployment with three placeholder secrets hears about all three at once.
    @field_validator("*")
    @classmethod
    def _secrets_are_real_outside_dev(cls, value: Any, info: ValidationInfo) -> Any:
        if (
            isinstance(value, SecretStr)
            and info.field_name is not None
            and info.data.get("environment", Environment.dev) is not Environment.dev
            and is_placeholder(value.get_secret_value())
        ):
            raise PydanticCustomError(
                "placeholder_secret",
                "{variable} must be a real secret of at least {length} characters outside dev "
                "(it looks like a placeholder)",
                {"variable": cls.env_name(info.field_name), "length": MIN_SECRET_LENGTH},
            )
        return value

    @field_validator("database_url")
    @classmethod
    def _no_sqlite_in_prod(cls, value: str, info: ValidationInfo) -> str:
        if value.startswith("sqlite") and info.data.get("environment") is Environment.prod:
            raise PydanticCustomError(
                "sqlite_in_prod",
                "{variable}: SQLite is for dev; use PostgreSQL in prod",
                {"variable": cls.env_name("database_url")},
            )
        return value


def settings_problems(
    settings_type: type[ServiceSettings], error: ValidationError | SettingsError
) -> list[str]:
    """One line per bad variable: its environment name and what is wrong, never its value."""
    if isinstance(error, SettingsError):
        # pydantic-settings stops at the first variable that is not valid JSON.
        field = re.search(r'field "(\w+)"', str(error))
        name = settings_type.env_name(field.group(1)) if field else "a variable"
        return [f"{name} is not valid JSON"]
    lines = []
    for problem in error.errors(include_url=False):
        loc = problem["loc"]
        variable = settings_type.env_name(str(loc[0])) if loc else ""
        if problem["type"] == "missing":
            lines.append(f"{variable} is required and not set")
            continue
        reason = problem["msg"]
        if problem["type"] == "value_error":  # a check's ValueError: its message, unprefixed
            reason = str(problem.get("ctx", {}).get("error", reason))
        given = problem.get("input")
        if isinstance(given, str) and len(given) > 2 and given in reason:
            reason = reason.replace(given, "(value withheld)")  # a check that quoted it
        if not variable or reason.startswith(variable):  # a rule that names its variables
            lines.append(reason)
        else:
            lines.append(f"{variable} is not valid: {reason}")
    return list(dict.fromkeys(lines))

from __future__ import annotations

from enum import StrEnum

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class SmtpSecurity(StrEnum):
    none = "none"  # dev sinks only
    starttls = "starttls"
    implicit_tls = "implicit_tls"


class NotifierSettings(ServiceSettings):
    """Configuration of the notifier, from ``NOTIFIER_*`` environment variables."""

    model_config = SettingsConfigDict(env_prefix="NOTIFIER_")

    database_url: str = Field(
        default="sqlite+aiosqlite:///./.run/notifier.sqlite3",
        description="SQLAlchemy async URL of the notifier's own database (contact data).",
    )
    operator_token: SecretStr = Field(
        default=SecretStr("dev-only-notifier-operator-token"),
        description="Bearer token operators use on the notifier API.",
    )
    link_signing_key: SecretStr = Field(
        default=SecretStr("dev-only-notifier-link-signing-key"),
        description="HMAC key that signs answer links in e-mails.",
    )
    respondent_key_secret: SecretStr = Field(
        default=SecretStr("dev-only-notifier-respondent-key-secret"),
        description="HMAC key that turns member ids into respondent keys for insights. "
        "Rotating it starts new respondent keys (distinct counts restart).",
    )
    public_base_url: str = Field(
        default="http://127.0.0.1:8080",
        pattern=r"^https?://[^\s/]+(/[^\s]*)?$",
        description="External URL of this service, for links in e-mails.",
    )
    late_answer_grace_days: int = Field(
        default=7, ge=0, le=60, description="Links keep working this long after the window."
    )
    smtp_host: str = Field(default="127.0.0.1", description="SMTP relay host.")
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_security: SmtpSecurity = Field(default=SmtpSecurity.starttls)
    smtp_username: str | None = Field(default=None)
    smtp_password: SecretStr | None = Field(default=None)
    smtp_timeout_s: float = Field(default=30.0, gt=0)
    mail_from: str = Field(
        default="Connection Rituals <rituals@localhost>", description="From header of prompts."
    )
    message_id_domain: str = Field(
        default="rituals.localhost", description="Right-hand side of stable Message-IDs."
    )
    max_send_attempts: int = Field(
        default=8, ge=1, le=50, description="Deliveries of one due event before dead-letter."
    )
    retry_base_delay_s: float = Field(default=30.0, gt=0, description="First retry delay.")
    retry_max_delay_s: float = Field(default=3600.0, gt=0, description="Longest retry delay.")

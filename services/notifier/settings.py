from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import TYPE_CHECKING

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_core import PydanticCustomError
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings

if TYPE_CHECKING:
    from services.notifier.adapters.sms.provider import SmsProviderPackage


class SmtpSecurity(StrEnum):
    none = "none"  # dev sinks only
    starttls = "starttls"
    implicit_tls = "implicit_tls"


class RateLimitScope(StrEnum):
    deployment = "deployment"  # one bucket per provider limit, shared by every replica
    replica = "replica"  # each process its own: N replicas send up to N times the rate


DEFAULT_DISTRESS_WORDS = (
    "suicide",
    "suicidal",
    "kill myself",
    "end my life",
    "end it all",
    "self harm",
    "self-harm",
    "hurt myself",
    "no reason to live",
    "better off dead",
    "want to die",
)


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
        description="HMAC key that signs answer and unsubscribe links in e-mails.",
    )
    link_signing_previous_key: SecretStr | None = Field(
        default=None,
        description="While rotating link_signing_key: the key it replaces. New links are "
        "signed with the current key; links signed with this one keep working until they "
        "expire (answer links: the response window plus late_answer_grace_days; unsubscribe "
        "links: 400 days). Unset it once they have.",
    )
    respondent_key_secret: SecretStr = Field(
        default=SecretStr("dev-only-notifier-respondent-key-secret"),
        description="HMAC key, held by the notifier alone, of the ids of every event that reaches "
        "insights and of the erased-member list. (Respondent keys themselves come from a random "
        "seed per member.) Rotating it changes those ids: rotate between weekly releases.",
    )
    insights_week_close_after_days: int = Field(
        default=9,
        ge=1,
        le=90,
        description="A week's answers go to insights in one batch this many days after the ISO "
        "week ends (Monday 00:00 UTC): longer than the response window plus the late-answer "
        "grace, or late answers are kept here but not counted. Shorter leaks nothing; it "
        "only drops more late answers.",
    )
    retain_deliveries_days: int = Field(
        default=90,
        ge=45,
        le=3650,
        description="Sends (the delivery ledger, provider message ids) and the answers to them "
        "are deleted this long after they were queued. At least 45 days: longer than any "
        "stream or dead letter can bring their event back.",
    )
    retain_inbound_messages_days: int = Field(
        default=30,
        ge=1,
        le=3650,
        description="Inbound SMS (keywords, answers, free text) are deleted this long after "
        "they arrived.",
    )
    erasure_scrub_delay_minutes: int = Field(
        default=10,
        ge=0,
        le=24 * 60,
        description="After an erasure, wait this long (for events still in flight to land) "
        "before deleting the member's messages from the JetStream streams.",
    )
    public_http_port: int = Field(
        default=8081,
        ge=0,
        le=65535,
        description="The listener for members and SMS providers (answer and unsubscribe "
        "pages, webhooks, probes); 0 picks a free port.",
    )
    public_base_url: str = Field(
        default="http://127.0.0.1:8081",
        pattern=r"^https?://[^\s/]+(/[^\s]*)?$",
        description="External URL of the members' and SMS providers' listener "
        "(NOTIFIER_PUBLIC_HTTP_PORT), for links in e-mails and provider callbacks.",
    )
    member_import_max_bytes: int = Field(
        default=4 * 1024 * 1024,
        ge=1024,
        le=64 * 1024 * 1024,
        description="Largest CSV the member import accepts (413 beyond); 10,000 rows of "
        "typical width take about 1.5 MiB.",
    )
    late_answer_grace_days: int = Field(
        default=7, ge=0, le=60, description="Links keep working this long after the window."
    )
    trust_forwarded_headers: bool = Field(
        default=False,
        description="Behind an ingress that overwrites X-Forwarded-*: also accept webhook "
        "signatures for the URL those headers describe.",
    )
    smtp_host: str = Field(default="127.0.0.1", description="SMTP relay host.")
    smtp_port: int = Field(default=25, ge=1, le=65535, description="SMTP relay port.")
    smtp_security: SmtpSecurity = Field(
        default=SmtpSecurity.starttls,
        description="TLS to the relay: STARTTLS, TLS from the first byte, or none (dev sinks).",
    )
    smtp_username: str | None = Field(default=None, description="SMTP AUTH user; unset: no AUTH.")
    smtp_password: SecretStr | None = Field(default=None, description="SMTP AUTH password.")
    smtp_timeout_s: float = Field(
        default=30.0, gt=0, description="Seconds connecting, or one command to the relay, may take."
    )
    smtp_ca_bundle: str | None = Field(
        default=None, description="PEM file of CAs to trust for the relay (a private CA)."
    )
    mail_from: str = Field(
        default="Connection Rituals <rituals@localhost>", description="From header of prompts."
    )
    message_id_domain: str = Field(
        default="rituals.localhost", description="Right-hand side of stable Message-IDs."
    )
    smtp_pool_size: int = Field(
        default=4, ge=1, le=64, description="SMTP connections kept open and reused."
    )
    max_send_attempts: int = Field(
        default=6,
        ge=1,
        le=50,
        description="Attempts per message on transient failures before it is dead-lettered.",
    )
    retry_base_delay_s: float = Field(default=60.0, gt=0, description="First retry delay.")
    retry_max_delay_s: float = Field(default=3600.0, gt=0, description="Longest retry delay.")
    email_rate_per_s: float = Field(
        default=20.0,
        gt=0,
        description="Provider limit: e-mails per second, for the whole deployment (see "
        "NOTIFIER_RATE_LIMIT_SCOPE).",
    )
    email_burst: int = Field(
        default=20, ge=1, description="E-mails that may leave at once after a quiet spell."
    )
    sms_provider: str = Field(
        default="outbox",
        description="Where SMS go: a provider in adapters/sms/registry.py (outbox (dev), "
        "twilio, http_gateway). Its webhooks are /v1/webhooks/sms/<provider>/inbound and "
        "/status under NOTIFIER_PUBLIC_BASE_URL.",
    )
    sms_rate_per_s: float = Field(
        default=1.0,
        gt=0,
        description="Provider limit: SMS segments per second, for the whole deployment (see "
        "NOTIFIER_RATE_LIMIT_SCOPE); 1/s per US long code.",
    )
    sms_burst: int = Field(
        default=5, ge=1, description="SMS segments that may leave at once after a quiet spell."
    )
    rate_limit_scope: RateLimitScope = Field(
        default=RateLimitScope.deployment,
        description="deployment: the e-mail and SMS rates and bursts hold for all replicas "
        "together (a bucket per channel in the notifier's database, table rate_limits; sends "
        "wait while the database is unreachable). replica: each process has its own buckets, "
        "so N replicas send up to N times the rates.",
    )
    rate_limit_reserve_s: float = Field(
        default=0.05,
        gt=0,
        le=1,
        description="With the deployment scope: a replica short of tokens reserves what its "
        "queued messages need, up to this many seconds' worth of the rate, in one short "
        "transaction (so a busy replica makes about 1/this reservations a second, not one per "
        "message); a message may wait up to this much longer than strictly needed.",
    )
    sms_outbox_path: str | None = Field(
        default=None, description="Dev outbox: also append each SMS to this JSON-lines file."
    )
    sms_warn_segments: int = Field(
        default=2, ge=1, le=10, description="Templates longer than this many SMS segments warn."
    )
    sms_max_segments: int = Field(
        default=6, ge=1, le=10, description="Templates longer than this are refused."
    )
    sms_default_region: str = Field(
        default="GB",
        pattern=r"^[A-Z]{2}$",
        description="Region for phone numbers given without +country code.",
    )
    template_workers: int = Field(
        default=2,
        ge=1,
        le=16,
        description="Worker processes that render operators' templates (started on first use; "
        "the packaged defaults render in the service itself).",
    )
    template_worker_memory_mb: int = Field(
        default=256,
        ge=16,
        le=8192,
        description="Memory a template worker may take beyond its own start-up footprint "
        "(RLIMIT_AS); a render needing more fails as a template error.",
    )
    template_render_timeout_s: float = Field(
        default=2.0,
        gt=0,
        le=60,
        description="Longest one render of an operator's template (a prompt, a preview) may "
        "take; its worker is then killed and replaced, and that prompt fails as a template "
        "error.",
    )
    template_validation_timeout_s: float = Field(
        default=10.0,
        gt=0,
        le=300,
        description="Longest a save may spend rendering the template with all its sample "
        "contexts; a template that takes longer is refused (422).",
    )
    template_validation_samples: int = Field(
        default=80,
        ge=1,
        le=80,
        description="Sample contexts a saved template is rendered with at most (every module "
        "week, prompt and reminder, support focus, with and without links: 80 at most).",
    )
    template_overrun_quarantine_s: float = Field(
        default=300.0,
        ge=0,
        description="After a render of an operator's template took too long or too much "
        "memory, that template fails at once, without using a worker, for this long (0: "
        "never), so prompts sharing it do not each hold a worker for the whole deadline.",
    )
    template_max_operations: int = Field(
        default=200_000,
        ge=1_000,
        description="Work one render may do: each filter, call and operator costs 1 plus the "
        "size of what it reads and returns (the packaged prompts use under 1,500).",
    )
    twilio_account_sid: str | None = Field(
        default=None, pattern=r"^AC[0-9a-fA-F]{32}$", description="Twilio account SID."
    )
    twilio_auth_token: SecretStr | None = Field(
        default=None, description="Signs requests to Twilio and verifies its webhooks."
    )
    twilio_from_number: str | None = Field(default=None, description="E.164 sender number.")
    twilio_messaging_service_sid: str | None = Field(
        default=None,
        pattern=r"^MG[0-9a-fA-F]{32}$",
        description="Twilio Messaging Service to send from (instead of a from number).",
    )
    twilio_base_url: str = Field(
        default="https://api.twilio.com", description="Twilio's API (a stand-in's in tests)."
    )
    sms_gateway_url: str | None = Field(default=None, description="Generic HTTP SMS gateway URL.")
    sms_gateway_token: SecretStr | None = Field(
        default=None, description="Bearer token sent to the generic gateway; unset: none."
    )
    sms_gateway_webhook_secret: SecretStr | None = Field(
        default=None,
        description="HMAC-SHA256 key the gateway signs its inbound-message and status "
        "callbacks with. Unset: the gateway's webhooks answer 404 and it is given no callback "
        "URL.",
    )
    default_quiet_hours: str | None = Field(
        default="21:00-08:00",
        pattern=r"^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d$",
        description="Quiet hours (member's local time) for members who set none; empty: none.",
    )
    dispatch_interval_s: float = Field(
        default=1.0, gt=0, le=60, description="How often the send queue is swept."
    )
    dispatch_batch_size: int = Field(
        default=200, ge=1, le=5000, description="Deliveries claimed (and leased) at a time."
    )
    max_in_doubt: int = Field(
        default=64,
        ge=1,
        le=1000,
        description="Hand-overs per process whose outcome is not yet committed, at most: "
        "sends run this many at a time, and a crash repeats at most this many messages "
        "(README: Throughput and duplicates).",
    )
    dispatch_lease_s: float = Field(
        default=120.0, gt=0, description="A claimed send not finished by then is retried."
    )
    distress_words: tuple[str, ...] = Field(
        default=DEFAULT_DISTRESS_WORDS,
        description="Words in a reply that prompt an immediate support message (lowercase).",
    )
    distress_answers: dict[str, list[int]] = Field(
        default_factory=lambda: {"ons_loneliness": [1]},
        description="Answer codes that prompt an immediate support message, by item.",
    )
    support_message: str = Field(
        default=(
            "Thank you for telling us. You don't have to handle this alone. If you are in "
            "danger now, call your local emergency number. You can talk to someone any time: "
            "in the UK call Samaritans on 116 123, in the US call or text 988. Your GP or a "
            "counsellor can help too."
        ),
        min_length=20,
        max_length=600,
        description="Professional-support and crisis resources sent at once on distress.",
    )

    @model_validator(mode="after")
    def _records_outlive_their_release(self) -> NotifierSettings:
        # A week's (and a 4-week period's) answers must still be here when it closes.
        if self.retain_deliveries_days < self.insights_week_close_after_days + 35:
            raise ValueError(
                "NOTIFIER_RETAIN_DELIVERIES_DAYS must be at least "
                "NOTIFIER_INSIGHTS_WEEK_CLOSE_AFTER_DAYS + 35"
            )
        return self

    @field_validator("sms_provider")
    @classmethod
    def _provider_is_registered(cls, value: str) -> str:
        if value not in _sms_providers():
            raise PydanticCustomError(
                "unknown_sms_provider",
                "{variable} names no SMS provider (known: {known})",
                {"variable": cls.env_name("sms_provider"), "known": ", ".join(_sms_providers())},
            )
        return value

    @model_validator(mode="after")
    def _provider_is_configured(self) -> NotifierSettings:
        # Each provider package knows which of its settings it needs.
        problem = _sms_providers()[self.sms_provider].settings_problem(self)
        if problem is not None:
            raise ValueError(problem)
        return self


def _sms_providers() -> Mapping[str, SmsProviderPackage]:
    # Imported on use, not with this module: the registry imports every provider package and
    # they read these settings, so a package importing this module at load would be a cycle.
    from services.notifier.adapters.sms.registry import SMS_PROVIDERS

    return SMS_PROVIDERS

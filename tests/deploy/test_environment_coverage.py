"""Every setting a service needs from its environment is there in both overlays, as the
service itself reads it: each container that runs the image gets its env resolved from the
rendered manifests (ConfigMaps, literal values with $(VAR) expanded, Secret references filled
with stand-ins for values created out of band), and the service's own settings class must
accept it. Also: no unknown variable (a typo would be ignored), secrets only from Secrets,
ports and probes on the listeners the settings name, and the Secrets' keys documented."""

from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass
from typing import Any

import pytest
from pydantic import SecretStr, ValidationError

from services.insights.settings import InsightsSettings
from services.notifier.settings import NotifierSettings
from services.scheduler.settings import SchedulerSettings
from shared.settings import Environment, ServiceSettings, is_placeholder
from tests.deploy.manifests import K8S, OVERLAYS, Container, Doc, containers, documents, named

IMAGE = "ghcr.io/connection-rituals/rituals:"
SETTINGS: dict[str, type[ServiceSettings]] = {
    "scheduler": SchedulerSettings,
    "notifier": NotifierSettings,
    "insights": InsightsSettings,
}
# The listener each port setting opens, by the container port's name.
PORTS = {
    "scheduler": {"http_port": "operators"},
    "notifier": {"http_port": "operators", "public_http_port": "public"},
    "insights": {"http_port": "operators", "analyst_http_port": "analysts"},
}


def stand_in(key: str) -> str:
    """What a site would put under a Secret's key, in the shape the setting demands."""
    if key == "database-url":
        return "postgresql+asyncpg://svc:pw@db:5432/svc"
    if key == "twilio-account-sid":
        return "AC" + secrets.token_hex(16)
    if key == "password":  # CloudNativePG's generated password: letters and digits
        return secrets.token_hex(32)
    return secrets.token_urlsafe(32)


@dataclass
class Resolved:
    values: dict[str, str]
    from_secret: set[str]


def resolve_env(container: Container, docs: list[Doc]) -> Resolved:
    values: dict[str, str] = {}
    from_secret: set[str] = set()
    for source in container.spec.get("envFrom", []):
        config = named(docs, "ConfigMap", source["configMapRef"]["name"])
        values.update(config["data"])
    for entry in container.spec.get("env", []):
        name = entry["name"]
        if "value" in entry:
            used = set(re.findall(r"\$\((\w+)\)", entry["value"]))
            values[name] = re.sub(r"\$\((\w+)\)", lambda m: values[m.group(1)], entry["value"])
            if used & from_secret:  # a URL built around a Secret's password
                from_secret.add(name)
            continue
        reference = entry["valueFrom"].get("secretKeyRef")
        if reference is not None:
            # Optional keys are the provider's or a rotation's: a site that needs them sets
            # them, so they are filled here too (the chosen provider must then be satisfied).
            values[name] = stand_in(reference["key"])
            from_secret.add(name)
    return Resolved(values, from_secret)


def service_containers(overlay: str) -> list[tuple[str, Container, list[Doc]]]:
    docs = documents(overlay)
    found = []
    for container in containers(docs):
        if container.spec["image"].startswith(IMAGE):
            found.append((container.service, container, docs))
    return found


def test_every_service_runs_with_its_migration_job() -> None:
    """And insights' rebuild template; nothing else runs the image."""
    expected = {(f"services.{s}", command) for s in SETTINGS for command in ("serve", "migrate")}
    for overlay in OVERLAYS:
        runs = {
            (c.spec.get("command", [c.spec["args"][0]])[0], c.spec["args"][-1])
            for _, c, _ in service_containers(overlay)
        }
        assert runs == expected | {("rituals", "$(REBUILD_INTO_URL)")}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_settings_classes_accept_the_manifests(
    overlay: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for service, container, docs in service_containers(overlay):
        check_settings(overlay, service, container, docs, monkeypatch)


@pytest.mark.parametrize(
    ("variable", "complaint"),
    [
        ("NOTIFIER_RESPONDENT_KEY_SECRET", "NOTIFIER_RESPONDENT_KEY_SECRET not provided"),
        ("NOTIFIER_TWILIO_AUTH_TOKEN", "NOTIFIER_TWILIO_ACCOUNT_SID and _AUTH_TOKEN are required"),
    ],
)
def test_a_missing_setting_is_caught(
    variable: str, complaint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The prod notifier without a required secret, or without its SMS provider's token."""
    ((_, container, docs),) = (
        (s, c, d)
        for s, c, d in service_containers("prod")
        if c.where.startswith("Deployment/notifier")
    )
    container.spec["env"] = [e for e in container.spec["env"] if e["name"] != variable]
    with pytest.raises((AssertionError, ValidationError), match=re.escape(complaint)):
        check_settings("prod", "notifier", container, docs, monkeypatch)


def test_a_secret_in_a_config_map_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    ((_, container, docs),) = (
        (s, c, d)
        for s, c, d in service_containers("prod")
        if c.where.startswith("Deployment/scheduler")
    )
    container.spec["env"] = [
        e for e in container.spec["env"] if e["name"] != "SCHEDULER_OPERATOR_TOKEN"
    ]
    config = named(docs, "ConfigMap", container.spec["envFrom"][0]["configMapRef"]["name"])
    config["data"]["SCHEDULER_OPERATOR_TOKEN"] = secrets.token_hex(32)
    with pytest.raises(AssertionError, match="SCHEDULER_OPERATOR_TOKEN not from a Secret"):
        check_settings("prod", "scheduler", container, docs, monkeypatch)


def check_settings(
    overlay: str,
    service: str,
    container: Container,
    docs: list[Doc],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The service's settings class, given the container's environment, is satisfied."""
    settings_type = SETTINGS[service]
    prefix = settings_type.model_config.get("env_prefix", "")
    env = resolve_env(container, docs)
    known = {settings_type.env_name(field) for field in settings_type.model_fields}
    unknown = {n for n in env.values if n.startswith(prefix)} - known
    assert not unknown, f"{container.where}: no such setting: {sorted(unknown)}"

    for field, info in settings_type.model_fields.items():
        name = settings_type.env_name(field)
        default = info.default
        needed = (
            info.is_required()
            or field == "database_url"  # the default is SQLite, refused in prod
            or (isinstance(default, SecretStr) and is_placeholder(default.get_secret_value()))
        )
        assert not needed or name in env.values, f"{container.where}: {name} not provided"
        secret = info.annotation in (SecretStr, SecretStr | None) or field == "database_url"
        if secret and name in env.values:
            assert name in env.from_secret, f"{container.where}: {name} not from a Secret"

    for name in [n for n in os.environ if n.startswith(prefix)]:
        monkeypatch.delenv(name)
    for name, value in env.values.items():
        monkeypatch.setenv(name, value)
    settings = settings_type()  # raises, naming every bad variable, if they do not fit

    expected = Environment.prod if overlay == "prod" else Environment.dev
    assert settings.environment is expected, container.where
    assert settings.stream_replicas == (3 if overlay == "prod" else 1), container.where
    assert settings.database_url.startswith("postgresql+asyncpg://"), container.where
    assert settings.migrate_on_start is False, f"{container.where}: the Job migrates"
    assert settings.nats_url == "nats://nats:4222", container.where
    if not container.is_job:
        check_ports(service, settings, container)


def check_ports(service: str, settings: ServiceSettings, container: Container) -> None:
    ports = {p["name"]: p["containerPort"] for p in container.spec["ports"]}
    for field, port_name in PORTS[service].items():
        assert getattr(settings, field) == ports[port_name], f"{container.where}: {field}"
    assert set(ports) == set(PORTS[service].values()), container.where
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert container.spec[probe]["httpGet"]["port"] in ports, f"{container.where}: {probe}"


def test_every_secret_key_is_documented_in_the_runbook() -> None:
    runbook = (K8S.parent / "README.md").read_text()
    for overlay in OVERLAYS:
        for _service, container, _docs in service_containers(overlay):
            for entry in container.spec.get("env", []):
                reference: Any = entry.get("valueFrom", {}).get("secretKeyRef")
                if reference is not None:
                    assert f"`{reference['name']}`" in runbook, reference["name"]
                    assert f"`{reference['key']}`" in runbook, reference["key"]

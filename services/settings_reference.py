"""The environment-variable reference (docs/configuration.md), generated from the settings
classes so that it cannot drift from them: ``rituals config reference > docs/configuration.md``.

Secrets (``SecretStr`` fields) are listed without their values, not even the dev placeholders.
A test compares the checked-in file with this output.
"""

from __future__ import annotations

import json
import types
from collections.abc import Iterable
from enum import Enum
from typing import Any, Union, get_args, get_origin

import annotated_types
from pydantic import SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from services.insights.settings import InsightsSettings
from services.notifier.settings import NotifierSettings
from services.scheduler.settings import SchedulerSettings
from shared.settings import ServiceSettings

SERVICES: tuple[tuple[str, type[ServiceSettings]], ...] = (
    ("scheduler", SchedulerSettings),
    ("notifier", NotifierSettings),
    ("insights", InsightsSettings),
)
REGENERATE = ".venv/bin/rituals config reference > docs/configuration.md"

_HEADER = f"""\
# Configuration: environment variables

<!-- Generated from the settings classes; do not edit. Regenerate with:
     {REGENERATE} -->

Each service reads its own prefix: `SCHEDULER_`, `NOTIFIER_`, `INSIGHTS_`. A service whose
settings are wrong prints one line per bad variable (never its value) and exits with status 78.
Secrets are listed without values: their defaults are placeholders that only
`*_ENVIRONMENT=dev` accepts. Lists and maps are given as JSON.
"""

_FOOTER = """\
## Read outside the settings classes

| Variable | What |
|---|---|
| `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, `OTEL_EXPORTER_OTLP_ENDPOINT` | Where spans are exported (OTLP over HTTP); unset: none are recorded. The other `OTEL_*` variables of the OpenTelemetry SDK apply. |
| `RITUALS_NATS_URL` | `rituals deadletters`: the NATS servers (else `NOTIFIER_NATS_URL`, else `nats://127.0.0.1:4222`). |
"""  # noqa: E501 (a Markdown table row is one line)


def render_reference() -> str:
    """The whole Markdown document."""
    sections = [_HEADER]
    shared = ServiceSettings.model_fields
    sections.append(
        _section(
            "Every service",
            "Set per service: `SCHEDULER_NATS_URL`, `NOTIFIER_NATS_URL`, `INSIGHTS_NATS_URL`…",
            "*_",
            shared.items(),
        )
    )
    for service, settings in SERVICES:
        prefix = str(settings.model_config.get("env_prefix", ""))
        own = [
            (name, info)
            for name, info in settings.model_fields.items()
            if name not in shared or _differs(info, shared[name])
        ]
        doc = (settings.__doc__ or "").strip().splitlines()[0].replace("``", "`")
        sections.append(_section(f"{service.capitalize()} (`{prefix}`)", doc, prefix, own))
    sections.append(_FOOTER)
    return "\n".join(sections)


def _differs(info: FieldInfo, shared: FieldInfo) -> bool:
    """A shared field a service redeclares (its own default or description)."""
    return (info.default, info.description) != (shared.default, shared.description)


def _section(title: str, intro: str, prefix: str, fields: Iterable[tuple[str, FieldInfo]]) -> str:
    rows = [
        f"## {title}",
        "",
        intro,
        "",
        "| Variable | Type | Default | Description |",
        "|---|---|---|---|",
    ]
    for name, info in fields:
        variable = f"`{prefix}{name.upper()}`"
        description = info.description or ""
        rows.append(
            f"| {variable} | {_cell(_type(info))} | {_cell(_default(info))} | "
            f"{_cell(description)} |"
        )
    return "\n".join(rows) + "\n"


def _cell(text: str) -> str:
    """One Markdown table cell: no line break, no bare pipe."""
    return " ".join(text.split()).replace("|", "\\|")


def _is_secret(annotation: Any) -> bool:
    return annotation is SecretStr or SecretStr in get_args(annotation)


def _type(info: FieldInfo) -> str:
    text = _type_name(info.annotation)
    limits = _limits(info)
    return f"{text} ({limits})" if limits else text


def _type_name(annotation: Any) -> str:
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        members = [arg for arg in get_args(annotation) if arg is not type(None)]
        optional = len(members) < len(get_args(annotation))
        text = " or ".join(_type_name(member) for member in members)
        return f"{text}, optional" if optional else text
    if origin is tuple or origin is list:
        return f"JSON list of {_type_name(get_args(annotation)[0])}"
    if origin is dict:
        key, value = get_args(annotation)
        return f"JSON map of {_type_name(key)} to {_type_name(value)}"
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return " / ".join(f"`{member.value}`" for member in annotation)
    if annotation is SecretStr:
        return "secret"
    return getattr(annotation, "__name__", str(annotation))


def _limits(info: FieldInfo) -> str:
    """The field's bounds and pattern, as written in the class."""
    found = []
    for item in info.metadata:
        if isinstance(item, annotated_types.Ge):
            found.append(f"≥ {item.ge}")
        if isinstance(item, annotated_types.Gt):
            found.append(f"> {item.gt}")
        if isinstance(item, annotated_types.Le):
            found.append(f"≤ {item.le}")
        if isinstance(item, annotated_types.Lt):
            found.append(f"< {item.lt}")
        if isinstance(item, annotated_types.MinLen):
            found.append(f"≥ {item.min_length} characters")
        if isinstance(item, annotated_types.MaxLen):
            found.append(f"≤ {item.max_length} characters")
        pattern = getattr(item, "pattern", None)
        if isinstance(pattern, str):
            found.append(f"matches `{pattern}`")
    return ", ".join(found)


def _default(info: FieldInfo) -> str:
    if _is_secret(info.annotation) and info.default is not None:
        return "*secret: no value shown*"
    if info.default_factory is not None:
        value: Any = info.default_factory()  # type: ignore[call-arg]
    elif info.default is PydanticUndefined:
        return "*required*"
    else:
        value = info.default
    if value is None:
        return "*unset*"
    if isinstance(value, Enum):
        return f"`{value.value}`"
    if isinstance(value, tuple | list | dict):
        return f"`{json.dumps(value, ensure_ascii=False)}`"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    return f"`{value}`"

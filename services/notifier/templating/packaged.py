"""The default templates shipped in the package: ``templates/defaults/<key>/<locale>/``.

An e-mail is ``subject.txt`` + ``body.txt`` (+ ``body.html``); an SMS is ``sms.txt``. Files are
read once, on first use, and never written: operators' changes live in the database
(``store``) and take precedence locale by locale.
"""

from __future__ import annotations

import re
from pathlib import Path

from services.notifier.templating.sources import TemplateSource

PACKAGED_TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates" / "defaults"

KEY_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,63}")
_LOCALE_DIR = re.compile(r"[a-z]{2,3}(-[A-Za-z0-9]{2,8})*")


class PackagedTemplates:
    def __init__(self, directory: Path = PACKAGED_TEMPLATE_DIR) -> None:
        self._directory = directory
        self._templates: dict[tuple[str, str, str], TemplateSource] | None = None

    def _all(self) -> dict[tuple[str, str, str], TemplateSource]:
        if self._templates is None:
            self._templates = _load(self._directory)
        return self._templates

    def get(self, key: str, locale: str, channel: str) -> TemplateSource | None:
        """Exactly this locale; fallback is the caller's (see ``renderer``)."""
        return self._all().get((key, locale, channel))

    def template_keys(self) -> tuple[str, ...]:
        return tuple(sorted({key for key, _, _ in self._all()}))

    def locales(self, key: str) -> tuple[str, ...]:
        return tuple(sorted({locale for k, locale, _ in self._all() if k == key}))

    def channels(self, key: str) -> tuple[str, ...]:
        return tuple(sorted({channel for k, _, channel in self._all() if k == key}))

    def entries(self) -> tuple[tuple[str, str, str], ...]:
        """Every (key, locale, channel) shipped."""
        return tuple(sorted(self._all()))


def _read(path: Path) -> str | None:
    return path.read_text(encoding="utf-8") if path.is_file() else None


def _load(directory: Path) -> dict[tuple[str, str, str], TemplateSource]:
    templates: dict[tuple[str, str, str], TemplateSource] = {}
    if not directory.is_dir():
        return templates
    for key_dir in sorted(directory.iterdir()):
        if not (key_dir.is_dir() and KEY_PATTERN.fullmatch(key_dir.name)):
            continue
        for locale_dir in sorted(key_dir.iterdir()):
            if not (locale_dir.is_dir() and _LOCALE_DIR.fullmatch(locale_dir.name)):
                continue
            where = (key_dir.name, locale_dir.name)
            subject, body = _read(locale_dir / "subject.txt"), _read(locale_dir / "body.txt")
            if subject is not None and body is not None:
                templates[(*where, "email")] = TemplateSource(
                    subject=subject, text_body=body, html_body=_read(locale_dir / "body.html")
                )
            sms = _read(locale_dir / "sms.txt")
            if sms is not None:
                templates[(*where, "sms")] = TemplateSource(None, sms, None)
    return templates

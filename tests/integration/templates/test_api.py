"""The operators' template API over HTTP (httpx.ASGITransport), on the test database."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any, get_args

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.notifier.api import templates
from services.notifier.templating import PromptRenderer, RenderPool, SqlStoredTemplates
from services.notifier.templating.context import SUPPORT_FOCUSES
from shared.clock import ManualClock

pytestmark = pytest.mark.database

T0 = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
async def client(
    sessions: async_sessionmaker[AsyncSession], clock: ManualClock, render_pool: RenderPool
) -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    store = SqlStoredTemplates(sessions)
    app.state.template_store = store
    app.state.templates = PromptRenderer(store, pool=render_pool)
    app.state.clock = clock
    app.include_router(templates.router)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://notifier") as http:
        yield http


SMS = "/v1/templates/gratitude/es/sms"
GOOD_SMS = {"text_body": "Dale las gracias a alguien, así de fácil. Responde STOP para salir."}


async def test_reading_a_template_not_stored_gives_the_default_flagged(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/v1/templates/check_in/es-MX/email")
    assert response.status_code == 200
    body = response.json()
    assert body["source"] == "default"
    assert (body["locale"], body["resolved_locale"]) == ("es-MX", "es")
    assert body["version"] is None
    assert body["subject"].startswith("Tu check-in semanal")
    assert body["html_body"].startswith("<!doctype html>")


async def test_save_read_list_and_delete(client: httpx.AsyncClient, clock: ManualClock) -> None:
    assert (await client.get("/v1/templates")).json() == []

    saved = await client.put(SMS, json=GOOD_SMS)
    assert saved.status_code == 200
    assert saved.json() == {
        "key": "gratitude",
        "locale": "es",
        "channel": "sms",
        "version": 1,
        "updated_at": "2027-01-04T09:00:00Z",
        "warnings": ["UCS-2 encoding (70 characters a segment instead of 160) because of 'í', 'á'"],
    }
    clock.advance(timedelta(minutes=5))
    again = await client.put(SMS, json={"text_body": "Gracias. STOP"})
    assert again.status_code == 200
    assert (again.json()["version"], again.json()["warnings"]) == (2, [])

    current = (await client.get(SMS)).json()
    assert (current["source"], current["version"], current["text_body"]) == (
        "stored",
        2,
        "Gracias. STOP",
    )
    assert current["updated_at"] == "2027-01-04T09:05:00Z"
    listed = (await client.get("/v1/templates")).json()
    assert listed == [
        {
            "key": "gratitude",
            "locale": "es",
            "channel": "sms",
            "version": 2,
            "updated_at": "2027-01-04T09:05:00Z",
        }
    ]

    assert (await client.delete(SMS)).status_code == 204
    assert (await client.get(SMS)).json()["source"] == "default"
    assert (await client.delete(SMS)).status_code == 404
    assert (await client.get("/v1/templates")).json() == []


@pytest.mark.parametrize(
    ("path", "body", "reason"),
    [
        (SMS, {"text_body": "{{ ''.__class__.__mro__ }}"}, "'__mro__' is not allowed"),
        (SMS, {"text_body": "{{ range(10**9)|list }}"}, "the \\*\\* operator is not allowed"),
        (SMS, {"text_body": "{{ nobody.name }}"}, "'nobody' is undefined"),
        (SMS, {"text_body": "z" * 1200}, "segments \\(GSM-7\\) with sample data, more than"),
        (SMS, {"text_body": "Hi", "subject": "Hi"}, "no subject or HTML body"),
        (
            "/v1/templates/gratitude/en/email",
            {"subject": "Hi", "text_body": "x", "html_body": "{{ unsubscribe_url|safe }}"},
            "'safe' filter",
        ),
        ("/v1/templates/gratitude/en/email", {"text_body": "x"}, "needs a subject"),
        # Built to make the notifier work without end (each used to be saved).
        pytest.param(
            SMS,
            {
                "text_body": "{% set a = ['x' * 50] * 100 %}{% set b = [a] * 100 %}"
                "{% set c = [b] * 100 %}{{ c|length }}"
            },
            "builds a value longer than 10000 \\(text and list items, nested ones included\\)",
            id="nested-list-bomb",
        ),
        pytest.param(
            SMS,
            {"text_body": "{{ ([[1] * 10] * 10)|sum(start=[])|length }}"},
            "sum\\(\\) adds numbers only",
            id="sum-start-list",
        ),
        pytest.param(
            SMS,
            {
                "text_body": "{% set s = 'word ' * 1800 %}{% for i in range(100) %}"
                "{% for j in range(5) %}{{ s|wordcount }}{% endfor %}{% endfor %}"
            },
            "does too much work",
            id="long-loop-within-the-iteration-budget",
        ),
        # Nested deeper than Jinja's parser can recurse (each used to be a 500).
        pytest.param(
            SMS,
            {"text_body": "{{ " + "(" * 3000 + "x" + ")" * 3000 + " }}"},
            "the template nests too deeply \\(brackets more than 30 levels deep\\)",
            id="deeply-nested-brackets",
        ),
        pytest.param(
            SMS,
            {"text_body": "{{ " + "[" * 3000 + "1" + "]" * 3000 + " }}"},
            "the template nests too deeply",
            id="deeply-nested-lists",
        ),
        pytest.param(
            SMS,
            {"text_body": "{{ " + "not " * 3000 + "x }}"},
            "the template nests too deeply",
            id="not-not-not",
        ),
    ],
)
async def test_a_refused_template_is_a_422_with_the_reason_and_nothing_is_stored(
    client: httpx.AsyncClient, path: str, body: dict[str, Any], reason: str
) -> None:
    response = await client.put(path, json=body)
    assert response.status_code == 422
    assert re.search(reason, response.json()["detail"]), response.json()["detail"]
    assert (await client.get("/v1/templates")).json() == []


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/v1/templates/nope/en/sms", 404),
        ("GET", "/v1/templates/check_in/en/fax", 422),
        ("GET", "/v1/templates/check_in/xx/sms", 422),
        ("GET", "/v1/templates/Check-In/en/sms", 422),
        ("PUT", "/v1/templates/check_in/qq/sms", 422),
        ("DELETE", "/v1/templates/check_in/en/sms", 404),
    ],
)
async def test_unknown_keys_locales_and_channels(
    client: httpx.AsyncClient, method: str, path: str, status: int
) -> None:
    response = await client.request(method, path, json=GOOD_SMS if method == "PUT" else None)
    assert response.status_code == status


async def test_locales_are_saved_in_one_spelling(client: httpx.AsyncClient) -> None:
    saved = await client.put("/v1/templates/gratitude/es_mx/sms", json=GOOD_SMS)
    assert saved.json()["locale"] == "es-MX"
    found = (await client.get("/v1/templates/gratitude/es-MX/sms")).json()
    assert (found["source"], found["resolved_locale"]) == ("stored", "es-MX")


async def test_preview_an_sms_in_force(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/templates/check_in/es/sms/preview", json={"module": 2, "nudge_number": 0}
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["source"], body["resolved_locale"]) == ("default", "es")
    assert (body["segments"], body["encoding"]) == (3, "GSM-7")
    assert body["warnings"] == [
        "3 segments (GSM-7): more than 2 cost extra and may arrive out of order"
    ]
    # The anchor by text, as written; the week's questions on the linked form.
    assert "¿Con qué frecuencia te sientes solo o sola?" in body["text"]
    assert "Otras preguntas de la semana: https://" in body["text"]
    assert "¿Cuántas personas tienes tan cerca" not in body["text"]


async def test_preview_a_reminder_and_a_support_focus(client: httpx.AsyncClient) -> None:
    body = (
        await client.post(
            "/v1/templates/reach_out/en/sms/preview",
            json={"nudge_number": 1, "support_focus": "belonging"},
        )
    ).json()
    assert body["text"] == (
        "Gentle reminder: This week's connection ritual: invite someone to something you're "
        "part of, or join a local group yourself.\nReply STOP to stop."
    )


async def test_preview_a_draft_email_without_saving(client: httpx.AsyncClient) -> None:
    draft = {
        "subject": "Hola {{ kind }}",
        "text_body": "{{ respond_by|format_datetime(\"EEEE, d 'de' MMMM\") }}",
        "html_body": "<p>{{ questions|length }} &lt;</p>",
        "ritual_kind": "gratitude",
    }
    response = await client.post("/v1/templates/gratitude/es/email/preview", json=draft)
    assert response.status_code == 200
    body = response.json()
    assert body["source"] == "draft"
    assert body["subject"] == "Hola gratitude"
    assert body["text"].startswith("miércoles, 29 de septiembre")
    assert body["html"].startswith("<p>0 &lt;</p>")
    assert (await client.get("/v1/templates")).json() == []


async def test_preview_of_a_bad_draft_or_missing_template(client: httpx.AsyncClient) -> None:
    bad = await client.post(
        "/v1/templates/gratitude/en/sms/preview", json={"text_body": "{{ x.__globals__ }}"}
    )
    assert bad.status_code == 422
    assert "'__globals__' is not allowed" in bad.json()["detail"]
    missing = await client.post("/v1/templates/sms_help/en/email/preview", json={})
    assert missing.status_code == 404
    long_draft = await client.post(
        "/v1/templates/gratitude/en/sms/preview", json={"text_body": "y" * 1200}
    )
    assert long_draft.status_code == 200
    assert long_draft.json()["warnings"][-1] == (
        "more than the maximum 6 segments: it would be refused"
    )


def test_the_api_accepts_the_same_support_focuses_as_the_renderer() -> None:
    assert set(get_args(templates.SupportFocus)) == set(SUPPORT_FOCUSES)

"""Trace context: from a caller's ``traceparent`` over HTTP, through the outbox, onto the NATS
message and into the consuming handler; never onto what crosses to insights. No collector:
spans are kept in memory, and nothing leaves the process."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import aiohttp
import httpx
from fastapi import FastAPI
from faststream.nats import NatsBroker, TestNatsBroker
from faststream.nats.annotations import NatsMessage
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from services.demo.scenario import Person, answer, set_up_weekly_check_in
from services.demo.system import LocalSystem
from shared.runtime import build_broker
from shared.tracing import broker_middleware, instrument_app
from tests.support import NatsTap, eventually

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"
ANA = Person("Ana", "ana@riverside.example", "Europe/London", shares_answers=True)


def recording_provider() -> tuple[TracerProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


def trace_id_of(traceparent: str | None) -> str | None:
    return traceparent.split("-")[1] if traceparent else None


async def test_a_published_message_is_handled_in_the_publishers_trace() -> None:
    provider, exporter = recording_provider()
    broker: NatsBroker = build_broker("nats://127.0.0.1:1", (broker_middleware(provider),))
    seen: list[tuple[int, str | None]] = []

    @broker.subscriber("obs.test")
    async def handle(body: str, message: NatsMessage) -> None:
        headers = message.headers
        seen.append(
            (trace.get_current_span().get_span_context().trace_id, headers.get("traceparent"))
        )

    tracer = provider.get_tracer("test")
    async with TestNatsBroker(broker) as test_broker:
        with tracer.start_as_current_span("an operator's request") as span:
            await test_broker.publish("hello", "obs.test")
            sent_in = span.get_span_context().trace_id
    assert len(seen) == 1
    handled_in, traceparent = seen[0]
    assert handled_in == sent_in
    assert trace_id_of(traceparent) == format(sent_in, "032x")
    names = {s.name for s in exporter.get_finished_spans()}
    assert {"obs.test publish", "obs.test process"} <= names


async def test_http_requests_continue_the_callers_trace_and_name_no_path() -> None:
    provider, exporter = recording_provider()
    app = FastAPI()
    seen: list[int] = []

    @app.get("/v1/members/{member_id}")
    async def member(member_id: str) -> dict[str, str]:
        seen.append(trace.get_current_span().get_span_context().trace_id)
        return {"id": member_id}

    instrument_app(app, provider)
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 4711))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.get(
            "/v1/members/m_secretish?token=abc", headers={"traceparent": TRACEPARENT}
        )
        assert response.status_code == 200
    assert [format(t, "032x") for t in seen] == [TRACE_ID]
    (span,) = exporter.get_finished_spans()
    assert span.name == "GET /v1/members/{member_id}"
    recorded = json.dumps({k: str(v) for k, v in (span.attributes or {}).items()})
    assert "m_secretish" not in recorded
    assert "abc" not in recorded
    assert "203.0.113.7" not in recorded


async def test_trace_context_crosses_the_outbox_but_not_the_anonymity_line(
    system: LocalSystem, nats_tap: NatsTap
) -> None:
    # The operator's request that creates the community is traced by its caller.
    async with aiohttp.ClientSession(
        headers={
            "Authorization": f"Bearer {system.tokens['scheduler']}",
            "traceparent": TRACEPARENT,
        }
    ) as http:
        body = {"id": "obs", "name": "Obs", "timezone": "Europe/London", "region_code": "E1"}
        async with http.post(f"{system.url('scheduler')}/v1/communities", json=body) as response:
            assert response.status == 201, await response.text()
    (changed,) = await eventually(lambda: nats_tap.on("communities.changed.v1"))
    assert trace_id_of(changed.headers.get("traceparent")) == TRACE_ID

    # A member answers through a link, in a trace of their own client's: the PromptAnswered
    # continues it; the anonymised fact that leaves when the week closes does not.
    await set_up_weekly_check_in(system, (ANA,))
    await system.advance_to(datetime(2027, 1, 4, 9, 0, tzinfo=UTC))
    (mail,) = await system.smtp.wait_for(1)
    answered_trace = "0af7651916cd43dd8448eb211c80319c"
    async with aiohttp.ClientSession(
        headers={"traceparent": f"00-{answered_trace}-b7ad6b7169203331-01"}
    ) as browser:
        assert "Thank you" in await answer(browser, mail, 2)
    (answered,) = await eventually(lambda: nats_tap.on("prompts.answered.v1"))
    assert trace_id_of(answered.headers.get("traceparent")) == answered_trace
    await system.close_week("2027-W01")
    facts = await eventually(lambda: nats_tap.on("responses.received.v2"))
    identified = {
        trace_id_of(m.headers.get("traceparent"))
        for m in nats_tap.messages
        if m.subject.startswith(("prompts.", "rituals.")) and not m.is_jetstream_delivery
    }
    assert answered_trace in identified
    # The facts carry no trace context at all (the outbox staged none for them, and its relay
    # adds none), so none can be shared with an identified event.
    for fact in facts:
        assert "traceparent" not in fact.headers
        assert "tracestate" not in fact.headers
